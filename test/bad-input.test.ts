import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decode,
  decodeControl,
  encode,
  encodeControl,
  encodeTyped,
  MAX_MESSAGE_BYTES,
  subjects,
} from '../packages/protocol/src/index.ts';
import { connectNats, type NatsConnection } from '../packages/controller/src/controller/nats-connect.ts';
import { parseInstance } from '@entropy/engine';
import { startSimCluster, type SimCluster } from './executor-cluster.ts';
import { controllerStatus } from './helpers/controller-status.ts';
import { type ControllerProcess, ENTROPY, startControllerProcess, stopProcess } from './helpers/entropy-process.ts';
import { type NatsServer, startNatsServer } from './helpers/nats-server.ts';
import { waitFor } from './helpers/wait-for.ts';

/**
 * Malformed files and messages, each against the compiled CLI or a real controller and real agents on
 * a real nats-server (and entropy-watch): exit 1 with one error line (or an error reply), no stack trace, no crash (the
 * controller and the agents still answer afterwards), bounded memory. packages/controller/test/cli-errors.test.ts
 * has the first cases of entropy plan (invalid JSON, a missing file, a negative or string quantity, an unknown
 * host): they are not repeated here.
 */

const prefix = 'bi';
const s = subjects(prefix);
const EXAMPLE = new URL('../examples/small.json', import.meta.url).pathname;
const WATCH_BIN = new URL('../packages/agent/bin/entropy-watch.js', import.meta.url).pathname;
/** A CLI run that reads past this much memory reads without bound (node itself takes about 60 MiB). */
const CLI_PEAK_KIB = 200 * 1024;

