import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EntropyError, ErrorCode } from '@entropy/protocol';
import { WORKSPACE_ROOT } from '../workspace.ts';

const run = promisify(execFile);

/** The compiled agent's files (scripts/build.mjs), each self-contained: no node_modules beside them. */
export const AGENT_BUNDLE_FILES = ['entropy-agent.js', 'entropy-watch.js'] as const;

export interface AgentBundle {
  /** A .tar.gz whose root holds bin/entropy-agent.js, bin/entropy-watch.js and a package.json. */
  readonly file: string;
  /** Removes the temporary directory (nothing when the bundle was given). */
  dispose(): Promise<void>;
}

/**
 * Packs the compiled agent: two JavaScript files that carry their dependencies (NATS client, msgpackr, pino,
 * commander, zod) inside them, and a package.json that makes Node read them as ES modules. Nothing native,
 * nothing to install: a node needs only Node 20.
 */
export async function buildAgentBundle(workspace = WORKSPACE_ROOT): Promise<AgentBundle> {
  const dist = join(workspace, 'packages/agent/dist');
  const dir = await mkdtemp(join(tmpdir(), 'entropy-agent-bundle-'));
  const dispose = () => rm(dir, { recursive: true, force: true });
  const target = join(dir, 'agent');
  try {
    await mkdir(join(target, 'bin'), { recursive: true });
    for (const name of AGENT_BUNDLE_FILES) {
      await copyFile(join(dist, name), join(target, 'bin', name)).catch((cause: NodeJS.ErrnoException) => {
        if (cause.code !== 'ENOENT') throw cause;
        throw new EntropyError(
          ErrorCode.Io,
          `${join(dist, name)} is not built: run pnpm build (or bash scripts/setup.sh)`,
          { cause },
        );
      });
    }
    const source = JSON.parse(await readFile(join(workspace, 'packages/agent/package.json'), 'utf8')) as {
      name: string;
      version: string;
      description?: string;
    };
    const pkg = {
      name: source.name,
      version: source.version,
      description: source.description,
      private: true,
      type: 'module',
      bin: { 'entropy-agent': 'bin/entropy-agent.js', 'entropy-watch': 'bin/entropy-watch.js' },
    };
    await writeFile(join(target, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    const file = join(dir, 'entropy-agent.tgz');
    await run('tar', ['-czf', file, '-C', target, '.'], { maxBuffer: 16 << 20 });
    return { file, dispose };
  } catch (cause) {
    await dispose();
    if (cause instanceof EntropyError) throw cause;
    const e = cause as NodeJS.ErrnoException & { stderr?: string };
    const why = (e.stderr || e.message).trim().split('\n').slice(-3).join(' ');
    throw new EntropyError(ErrorCode.Io, `cannot build the agent bundle: ${why}`, { cause });
  }
}
