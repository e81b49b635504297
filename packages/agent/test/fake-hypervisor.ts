import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

/**
 * A fake `xl` and a fake `virsh`, one node script behind two names, in a temp dir meant to go first
 * on PATH. They record each call's arguments, keep domains in `state.json` and fail the subcommands
 * listed in the `fail` file with exit status 1.
 */
const SCRIPT = String.raw`#!/usr/bin/env node
const fs = require('node:fs');
const path = require('node:path');
const dir = path.dirname(process.argv[1]);
const tool = path.basename(process.argv[1]);
let args = process.argv.slice(2);
fs.appendFileSync(path.join(dir, 'calls.log'), JSON.stringify([tool, ...args]) + '\n');
const statePath = path.join(dir, 'state.json');
const st = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, 'utf8')) : {};
const save = () => fs.writeFileSync(statePath, JSON.stringify(st));
const die = (msg) => { process.stderr.write(msg + '\n'); process.exit(1); };
if (tool === 'virsh' && args[0] === '-c') args = args.slice(2);
const [cmd, ...rest] = args;
const failing = fs.existsSync(path.join(dir, 'fail')) ? fs.readFileSync(path.join(dir, 'fail'), 'utf8').split(/\s+/) : [];
if (failing.includes(cmd)) die(tool + ': ' + cmd + ' failed (injected)');
const slow = fs.existsSync(path.join(dir, 'slow')) ? JSON.parse(fs.readFileSync(path.join(dir, 'slow'), 'utf8')) : {};
if (slow[cmd]) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slow[cmd]);
const need = (d) => { if (!st[d]) die('domain ' + d + ' does not exist'); return st[d]; };
const plain = rest.filter((a) => !a.startsWith('-'));
const base = (f, ext) => path.basename(f, ext);
switch (tool + ' ' + cmd) {
  case 'xl list':
    console.log('Name                                        ID   Mem VCPUs\tState\tTime(s)');
    console.log('Domain-0                                     0  1024     2     r-----      12.0');
    Object.entries(st).forEach(([n, d], i) => console.log(n.padEnd(44) + String(i + 1).padStart(3) + String(d.mem).padStart(6) + '     1     ' + (d.state === 'p' ? '--p---' : '-b----') + '      ' + d.cpu));
    break;
  case 'virsh list':
    console.log(' Id   Name   State\n------------------------');
    Object.entries(st).forEach(([n, d], i) => console.log(' ' + (i + 1) + '    ' + n + '   ' + (d.state === 'p' ? 'paused' : 'running')));
    console.log('');
    break;
  case 'virsh domstats':
    for (const [n, d] of Object.entries(st)) console.log("Domain: '" + n + "'\n  cpu.time=" + d.cpu * 1e9 + '\n  balloon.current=' + d.mem * 1024 + '\n');
    break;
  case 'xl create': case 'virsh create': st[base(plain[0], tool === 'xl' ? '.cfg' : '.xml')] = { state: rest.includes('-p') ? 'p' : 'r', mem: 512, cpu: 1.5 }; save(); break;
  case 'virsh start': if (st[plain[0]]) die('already active'); st[plain[0]] = { state: 'r', mem: 512, cpu: 1.5 }; save(); break;
  case 'xl pause': case 'virsh suspend': need(plain[0]).state = 'p'; save(); break;
  case 'xl unpause': case 'virsh resume': need(plain[0]).state = 'r'; save(); break;
  case 'xl save': case 'virsh save': need(plain[0]); fs.writeFileSync(plain[1], JSON.stringify(st[plain[0]])); delete st[plain[0]]; save(); break;
  case 'xl restore': case 'virsh restore': {
    const img = plain[plain.length - 1];
    if (!fs.existsSync(img)) die('cannot open ' + img);
    st[base(img, '.save')] = { ...JSON.parse(fs.readFileSync(img, 'utf8')), state: rest.includes('-p') || rest.includes('--paused') ? 'p' : 'r' };
    save(); break;
  }
  case 'xl migrate': case 'virsh migrate': need(plain[0]); delete st[plain[0]]; save(); break;
  case 'xl shutdown': case 'xl destroy': case 'virsh destroy': need(plain[0]); delete st[plain[0]]; save(); break;
  default: die('fake ' + tool + ': unknown command ' + cmd);
}
`;

export interface FakeHypervisor {
  readonly dir: string;
  /** Environment with the fakes first on PATH. */
  readonly env: NodeJS.ProcessEnv;
  calls(): Promise<string[][]>;
  state(): Promise<Record<string, { state: string; mem: number; cpu: number }>>;
  setState(domains: Record<string, { state: 'r' | 'p'; mem: number; cpu: number }>): Promise<void>;
  /** Subcommands that fail from now on (exit status 1). */
  failOn(...commands: string[]): Promise<void>;
  /** Subcommands that take this long from now on (ms). */
  slowDown(commands: Record<string, number>): Promise<void>;
  remove(): Promise<void>;
}

export async function fakeHypervisor(): Promise<FakeHypervisor> {
  const dir = await mkdtemp(join(tmpdir(), 'entropy-fake-hv-'));
  for (const tool of ['xl', 'virsh']) {
    await writeFile(join(dir, tool), SCRIPT);
    await chmod(join(dir, tool), 0o755);
  }
  return {
    dir,
    env: { ...process.env, PATH: `${dir}:${process.env.PATH ?? ''}` },
    calls: async () =>
      (await readFile(join(dir, 'calls.log'), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
    state: async () => JSON.parse(await readFile(join(dir, 'state.json'), 'utf8').catch(() => '{}')),
    setState: (domains) => writeFile(join(dir, 'state.json'), JSON.stringify(domains)),
    failOn: (...commands) => writeFile(join(dir, 'fail'), commands.join(' ')),
    slowDown: (commands) => writeFile(join(dir, 'slow'), JSON.stringify(commands)),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** For each test of the calling suite, a fresh fake hypervisor and an empty image directory, both removed after it. */
export function fakeHypervisorPerTest(): { readonly fake: FakeHypervisor; readonly images: string } {
  const current: { fake?: FakeHypervisor; images?: string } = {};
  beforeEach(async () => {
    current.fake = await fakeHypervisor();
    current.images = await mkdtemp(join(tmpdir(), 'entropy-images-'));
  });
  afterEach(async () => {
    await current.fake?.remove();
    if (current.images) await rm(current.images, { recursive: true, force: true });
  });
  return {
    get fake() {
      if (!current.fake) throw new Error('fakeHypervisorPerTest: used outside a test');
      return current.fake;
    },
    get images() {
      if (!current.images) throw new Error('fakeHypervisorPerTest: used outside a test');
      return current.images;
    },
  };
}