/** The peak resident memory of a process so far, in KiB (VmHWM), or 0 once it is gone. */
function peakKiB(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** `entropy ARGS` to its end (killed after 60 s), with its peak memory sampled while it runs. */
function entropy(
  args: readonly string[],
  cwd: string,
): Promise<{ status: number | null; stdout: string; stderr: string; peakKiB: number }> {
  const child = spawn(process.execPath, [ENTROPY, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let peak = 0;
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const sampler = setInterval(() => (peak = Math.max(peak, peakKiB(child.pid!))), 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('exit', (status) => {
      clearInterval(sampler);
      clearTimeout(killer);
      resolve({ status, stdout, stderr, peakKiB: peak });
    }),
  );
}

/**
 * One error line: no stack trace, no second line, no control character. The CLI's own checks print
 * `error: ...` on stderr; a controller's refusal (`cancel refused (ENTROPY_...): ...`) is the command's output.
 */
function expectOneErrorLine(output: string, pattern: RegExp): void {
  expect(output).toMatch(/^(error: |\w+ refused \(ENTROPY_[A-Z_]+\): )[^\n]+\n$/);
  expect(output).toMatch(pattern);
  expect(output).not.toMatch(/\s+at \S+ \(|[\u0000-\u0009\u000b-\u001f]/);
}

const node = (id: string, over: object = {}) => ({ id, cpu: 4, mem: 8192, ...over });
const vm = (id: string, over: object = {}) => ({
  id,
  vjob: 'j1',
  cpu: 1,
  mem: 512,
  state: 'running',
  host: 'n1',
  ...over,
});
const instance = (over: object) =>
  JSON.stringify({
    nodes: [node('n1')],
    vms: [vm('v1')],
    vjobs: [{ id: 'j1' }],
    decision: { j1: 'sleeping' },
    ...over,
  });

/** Files and the commands that read them: [what, file name, content (undefined: made by hand), command with FILE, expected line]. */
const FILE_CASES: readonly [string, string, string | Buffer | undefined, readonly string[], RegExp][] = [
  ['an empty file', 'empty.json', '', ['plan', 'FILE'], /empty\.json: not valid JSON/],
  ['JSON null', 'null.json', 'null', ['plan', 'FILE'], /null\.json: \$: .*expected object, received null/],
  ['a JSON array', 'array.json', '[1,2]', ['plan', 'FILE'], /\$: .*expected object, received array/],
  [
    'nodes of the wrong type',
    'nodes-string.json',
    instance({ nodes: 'n1' }),
    ['plan', 'FILE'],
    /\$\.nodes: must be an array of nodes/,
  ],
  [
    'NaN (not JSON)',
    'nan.json',
    instance({}).replace('"cpu":4', '"cpu":NaN'),
    ['plan', 'FILE'],
    /nan\.json: not valid JSON/,
  ],
  [
    '1e999 (Infinity once parsed)',
    'infinity.json',
    instance({}).replace('"mem":8192', '"mem":1e999'),
    ['plan', 'FILE'],
    /\$\.nodes\[0\]\.mem: must be a number/,
  ],
  [
    'a huge number',
    'huge.json',
    instance({ nodes: [node('n1', { mem: 1e300 })] }),
    ['plan', 'FILE'],
    /\$\.nodes\[0\]\.mem: must be at most 2\^50/,
  ],
  [
    'duplicate node ids',
    'dup-nodes.json',
    instance({ nodes: [node('n1'), node('n1')] }),
    ['plan', 'FILE'],
    /\$\.nodes\[1\]\.id: duplicate node id 'n1'/,
  ],
  [
    'duplicate VM ids',
    'dup-vms.json',
    instance({ vms: [vm('v1'), vm('v1')] }),
    ['plan', 'FILE'],
    /\$\.vms\[1\]\.id: duplicate VM id 'v1'/,
  ],
  [
    'a VM id with shell code',
    'shell-id.json',
    instance({ vms: [vm("x'; rm -rf / #")] }),
    ['plan', 'FILE'],
    /\$\.vms\[0\]\.id: "x'; rm -rf \/ #" must match/,
  ],
  [
    'an unknown state in the decision',
    'bad-decision.json',
    instance({ decision: { j1: 'dancing' } }),
    ['plan', 'FILE'],
    /\$\.decision\.j1: .*dancing/,
  ],
  [
    'nesting 200,000 deep',
    'deep.json',
    `${'['.repeat(200_000)}${']'.repeat(200_000)}`,
    ['plan', 'FILE'],
    /deep\.json: \$: .*received array/,
  ],
  [
    'binary garbage',
    'random.bin',
    Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)),
    ['plan', 'FILE'],
    /random\.bin: not valid JSON/,
  ],
  [
    'a .gz that is not gzip',
    'fake.json.gz',
    Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not gzip at all')]),
    ['plan', 'FILE'],
    /fake\.json\.gz: not valid gzip/,
  ],
  [
    'a gzip bomb past the size limit',
    'bomb.json.gz',
    gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20)),
    ['--max-input-size', '1MiB', 'plan', 'FILE'],
    /bomb\.json\.gz: more than 1048576 bytes once gunzipped, too large/,
  ],
  [
    'a file past the size limit',
    'big.json',
    instance({}) + ' '.repeat(4096),
    ['--max-input-size', '2KiB', 'plan', 'FILE'],
    /big\.json: \d+ bytes, too large: the limit is 2048 bytes/,
  ],
  ['/dev/zero', '/dev/zero', undefined, ['plan', 'FILE'], /\/dev\/zero: a character device, not a regular file/],
  ['a directory', 'a-directory', undefined, ['plan', 'FILE'], /a-directory: a directory, not a regular file/],
  ['a FIFO without a writer', 'a-fifo', undefined, ['plan', 'FILE'], /a-fifo: a FIFO, not a regular file/],
  [
    'a BtrPlace instance that is not one',
    'not-btrplace.json',
    instance({}),
    ['plan', 'FILE', '--format', 'btrplace'],
    /\$\.model: is missing/,
  ],
  [
    'a plan file with actions of the wrong type',
    'bad-plan.json',
    JSON.stringify({ feasible: true, actions: 'x', steps: 1, makespan: 0, sumCompletion: 0, solveMs: 0 }),
    ['verify', EXAMPLE, 'FILE'],
    /bad-plan\.json: \$\.actions: must be an array of actions/,
  ],
  [
    'a plan file that is /dev/zero',
    '/dev/zero',
    undefined,
    ['gantt', 'FILE', '--out', 'gantt.svg'],
    /\/dev\/zero: a character device/,
  ],
  [
    'a cost model of the wrong types',
    'bad-cost.json',
    JSON.stringify({ run: { base: 'slow' } }),
    ['plan', EXAMPLE, '--cost-model', 'FILE'],
    /bad-cost\.json: \$\.run\.base: must be a number/,
  ],
  [
    'a cost model with an unknown kind',
    'kind-cost.json',
    JSON.stringify({ teleport: { base: 1 } }),
    ['plan', EXAMPLE, '--cost-model', 'FILE'],
    /kind-cost\.json: \$\.teleport: /,
  ],
  [
    'a results file with a bad line',
    'bad.jsonl',
    '{"kind":"migrate","mem":1024,"durationMs":1180}\n{bad\n',
    ['calibrate', '--results', 'FILE', '--out', 'cost.json'],
    /bad\.jsonl:2: not valid JSON/,
  ],
  [
    'a scenario of the wrong shape',
    'bad-scenario.json',
    JSON.stringify({
      ...(JSON.parse(readFileSync(new URL('../examples/scenarios/tiny.json', import.meta.url), 'utf8')) as object),
      nodes: 'x',
    }),
    ['experiment', 'FILE'],
    /bad-scenario\.json: \$\.nodes: must be an array of node groups/,
  ],
  [
    'a vjob file with duplicate VM ids',
    'dup-vjob.json',
    JSON.stringify({
      id: 'j9',
      priority: 0,
      vms: [
        { id: 'a', cpu: 1, mem: 1 },
        { id: 'a', cpu: 1, mem: 1 },
      ],
    }),
    ['submit', 'FILE', '--nats', 'URL', '--prefix', prefix],
    /dup-vjob\.json: \$\.vms\[1\]\.id: duplicate VM id 'a'/,
  ],
  [
    'a vjob file with a huge demand',
    'huge-vjob.json',
    JSON.stringify({ id: 'j9', priority: 0, vms: [{ id: 'a', cpu: 1, mem: 1e300 }] }),
    ['submit', 'FILE', '--nats', 'URL', '--prefix', prefix],
    /huge-vjob\.json: \$\.vms\[0\]\.mem: must be at most 2\^50/,
  ],
  [
    'a vjob file that is a directory',
    'a-directory',
    undefined,
    ['submit', 'FILE', '--nats', 'URL', '--prefix', prefix],
    /a directory, not a regular file/,
  ],
  [
    'an apply target of binary garbage',
    'random.bin',
    undefined,
    ['apply', 'FILE', '--dry-run', '--nats', 'URL', '--prefix', prefix],
    /random\.bin: not valid JSON/,
  ],
  [
    'an inline decision with an unknown state',
    'j1=dancing',
    undefined,
    ['apply', 'FILE', '--dry-run', '--nats', 'URL', '--prefix', prefix],
    /decision: \$\.j1: unknown state "dancing"/,
  ],
  [
    'a decision for a vjob the controller does not know',
    'j404=running',
    undefined,
    ['apply', 'FILE', '--dry-run', '--nats', 'URL', '--prefix', prefix],
    /j404/,
  ],
  [
    'a vjob id that is not one',
    'bad.id',
    undefined,
    ['cancel', 'FILE', '--nats', 'URL', '--prefix', prefix],
    /^error: cancel: "bad\.id" \(id\) must match/,
  ],
  [
    'an unknown vjob',
    'j404',
    undefined,
    ['cancel', 'FILE', '--nats', 'URL', '--prefix', prefix],
    /^cancel refused \(ENTROPY_UNKNOWN_VJOB\): .*j404/,
  ],
  [
    'a node id with a dot',
    'n.1',
    undefined,
    ['node', 'boot', 'FILE', '--nats', 'URL', '--prefix', prefix],
    /^error: node: "n\.1" \(node\) must match/,
  ],
];

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** Seeded, so that a failure replays. */
function randomBytes(seed: number, length: number): Uint8Array {
  let x = seed;
  return Uint8Array.from({ length }, () => ((x = (x * 1103515245 + 12345) >>> 0), x >>> 24));
}

