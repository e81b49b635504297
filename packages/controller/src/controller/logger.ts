import { pino } from 'pino';

/** The logging the controller's parts need; a pino logger fits, and so does a test double. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** pino JSON lines on stderr, so that stdout stays for a command's output. */
export function createLogger(level = 'info', name = 'entropy-controller'): Logger {
  return pino({ level, name }, pino.destination(2));
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
