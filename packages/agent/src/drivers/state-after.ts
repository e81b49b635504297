import type { ActionType, WireVMState } from '@entropy/protocol';

/** The state a successful action leaves its VM in (migrate: running, on the destination). */
export const STATE_AFTER: Readonly<Record<ActionType, WireVMState>> = {
  run: 'running',
  stop: 'terminated',
  suspend: 'sleeping',
  resume: 'paused',
  migrate: 'running',
  pause: 'paused',
  unpause: 'running',
};