/** Messages no process may choke on, each sent to every request subject (and published on the others). */
const MESSAGES: readonly [string, Uint8Array][] = [
  ['not msgpack', hex('c1ff0013')],
  ['empty', new Uint8Array()],
  ['a msgpack string', hex('a3616263')],
  ['an array', hex('93010203')],
  ['a map of the wrong shape', hex('83a17601a46e6f64652aa3766d73a46e6f6e65')], // { v: 1, node: 42, vms: 'none' }
  ['wrong protocol version', hex('82a17602a46e6f6465a26e31')],
  ['no protocol version', hex('81a46e6f6465a26e31')],
  [
    'NaN in a vjob',
    encodeTyped({
      vjob: { id: 'j6', priority: Number.NaN, vms: [{ id: 'j6-1', demand: { cpu: Number.NaN, mem: 1 } }] },
    } as never),
  ],
  [
    'Infinity in an apply',
    encodeTyped({ planId: 'pinf', decision: { j1: 'running' }, timeLimitMs: Number.POSITIVE_INFINITY } as never),
  ],
  [
    'NaN in an action request',
    encodeTyped({
      actionId: 'p1:a1',
      planId: 'p1',
      type: 'stop',
      vm: 'v1',
      vjob: 'j1',
      demand: { cpu: 1, mem: 512 },
      from: 'n1',
      estimatedMs: Number.NaN,
      timeoutMs: Number.POSITIVE_INFINITY,
    } as never),
  ],
  ['a decision for an unknown vjob', encodeTyped({ planId: 'p404', decision: { j404: 'running' } } as never)],
  ['a wanted state for an unknown node', encodeTyped({ node: 'n9', state: 'offline' } as never)],
  [
    'huge numbers',
    encodeTyped({
      vjob: { id: 'j8', priority: 1e308, vms: [{ id: 'j8-1', demand: { cpu: 1e300, mem: 1e300 } }] },
    } as never),
  ],
  [
    'duplicate VM ids',
    encodeTyped({
      vjob: {
        id: 'j7',
        priority: 0,
        vms: [
          { id: 'a', demand: { cpu: 1, mem: 1 } },
          { id: 'a', demand: { cpu: 1, mem: 1 } },
        ],
      },
    } as never),
  ],
  [
    'ids with shell code',
    encodeTyped({
      actionId: 'p1:a1',
      planId: 'p1',
      type: 'run',
      vm: "x'; rm -rf / #",
      vjob: 'j1',
      demand: { cpu: 1, mem: 1 },
      estimatedMs: 1,
      timeoutMs: 1000,
      id: 'a;b',
      node: 'n1;reboot',
    } as never),
  ],
  ['a __proto__ key', hex('82a17601a95f5f70726f746f5f5f81a5706f6c6c75c3')],
  ['nesting 100,000 deep', Uint8Array.from([...new Array<number>(100_000).fill(0x91), 0xc0])],
  ['a map header claiming 2^32-1 entries', hex('df' + 'ffffffff' + 'a176' + '01')],
  ['a string header claiming 4 GiB', hex('dbffffffff61')],
  ['past the 8 MiB limit', new Uint8Array(MAX_MESSAGE_BYTES + 1024).fill(0x90)],
  ...[1, 2, 3, 4, 5].map((seed): [string, Uint8Array] => [
    `random bytes (seed ${seed})`,
    randomBytes(seed, 64 + seed * 97),
  ]),
  ...fc
    .sample(
      fc.dictionary(
        fc.constantFrom('node', 'id', 'vjob', 'vms', 'planId', 'decision', 'actionIds', 'type', 'state', 'demand', 'x'),
        fc.anything(),
      ),
      { seed: 42, numRuns: 10 },
    )
    .map((fields, i): [string, Uint8Array] => [`random msgpack map ${i}`, encodeTyped(fields as never)]),
];

