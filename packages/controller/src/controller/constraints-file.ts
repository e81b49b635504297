import { unwatchFile, watchFile } from 'node:fs';
import { ErrorCode, InvalidInputError, type Logger } from '@entropy/protocol';
import { type ConstraintJson, constraintsSchema, inputIssues } from '@entropy/engine';
import * as z from 'zod';
import { readJsonFile } from '../command-io/io.ts';

/**
 * The cluster's constraints file of `entropy controller --constraints FILE`:
 * `{ "constraints": [ { "type": "spread", "vjob": "web" }, ... ] }`, the engine's constraint JSON.
 * Its ids are not checked here: each turn resolves them against the cluster as it is then, and
 * skips a constraint whose VMs or vjobs are not (or no longer) there.
 */
const constraintsFileSchema = z.strictObject(
  { constraints: constraintsSchema },
  { error: 'must be an object {"constraints": [...]}' },
);

/** Reads and checks the file; throws InvalidInputError (ENTROPY_INVALID_CONSTRAINTS) naming the first problem's JSON path. */
export function readConstraintsFile(file: string): readonly ConstraintJson[] {
  const json = readJsonFile(file, ErrorCode.InvalidConstraints);
  const shaped = constraintsFileSchema.safeParse(json);
  if (shaped.success) return shaped.data.constraints;
  // One line: the first problem, and how many more there are.
  const [first, ...rest] = inputIssues(shaped.error);
  const more = rest.length > 0 ? ` (and ${rest.length} more problem${rest.length > 1 ? 's' : ''})` : '';
  throw new InvalidInputError(ErrorCode.InvalidConstraints, file, [
    { path: first!.path, reason: first!.reason + more },
  ]);
}

export interface ConstraintsFile {
  /** The constraints of the last good read. */
  current(): readonly ConstraintJson[];
  /** Reads the file again; a bad file keeps the previous constraints and logs why. True when they changed. */
  reload(why: string): boolean;
  close(): void;
}

/**
 * The file, read once now (a bad file throws: the controller does not start), then again on SIGHUP
 * and whenever its modification time or size changes (polled: an editor's rename is seen too). A bad
 * reload keeps the previous constraints and logs a pino error naming the path and the reason.
 */
export function watchConstraintsFile(
  file: string,
  logger: Logger,
  changed: () => void,
  options: { readonly pollMs?: number } = {},
): ConstraintsFile {
  let constraints = readConstraintsFile(file);
  let text = JSON.stringify(constraints);
  logger.info({ file, constraints: constraints.length }, 'cluster constraints loaded');
  const reload = (why: string): boolean => {
    let next: readonly ConstraintJson[];
    try {
      next = readConstraintsFile(file);
    } catch (err) {
      logger.error(
        { file, trigger: why, code: (err as { code?: string }).code, err: (err as Error).message },
        'constraints file not reloaded: the previous constraints stay',
      );
      return false;
    }
    const nextText = JSON.stringify(next);
    if (nextText === text) return false;
    constraints = next;
    text = nextText;
    logger.info({ file, trigger: why, constraints: next.length }, 'cluster constraints reloaded');
    changed();
    return true;
  };
  const onHup = () => void reload('SIGHUP');
  process.on('SIGHUP', onHup);
  watchFile(file, { interval: options.pollMs ?? 1000 }, (now, before) => {
    if (now.mtimeMs !== before.mtimeMs || now.size !== before.size || now.ino !== before.ino) reload('file-changed');
  });
  return {
    current: () => constraints,
    reload,
    close() {
      process.off('SIGHUP', onHup);
      unwatchFile(file);
    },
  };
}
