export { startController, newPlanId, DEFAULT_LOOP_INTERVAL_MS, type Controller, type ControllerOptions, type DecideFn } from './controller.ts';
export { createLogger, silentLogger, type Logger } from './logger.ts';