describe('bad input: malformed files against the compiled CLI, malformed messages against a real controller and agents', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entropy-bad-input-'));
  const conf = join(dir, 'nats.conf');
  let server: NatsServer;
  let controller: ControllerProcess;
  let agents: SimCluster;
  let nc: NatsConnection;

  beforeAll(async () => {
    for (const [, file, content] of FILE_CASES) if (content !== undefined) writeFileSync(join(dir, file), content);
    mkdirSync(join(dir, 'a-directory'));
    execFileSync('mkfifo', [join(dir, 'a-fifo')]);
    // past the controller's own limit, the server lets a message through: the controller must refuse it itself
    writeFileSync(conf, 'max_payload: 16777216\n');
    server = await startNatsServer({ jetstream: true, config: conf });
    nc = await connectNats(server.url, 'test-bad-input');
    controller = startControllerProcess(server.url, prefix, '--queue-store', 'kv');
    await waitFor('the controller to start', () => controller.log().includes('controller started'));
    agents = startSimCluster(
      parseInstance({
        nodes: [
          { id: 'n1', cpu: 4, mem: 8192 },
          { id: 'n2', cpu: 4, mem: 8192 },
        ],
        vms: [{ id: 'v1', vjob: 'j1', cpu: 1, mem: 512, state: 'running', host: 'n1' }],
        vjobs: [{ id: 'j1' }],
      }),
      { url: server.url, prefix, statusIntervalMs: 500, speed: 10 },
    );
    await waitFor(
      'both nodes online',
      async () =>
        (await controllerStatus(nc, prefix).catch(() => undefined))?.nodes.filter((n) => n.liveness === 'online')
          .length === 2,
    );
  });

  afterAll(async () => {
    await agents?.stop();
    await stopProcess(controller);
    await nc?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`has at least 30 malformed files and 30 malformed messages (${FILE_CASES.length} and ${MESSAGES.length})`, () => {
    expect(FILE_CASES.length).toBeGreaterThanOrEqual(30);
    expect(MESSAGES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(FILE_CASES)('the CLI: %s (%s) is one line and exit 1', async (_what, file, _content, command, line) => {
    const args = command.map((a) => (a === 'FILE' ? file : a === 'URL' ? server.url : a));
    const r = await entropy(args, dir);
    expectOneErrorLine(r.stdout + r.stderr, line);
    expect(r.status).toBe(1);
    expect(r.peakKiB).toBeLessThan(CLI_PEAK_KIB);
  });

  it('every request subject answers every malformed message with an error reply of one line', async () => {
    const requests: [
      string,
      (data: Uint8Array) => { ok: boolean; error?: { code: string; message?: string; reason?: string } } | undefined,
    ][] = [
      ...(['action', 'ledger', 'meta', 'power'] as const).map(
        (leaf): [string, (d: Uint8Array) => { ok: boolean; error?: { code: string; message: string } } | undefined] => [
          `${prefix}.node.n1.${leaf}`,
          (d) => {
            const kind = (
              { action: 'actionResult', ledger: 'ledgerReply', meta: 'vmMetaAck', power: 'powerReply' } as const
            )[leaf];
            const r = decode(kind, d);
            if (!r.ok) return undefined;
            const msg = r.msg as { ok?: boolean; error?: { code: string; message: string } };
            return { ok: msg.ok ?? !msg.error, ...(msg.error ? { error: msg.error } : {}) };
          },
        ],
      ),
      ...(['submit', 'apply', 'cancel', 'node', 'execute', 'approve', 'reject'] as const).map(
        (verb): [string, (d: Uint8Array) => { ok: boolean; error?: { code: string; message: string } } | undefined] => [
          s.control(verb),
          (d) => {
            const r = decodeControl(`${verb}Reply`, d.length === 0 ? d : d);
            return r.ok ? (r.msg as { ok: boolean; error?: { code: string; message: string } }) : undefined;
          },
        ],
      ),
    ];
    const refusals: string[] = [];
    for (const [what, bytes] of MESSAGES) {
      for (const [subject, read] of requests) {
        const data = subject.startsWith(`${prefix}.control.`)
          ? await controlReply(subject, bytes)
          : (await nc.request(subject, bytes, { timeout: 10_000 })).data;
        const reply = read(data);
        expect(reply, `${subject}, ${what}: a reply that decodes`).toBeDefined();
        expect(reply!.ok, `${subject}, ${what}`).toBe(false);
        const message = reply!.error?.message ?? '';
        expect(message, `${subject}, ${what}`).not.toMatch(/\n|\s+at \S+ \(/);
        expect(reply!.error?.code, `${subject}, ${what}`).toMatch(/^ENTROPY_/);
        refusals.push(`${subject} ${reply!.error?.code}`);
      }
    }
    expect(refusals).toHaveLength(MESSAGES.length * requests.length);
    // Status and queue requests carry nothing the controller needs: it answers them whatever the bytes, with a valid reply.
    for (const [what, bytes] of MESSAGES) {
      for (const verb of ['status', 'queue'] as const) {
        const reply = decodeControl(`${verb}Reply`, await controlReply(s.control(verb), bytes));
        expect(reply.ok, `${verb}, ${what}`).toBe(true);
      }
    }
  });

  it('every publication subject drops every malformed message, and every process still answers, in bounded memory', async () => {
    const before = peakKiB(controller.child.pid!);
    // entropy-watch sees them all too
    const watch = spawn(process.execPath, [WATCH_BIN, '--nats', server.url, '--prefix', prefix], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let watched = '';
    watch.stdout!.on('data', (d: Buffer) => (watched += d.toString()));
    try {
      await waitFor('entropy-watch to subscribe', async () => {
        nc.publish(s.nodeStatus('probe'), new Uint8Array([1]));
        await nc.flush();
        return watched.includes('"probe"') || watched.includes('.probe.');
      });
      for (const [, bytes] of MESSAGES) {
        for (const subject of [
          s.nodeStatus('n1'),
          s.nodeStatus('n9'),
          s.nodeHello('n2'),
          s.simLink('n2'),
          s.planProgress('p1'),
          s.control('status'),
          s.control('queue'),
        ])
          nc.publish(subject, bytes);
        await nc.flush();
      }
      await delay(1500);
      expect(controller.child.exitCode).toBeNull();
      for (const a of agents.agents.values()) expect(a.child.exitCode).toBeNull();
      const st = await controllerStatus(nc, prefix);
      expect(st.nodes.map((n) => [n.id, n.liveness])).toEqual([
        ['n1', 'online'],
        ['n2', 'online'],
      ]);
      // v1 belongs to no vjob the controller was told about: it is seen, and left out of planning
      expect(st.excluded.map((e) => [e.vm, e.node])).toEqual([['v1', 'n1']]);
      // the controller says what it dropped, as pino JSON lines
      expect(
        controller
          .log()
          .split('\n')
          .filter((l) => l.includes('"level":40')).length,
      ).toBeGreaterThan(0);
      for (const n of ['n1', 'n2']) {
        const ledger = decode(
          'ledgerReply',
          (await nc.request(s.nodeLedger(n), encode('ledgerQuery', { actionIds: ['p0:a1'] }), { timeout: 10_000 }))
            .data,
        );
        expect(ledger.ok, `agent ${n} answers a good request`).toBe(true);
      }
      // the 8 MiB messages and the deep ones cost no lasting memory: the peak grew by less than 300 MiB over them all
      expect(peakKiB(controller.child.pid!) - before).toBeLessThan(300 * 1024);
      expect(watch.exitCode).toBeNull();
      const lines = watched
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { subject: string; error?: { code: string } });
      expect(lines.filter((l) => l.subject === s.nodeStatus('n9') && l.error).length).toBe(MESSAGES.length);
      expect(peakKiB(watch.pid!)).toBeLessThan(CLI_PEAK_KIB);
    } finally {
      watch.kill('SIGTERM');
    }
    expect(controller.log()).not.toMatch(/\n\s+at \S+ \(/);
    for (const a of agents.agents.values()) expect(a.stderr.join('')).not.toMatch(/\n\s+at \S+ \(/);
  });

  /** A control request's reply: its chunks joined, up to the empty sentinel. */
  async function controlReply(subject: string, bytes: Uint8Array): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const m of await nc.requestMany(subject, bytes, { strategy: 'sentinel', maxWait: 10_000 })) {
      if (m.data.length === 0) break;
      chunks.push(m.data);
    }
    return Buffer.concat(chunks);
  }
});
