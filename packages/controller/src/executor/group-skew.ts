/** One action of a group, as its agent measured it (ActionResult's `startedAt`, `endedAt`: epoch ms). */
export interface TimedAction {
  readonly node?: string;
  readonly startedAt?: number;
  readonly endedAt?: number;
}

/**
 * How far apart a group's actions ran (a vjob's pauses, or its unpauses). Each VM's pause takes
 * effect somewhere between its call's start and end, so the vjob is half paused for at most
 * `windowMs`; `startSpreadMs` is how unevenly the calls reached the hypervisors, `endSpreadMs` how
 * unevenly they came back.
 */
export interface GroupSkew {
  /** Actions in the group, and how many carried both timestamps (the others are left out). */
  readonly count: number;
  readonly measured: number;
  readonly nodes: number;
  readonly startSpreadMs: number;
  readonly endSpreadMs: number;
  /** From the first start to the last end. */
  readonly windowMs: number;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** The skew of one group, or undefined when no action of it carries the agent's timestamps. */
export function groupSkew(actions: readonly TimedAction[]): GroupSkew | undefined {
  const timed = actions.filter(
    (a): a is TimedAction & { startedAt: number; endedAt: number } =>
      a.startedAt !== undefined && a.endedAt !== undefined,
  );
  if (timed.length === 0) return undefined;
  const starts = timed.map((a) => a.startedAt);
  const ends = timed.map((a) => a.endedAt);
  return {
    count: actions.length,
    measured: timed.length,
    nodes: new Set(timed.map((a) => a.node)).size,
    startSpreadMs: round(Math.max(...starts) - Math.min(...starts)),
    endSpreadMs: round(Math.max(...ends) - Math.min(...ends)),
    windowMs: round(Math.max(...ends) - Math.min(...starts)),
  };
}

/** A vjob's pause or unpause group and its skew. */
export interface VjobGroupSkew extends GroupSkew {
  readonly vjob: string;
  readonly type: 'pause' | 'unpause';
}

/** The skew of every vjob's pause group and unpause group among some completed actions, in order of appearance. */
export function pauseGroupSkews(
  actions: readonly (TimedAction & { readonly type: string; readonly vjob: string })[],
): VjobGroupSkew[] {
  const groups = new Map<string, { vjob: string; type: 'pause' | 'unpause'; actions: TimedAction[] }>();
  for (const a of actions) {
    if (a.type !== 'pause' && a.type !== 'unpause') continue;
    const key = `${a.type} ${a.vjob}`;
    const g = groups.get(key) ?? { vjob: a.vjob, type: a.type, actions: [] };
    g.actions.push(a);
    groups.set(key, g);
  }
  return [...groups.values()].flatMap((g) => {
    const skew = groupSkew(g.actions);
    return skew ? [{ vjob: g.vjob, type: g.type, ...skew }] : [];
  });
}

/** `pause j1: 3 VMs on 2 nodes, starts within 1.2 ms, ends within 35.4 ms (half paused at most 40.1 ms)`. */
export function formatGroupSkew(g: VjobGroupSkew): string {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const partial = g.measured < g.count ? ` (${g.measured} of ${g.count} timed)` : '';
  return `${g.type} ${g.vjob}: ${g.count} VMs on ${g.nodes} node${g.nodes === 1 ? '' : 's'}${partial}, starts within ${ms(g.startSpreadMs)}, ends within ${ms(g.endSpreadMs)} (${g.type === 'pause' ? 'half paused' : 'half running'} at most ${ms(g.windowMs)})`;
}
