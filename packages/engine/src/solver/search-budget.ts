/** Why a search stopped. */
export const StopReason = {
  /** It explored everything it meant to: its result does not depend on the machine. */
  Finished: 'finished',
  /** It spent its work budget (nodes explored): the same on every machine. */
  WorkBudget: 'work-budget',
  /** The wall clock ran out first: a faster machine may have found more. */
  TimeLimit: 'time-limit',
} as const;
export type StopReason = (typeof StopReason)[keyof typeof StopReason];

/** The clock is read once per this many units of work: reading it costs more than a unit. */
const CLOCK_STRIDE = 1024;

/**
 * What a search may spend, counted in units of work (search nodes, VMs visited) so that its result
 * is the same on every machine; the wall-clock deadline only stops it early, and then says so.
 */
export class SearchBudget {
  private spent = 0;
  private nextClock = CLOCK_STRIDE;
  private stop: StopReason | undefined;

  constructor(
    private readonly work: number,
    private readonly deadline: number = Infinity,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Spends `units`; false once the work budget or the deadline is exhausted (and from then on). */
  spend(units = 1): boolean {
    if (this.stop !== undefined) return false;
    this.spent += units;
    if (this.spent > this.work) {
      this.stop = StopReason.WorkBudget;
      return false;
    }
    if (this.spent >= this.nextClock) {
      this.nextClock = this.spent + CLOCK_STRIDE;
      if (this.now() > this.deadline) {
        this.stop = StopReason.TimeLimit;
        return false;
      }
    }
    return true;
  }

  /** True once the deadline has passed (reads the clock). */
  expired(): boolean {
    if (this.stop === StopReason.TimeLimit) return true;
    if (this.now() > this.deadline) {
      this.stop = StopReason.TimeLimit;
      return true;
    }
    return false;
  }

  get used(): number {
    return Math.min(this.spent, this.work);
  }

  get reason(): StopReason {
    return this.stop ?? StopReason.Finished;
  }

  get exhausted(): boolean {
    return this.stop !== undefined;
  }
}

/**
 * A cheap deadline test for loops: true once the wall clock passed `deadline`, read once per
 * `stride` calls. The engine's phases that run before a first plan exists call it, so that a time
 * limit bounds the whole solve.
 */
export function clockCheck(deadline: number, now: () => number = () => performance.now(), stride = 256): () => boolean {
  let calls = 0;
  let expired = false;
  return () => {
    if (expired) return true;
    if (++calls % stride !== 0) return false;
    expired = now() > deadline;
    return expired;
  };
}
