import { resourcesSchema } from '@entropy/protocol';
import * as z from 'zod';
import { DriverConfigError } from './driver.ts';
import { RereadFile } from './reread-file.ts';

/** `--sim-usage`: the measured use the sim driver reports per VM id, instead of its demand. */
const usageSchema = z.record(z.string(), resourcesSchema);
export type SimUsage = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** Parses a usage file's text (`{"v1": {"cpu": 1.5}}`); throws DriverConfigError naming the file and the JSON path. */
export function parseSimUsage(text: string, file: string): SimUsage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DriverConfigError(file, `not JSON: ${(err as Error).message}`);
  }
  const r = usageSchema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new DriverConfigError(`${file}: $${issue.path.map((p) => `.${String(p)}`).join('')}`, issue.message);
}

/**
 * Measured use a test makes up: the file maps VM ids to the use to report (`cpu`, `mem`), and is
 * re-read when it changes, so that use can fluctuate while the agent runs. VMs it does not name
 * report their demand.
 */
export function simUsage(file: string): RereadFile<SimUsage> {
  return new RereadFile(file, parseSimUsage, {});
}
