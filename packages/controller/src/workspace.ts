import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The workspace this code runs from: the nearest directory above this module with a pnpm-workspace.yaml.
 * Found by walking up because the module runs both from its source (src/) and from the bundle (dist/),
 * at different depths. The examples, the agent's files and the unit files are read from there.
 */
function findWorkspaceRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${start}: Entropy runs from its workspace`);
  }
}

export const WORKSPACE_ROOT = findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the workspace, from its root. */
export function workspacePath(...parts: string[]): string {
  return join(WORKSPACE_ROOT, ...parts);
}
