import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/**
 * The folder of BtrPlace's published workload instances: `shared/btrplace` beside the repository
 * (CI checks the repository out next to `shared/`). Undefined when it is absent.
 */
export function sharedInstancesDir(): string | undefined {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  const dir = join(repoRoot, '..', 'shared', 'btrplace');
  return existsSync(dir) ? dir : undefined;
}

/** The shared instance files (`*.json.gz`), sorted; empty when the folder is absent. */
export function sharedInstances(): string[] {
  const dir = sharedInstancesDir();
  if (!dir) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json.gz') || f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f));
}

/** A shared instance's JSON (gunzipped when it ends in .gz). */
export function readSharedInstance(file: string): unknown {
  const bytes = readFileSync(file);
  return JSON.parse((file.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8'));
}
