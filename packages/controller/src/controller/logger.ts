import { type Logger, silentLogger } from '@entropy/protocol';
import { pino } from 'pino';

export { type Logger, silentLogger };

/** pino JSON lines on stderr, so that stdout stays for a command's output. */
export function createLogger(level = 'info', name = 'entropy-controller'): Logger {
  return pino({ level, name }, pino.destination(2));
}
