import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { workspacePath } from '../packages/controller/src/workspace.ts';

const run = promisify(execFile);
const DEPCRUISE = workspacePath('node_modules', '.bin', 'depcruise');
const CONFIG = workspacePath('.dependency-cruiser.cjs');
const rules = (createRequire(import.meta.url)(CONFIG) as { forbidden: { name: string }[] }).forbidden.map(
  (r) => r.name,
);

interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: { readonly name: string };
}

/** depcruise over `packages` in `cwd` with the repository's rules: the violations it reports. */
async function violations(cwd: string): Promise<Violation[]> {
  const args = ['packages', '--config', CONFIG, '--output-type', 'json'];
  // depcruise exits with the number of errors: a run with violations "fails" with its report on stdout.
  const out = await run(DEPCRUISE, args, { cwd, maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string }) => ({
    stdout: err.stdout ?? '',
  }));
  return (JSON.parse(out.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** The workspace packages a package's sources import (tests excluded), from depcruise's own module graph. */
async function workspaceImports(): Promise<Map<string, Set<string>>> {
  const out = await run(DEPCRUISE, ['packages', '--config', CONFIG, '--output-type', 'json'], {
    cwd: workspacePath(),
    maxBuffer: 64 * 1024 * 1024,
  });
  const graph = JSON.parse(out.stdout) as {
    modules: { source: string; dependencies: { module: string; resolved: string }[] }[];
  };
  const imports = new Map<string, Set<string>>();
  for (const m of graph.modules) {
    const from = /^packages\/([^/]+)\//.exec(m.source)?.[1];
    if (!from) continue;
    for (const d of m.dependencies) {
      // By name (@entropy/engine), or by a relative path into another package (the bench reaches into sources).
      const to = /^@entropy\/([^/]+)/.exec(d.module)?.[1] ?? /^packages\/([^/]+)\//.exec(d.resolved)?.[1];
      if (to && to !== from) (imports.get(from) ?? imports.set(from, new Set()).get(from)!).add(`@entropy/${to}`);
    }
  }
  return imports;
}

describe('the dependency rules (.dependency-cruiser.cjs, pnpm check:deps)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-architecture-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('hold on the repository', async () => {
    expect(await violations(workspacePath())).toEqual([]);
  });

  it("each package's package.json declares exactly the workspace packages its sources import", async () => {
    const imports = await workspaceImports();
    for (const pkg of ['protocol', 'engine', 'nats-client', 'controller', 'agent', 'test-support', 'bench']) {
      const json = JSON.parse(readFileSync(workspacePath('packages', pkg, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
      };
      const declared = Object.keys(json.dependencies ?? {})
        .filter((d) => d.startsWith('@entropy/'))
        .sort();
      expect(declared, pkg).toEqual([...(imports.get(pkg) ?? [])].sort());
    }
  });

  it('fail on each kind of forbidden import, in a tree laid out like the repository', async () => {
    // The repository's node_modules (vitest, fast-check resolve through it) and tsconfig, probe sources of our own.
    symlinkSync(workspacePath('node_modules'), join(dir, 'node_modules'));
    cpSync(workspacePath('tsconfig.json'), join(dir, 'tsconfig.json'));
    const probes: Record<string, string> = {
      'engine/src/reads-files.ts': "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;",
      'engine/src/uses-a-test-library.ts': "import fc from 'fast-check';\nexport const g = fc;",
      'engine/src/uses-the-controller.ts': "import { d } from '../../controller/src/daemon.ts';\nexport const e = d;",
      'engine/src/solver/inside.ts': 'export const inside = 1;',
      'engine/src/index.ts': "export { inside } from './solver/inside.ts';",
      'controller/src/daemon.ts': 'export const d = 1;',
      'controller/src/reaches-into-the-engine.ts':
        "import { inside } from '../../engine/src/solver/inside.ts';\nexport const h = inside;",
      'controller/src/uses-the-index.ts':
        "import { inside } from '../../engine/src/index.ts';\nexport const ok = inside;",
      'controller/src/uses-the-agent.ts': "import { a } from '../../agent/src/runner.ts';\nexport const i = a;",
      'controller/src/loads-vitest.ts': "import { expect } from 'vitest';\nexport const j = expect;",
      'controller/src/loads-a-test-helper.ts':
        "import { fixture } from '../../test-support/src/fixture.ts';\nexport const k = fixture;",
      'controller/src/typo.ts': "import { nothing } from './no-such-file.ts';\nexport const l = nothing;",
      'controller/src/x/first.ts': "import { second } from '../y/second.ts';\nexport const first = second;",
      'controller/src/x/third.ts': 'export const third = 3;',
      'controller/src/y/second.ts': "import { third } from '../x/third.ts';\nexport const second = third;",
      'controller/src/ping.ts': "import { pong } from './pong.ts';\nexport const ping = () => pong;",
      'controller/src/pong.ts': "import { ping } from './ping.ts';\nexport const pong = () => ping;",
      'agent/src/runner.ts': 'export const a = 1;',
      'agent/src/uses-the-controller.ts': "import { d } from '../../controller/src/daemon.ts';\nexport const m = d;",
      'protocol/src/uses-the-engine.ts':
        "import { inside } from '../../engine/src/index.ts';\nexport const n = inside;",
      'test-support/src/fixture.ts': 'export const fixture = 1;',
      'controller/package.json': JSON.stringify({ name: 'probe-controller', devDependencies: { vitest: '*' } }),
    };
    for (const [path, text] of Object.entries(probes)) {
      const file = join(dir, 'packages', path);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, `${text}\n`);
    }
    const found = await violations(dir);
    const seen = (rule: string, from: string) =>
      found.some((v) => v.rule.name === rule && v.from === `packages/${from}`);
    expect(seen('engine-no-io', 'engine/src/reads-files.ts')).toBe(true);
    expect(seen('engine-no-io-packages', 'engine/src/uses-a-test-library.ts')).toBe(true);
    expect(seen('engine-only-protocol', 'engine/src/uses-the-controller.ts')).toBe(true);
    expect(seen('engine-through-its-index', 'controller/src/reaches-into-the-engine.ts')).toBe(true);
    expect(seen('controller-not-agent', 'controller/src/uses-the-agent.ts')).toBe(true);
    expect(seen('agent-not-controller', 'agent/src/uses-the-controller.ts')).toBe(true);
    expect(seen('no-test-code-in-production', 'controller/src/loads-vitest.ts')).toBe(true);
    expect(seen('no-test-code-in-production', 'controller/src/loads-a-test-helper.ts')).toBe(true);
    expect(seen('protocol-is-a-leaf', 'protocol/src/uses-the-engine.ts')).toBe(true);
    expect(seen('not-to-unresolvable', 'controller/src/typo.ts')).toBe(true);
    expect(seen('no-undeclared-dependency', 'engine/src/uses-a-test-library.ts')).toBe(true);
    expect(seen('no-dev-dependency-in-production', 'controller/src/loads-vitest.ts')).toBe(true);
    expect(found.some((v) => v.rule.name === 'no-module-cycles' && v.from.endsWith('ping.ts'))).toBe(true);
    expect(found.some((v) => v.rule.name === 'no-folder-cycles' && v.from === 'packages/controller/src/x')).toBe(true);
    // Every rule of the file is shown failing, and the allowed imports are not reported.
    expect(new Set(found.map((v) => v.rule.name))).toEqual(new Set(rules));
    expect(found.filter((v) => v.from === 'packages/controller/src/uses-the-index.ts')).toEqual([]);
  });
});
