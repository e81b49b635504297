import type { ActionType, WireVMState } from '@entropy/protocol';

/**
 * The state a successful action leaves its VM in. For migrate the driver says (a migrated VM keeps
 * its state); `running` is what is assumed of a driver that cannot tell.
 */
export const STATE_AFTER: Readonly<Record<ActionType, WireVMState>> = {
  run: 'running',
  stop: 'terminated',
  suspend: 'sleeping',
  resume: 'paused',
  migrate: 'running',
  pause: 'paused',
  unpause: 'running',
};
