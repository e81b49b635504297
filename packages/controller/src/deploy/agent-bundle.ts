import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { EntropyError, ErrorCode } from '../errors.ts';

const run = promisify(execFile);

/** The workspace this controller runs from: the agent bundle and the unit files come from it. */
export const WORKSPACE_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface AgentBundle {
  /** A .tar.gz whose root is the agent package, with its production node_modules. */
  readonly file: string;
  /** Removes the temporary directory (nothing when the bundle was given). */
  dispose(): Promise<void>;
}

/**
 * Packs `@entropy/agent` with `pnpm deploy`: the package, `@entropy/protocol` and the production
 * dependencies, resolved from the local store, so the nodes need no registry. The dependencies are those
 * of this machine's platform (tsx's esbuild binary): build it on the nodes' OS and architecture.
 */
export async function buildAgentBundle(workspace = WORKSPACE_ROOT): Promise<AgentBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'entropy-agent-bundle-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  const target = join(dir, 'agent');
  const deploy = (offline: boolean) =>
    run('pnpm', ['--filter', '@entropy/agent', 'deploy', '--prod', '--legacy', ...(offline ? ['--offline'] : []), target], { cwd: workspace, maxBuffer: 16 << 20 });
  try {
    try {
      await deploy(true);
    } catch {
      await rm(target, { recursive: true, force: true });
      await deploy(false); // the local store lacks a package: let pnpm fetch it
    }
    const file = join(dir, 'entropy-agent.tgz');
    await run('tar', ['-czf', file, '-C', target, '.'], { maxBuffer: 16 << 20 });
    return { file, dispose };
  } catch (cause) {
    await dispose();
    const e = cause as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? 'pnpm not found (bash scripts/setup.sh installs it)' : (e.stderr || e.message).trim().split('\n').slice(-3).join(' ');
    throw new EntropyError(ErrorCode.Io, `cannot build the agent bundle: ${why}`, { cause });
  }
}
