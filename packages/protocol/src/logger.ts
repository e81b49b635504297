/**
 * The logging every package's parts need, written once: a pino logger fits it, and so does a test
 * double. Where the lines go (pino JSON on stderr) is each process's choice.
 */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
