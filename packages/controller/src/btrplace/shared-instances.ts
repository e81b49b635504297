import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of BtrPlace's published workload instances: `shared/btrplace` beside the repository
 * (CI checks the repository out next to `shared/`). Undefined when it is absent.
 */
export function sharedInstancesDir(): string | undefined {
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  const dir = join(repoRoot, '..', 'shared', 'btrplace');
  return existsSync(dir) ? dir : undefined;
}

/** The shared instance files (`*.json.gz`), sorted; empty when the folder is absent. */
export function sharedInstances(): string[] {
  const dir = sharedInstancesDir();
  if (!dir) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json.gz') || f.endsWith('.json')).sort().map((f) => join(dir, f));
}
