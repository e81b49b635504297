export {
  startController,
  newPlanId,
  DEFAULT_LOOP_INTERVAL_MS,
  type Controller,
  type ControllerOptions,
  type DecideFn,
} from './controller.ts';
export { createLogger, silentLogger, type Logger } from './logger.ts';
export {
  DEFAULT_LEASE_MS,
  leaderBucketOf,
  LeaseError,
  LeaseErrorCode,
  startLeaderLease,
  type LeaderLease,
  type LeaderLeaseOptions,
  type LeaseHolder,
  type LeaseState,
} from './leader-lease.ts';
