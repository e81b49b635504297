import { EntropyError, ErrorCode } from '@entropy/protocol';
/**
 * How long the executor waits for an action: `factor * estimate + floorMs`, at most `ceilingMs`.
 * The agent is told the same figure (`timeoutMs`) and kills a hypervisor command that runs longer;
 * the executor waits `graceMs` more for that agent's reply before it declares the action timed out.
 */
export interface ActionTimeouts {
  readonly factor: number;
  readonly floorMs: number;
  readonly ceilingMs: number;
  readonly graceMs: number;
  /** Pause between two attempts after a transient transport error. */
  readonly retryDelayMs: number;
}

export const DEFAULT_TIMEOUT_FACTOR = 3;
export const DEFAULT_TIMEOUT_FLOOR_MS = 5000;
export const DEFAULT_TIMEOUT_CEILING_MS = 30 * 60 * 1000;
export const DEFAULT_TIMEOUT_GRACE_MS = 1000;
export const DEFAULT_RETRY_DELAY_MS = 200;

export function defaultTimeouts(): ActionTimeouts {
  return {
    factor: DEFAULT_TIMEOUT_FACTOR,
    floorMs: DEFAULT_TIMEOUT_FLOOR_MS,
    ceilingMs: DEFAULT_TIMEOUT_CEILING_MS,
    graceMs: DEFAULT_TIMEOUT_GRACE_MS,
    retryDelayMs: DEFAULT_RETRY_DELAY_MS,
  };
}

export class InvalidTimeoutsError extends EntropyError {
  override name = 'InvalidTimeoutsError';
  constructor(
    readonly field: keyof ActionTimeouts,
    message: string,
  ) {
    super(ErrorCode.InvalidTimeouts, `timeouts.${field}: ${message}`, { context: { field } });
  }
}

/** Fills the defaults and checks every field; throws InvalidTimeoutsError naming the field. */
export function parseTimeouts(partial: Partial<ActionTimeouts> = {}): ActionTimeouts {
  const t = { ...defaultTimeouts(), ...partial };
  for (const field of Object.keys(t) as (keyof ActionTimeouts)[]) {
    const v = t[field];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new InvalidTimeoutsError(field, `must be a non-negative number, got ${String(v)}`);
  }
  if (t.ceilingMs <= 0) throw new InvalidTimeoutsError('ceilingMs', 'must be positive');
  return t;
}

/** The timeout the agent gets for an action estimated at `estimatedMs`. */
export function actionTimeoutMs(t: ActionTimeouts, estimatedMs: number): number {
  return Math.max(1, Math.min(t.ceilingMs, Math.round(t.factor * estimatedMs + t.floorMs)));
}
