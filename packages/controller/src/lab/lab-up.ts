import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { encodeControl, type StatusReply, subjects } from '@entropy/protocol';
import { startNatsServer } from '../cluster/nats-server.ts';
import { ENTROPY_BIN } from '../cluster/processes.ts';
import { askController, connectNats } from '../controller/nats-connect.ts';
import { writeNatsConfig } from '../deploy/nats-config-command.ts';
import { agentUser, CONTROLLER_USER, OPERATOR_USER } from '../deploy/nats-roles.ts';
import type { CostModelOverrides } from '@entropy/engine';
import { DEFAULT_GUEST_CACHE, guestImage, guestXml } from './guest.ts';
import { LabError, LabErrorCode } from './lab-error.ts';
import { labScenario, scenarioFits } from './lab-scenario.ts';
import { labNats, type LabProcess, LabRole, type LabState, LabStateFile, readLabState } from './lab-state.ts';
import { teardownLab } from './lab-teardown.ts';
import { hostAgentCommand, hostStartCommand, spawnHostAgent, startHostLibvirtd } from './lab-host.ts';
import { libvirtUri } from './libvirtd.ts';
import { exposeOnLoopback } from './loopback-bridge.ts';
import { createNamespaceHosts } from './netns-hosts.ts';
import { labUnavailableReason } from './prerequisites.ts';
import { isRunning, processStartTime, type RecordedProcess, spawnRecorded } from './recorded-process.ts';

import {
  DEFAULT_GUEST_MEM_MIB,
  DEFAULT_LAB_CAPACITY,
  DEFAULT_LAB_DIR,
  DEFAULT_LAB_GUESTS,
  DEFAULT_LAB_HOSTS,
} from './lab-defaults.ts';

export { DEFAULT_GUEST_MEM_MIB, DEFAULT_LAB_CAPACITY, DEFAULT_LAB_DIR, DEFAULT_LAB_GUESTS, DEFAULT_LAB_HOSTS };

/**
 * The lab controller's cost model, from durations the lab's agents measured (TCG guests of 128 MiB,
 * 2 shared cores, a loaded machine; `pnpm bench -- --suites lab`): virsh create 1-9 s, destroy
 * 1.3-2.3 s, save 2-3.8 s and restore 0.8-4.9 s (the more at once, the longer), restore from another
 * host's image 2-4.4 s, live migration 2.8-4.8 s, pause and unpause 10-190 ms. The default model (a
 * 1 GiB/s link, real hardware) would give a restore 3 x 128 ms + 5 s before its timeout: too short
 * here. The scenario's plans are the same with either.
 */
export const LAB_COST_MODEL: CostModelOverrides = {
  run: { base: 5000 },
  stop: { base: 2000 },
  suspend: { perMiB: 24 },
  resumeLocal: { perMiB: 24 },
  resumeRemote: { perMiB: 28 },
  migrate: { perMiB: 32 },
  pause: { base: 30 },
  unpause: { base: 30 },
};

/**
 * The controller's: a node is offline after three of these without a status. Two shared cores
 * starting several TCG guests stall libvirtd (and the agents' statuses) for seconds.
 */
const OFFLINE_PERIOD_MS = 2000;
/**
 * A vjob's pauses start together this long after they are sent. Without it, they start as each
 * agent gets its request and the CPU: 20-30 ms apart across 3 hosts on this loaded machine.
 */
const GROUP_LEAD_MS = 40;
/**
 * How long a host's boot may take, from `lab host-start` to its agent's first status: libvirtd
 * starts and probes QEMU (4-10 s here, more on a loaded machine), then the agent.
 */
const BOOT_TIMEOUT_MS = 180_000;
export interface LabUpOptions {
  readonly dir?: string;
  readonly hosts?: number;
  readonly guests?: number;
  readonly memMiB?: number;
  /** Each agent's capacity (the planner's view of a host). */
  readonly capacity?: Readonly<Record<string, number>>;
  /** Where the guest image is built and cached (scripts/libvirt-guest.sh). */
  readonly guestCache?: string;
  readonly readyTimeoutMs?: number;
  readonly progress?: (line: string) => void;
}

/** A lab that is up: its state file's content, and where its scenario files are (3 hosts, 9 guests). */
export interface Lab {
  readonly state: LabState;
  readonly scenario?: { readonly instanceFile: string; readonly steps: ReturnType<typeof labScenario>['steps'] };
  readonly upMs: number;
}

/**
 * `entropy lab up`: namespace hosts on a private bridge, each with its own libvirtd and a virsh
 * agent; a nats-server with JetStream and a controller in the bridge's own namespace (a service
 * host on the bridge), reached from this machine through relays; one domain XML per guest and one
 * image directory shared by every host.
 * Every part is recorded in `<dir>/lab.json` as it is created, and the processes outlive the
 * command. When a part fails, what had started is removed and the error says which part.
 */
export async function labUp(opts: LabUpOptions = {}): Promise<Lab> {
  const t0 = performance.now();
  const say = opts.progress ?? (() => {});
  const dir = resolve(opts.dir ?? DEFAULT_LAB_DIR);
  refuseRecordedLab(dir);
  const why = await labUnavailableReason();
  if (why !== undefined) throw new LabError(LabErrorCode.Unavailable, `entropy lab cannot run here: ${why}`);
  const hostCount = opts.hosts ?? DEFAULT_LAB_HOSTS;
  const guestCount = opts.guests ?? DEFAULT_LAB_GUESTS;
  const memMiB = opts.memMiB ?? DEFAULT_GUEST_MEM_MIB;
  const capacity = opts.capacity ?? DEFAULT_LAB_CAPACITY;
  const nodes = Array.from({ length: hostCount }, (_, i) => `n${i + 1}`);
  const guests = Array.from({ length: guestCount }, (_, i) => `v${i + 1}`);

  const createdDir = claimDir(dir);
  // Unique per lab: namespace and host names carry it, so two labs or a test run never meet.
  const prefix = `el${randomBytes(3).toString('hex')}`;
  const file = LabStateFile.create({
    version: 1,
    prefix,
    dir,
    createdDir,
    phase: 'starting',
    startedAt: Date.now(),
    namespaces: [],
    processes: [],
    hosts: [],
    guests: [],
    paths: [],
    capacity: { ...capacity },
  });
  const record = (role: LabRole, node?: string) => (p: RecordedProcess) =>
    file.addProcess({ ...p, role, ...(node ? { node } : {}) });
  const path = (...parts: string[]) => join(dir, ...parts);
  const mkdirRecorded = (name: string) => {
    file.addPath(path(name));
    mkdirSync(path(name), { recursive: true });
    return path(name);
  };

  try {
    for (const d of ['hosts', 'images', 'config', 'serial', 'state', 'logs', 'relay', 'nats', 'scenario'])
      mkdirRecorded(d);
    say('guest image (built once, checked against its checksums)...');
    const image = await guestImage(opts.guestCache ?? DEFAULT_GUEST_CACHE);
    file.update((s) => ({ ...s, image: { kernel: image.kernel, initrd: image.initrd, sha256: { ...image.sha256 } } }));

    say(`${hostCount} namespace hosts on a private bridge...`);
    const net = await createNamespaceHosts(prefix, nodes, { beforeCreate: (ns) => file.addNamespace(ns) });
    const hosts = nodes.map((node, i) => ({
      node,
      ns: net.hosts[i]!.ns,
      addr: net.hosts[i]!.addr,
      libvirtDir: path('hosts', node),
      uri: libvirtUri(path('hosts', node)),
    }));
    // Recorded before the daemons start: lab down finds their guests by these directories.
    file.update((s) => ({ ...s, hosts }));

    say('libvirtd on every host (TCP listen, its own host UUID, /dev/kvm hidden)...');
    await Promise.all(hosts.map((h) => startHostLibvirtd(prefix, h, record(LabRole.Libvirtd, h.node))));

    // The switch's namespace is the lab's service host, on the bridge: the agents reach nats-server
    // over the bridge as they would over a network (no relay on their path: each hop a relay adds
    // is one more process to wake on a loaded machine, and skews a vjob's pauses); the machine's
    // own namespace reaches it through a relay, for the user's commands.
    say("nats-server with JetStream and the controller on the bridge, a relay to it on this machine's loopback...");
    const natsHost = { host: net.switchAddr, port: 4222 };
    const hostUrl = `nats://${natsHost.host}:${natsHost.port}`;
    // The production configuration, with this lab's own credentials: each process its role's rights only.
    const auth = await writeNatsConfig({
      nodes: hosts.map((h) => h.node),
      out: path('nats', 'nats-server.conf'),
      storeDir: path('nats', 'js'),
      nkeys: true,
    });
    await startNatsServer({
      config: auth.configs[0],
      dir: path('nats'),
      detached: true,
      netns: net.switchNs,
      listen: natsHost,
      started: (pid) =>
        file.addProcess({
          name: 'nats-server',
          role: LabRole.NatsServer,
          pid,
          startTime: processStartTime(pid) ?? '?',
          log: path('nats', 'server.log'),
        }),
    });
    const exposed = await exposeOnLoopback({
      dir: path('relay'),
      ns: net.switchNs,
      target: natsHost,
      detached: true,
      started: record(LabRole.Relay),
    });
    const url = `nats://127.0.0.1:${exposed.port}`;
    const operator = auth.creds(OPERATOR_USER);
    file.update((s) => ({ ...s, nats: { url, hostUrl, creds: operator } }));
    const costModel = path('cost-model.json');
    file.addPath(costModel);
    writeFileSync(costModel, `${JSON.stringify(LAB_COST_MODEL, null, 2)}\n`);
    // fcfs sizes VMs by their declared demand: the measured CPU of TCG guests says nothing about the
    // scenario's demands, and measured sizing would plan another switch than the one described.
    const controllerArgs = [
      'controller',
      '--nats',
      hostUrl,
      '--creds',
      auth.creds(CONTROLLER_USER),
      '--queue-store',
      'kv',
      '--policy',
      'fcfs',
      '--status-period',
      String(OFFLINE_PERIOD_MS),
      '--cost-model',
      costModel,
      '--group-lead',
      String(GROUP_LEAD_MS),
      '--boot-command',
      JSON.stringify(hostStartCommand(dir)),
      '--boot-timeout',
      String(BOOT_TIMEOUT_MS),
    ];
    const controller = spawnRecorded(
      'controller',
      'ip',
      ['netns', 'exec', net.switchNs, process.execPath, ENTROPY_BIN, ...controllerArgs],
      { log: path('logs', 'controller.log'), detached: true },
    );
    record(LabRole.Controller)(controller.process);

    for (const g of guests) {
      const xml = path('config', `${g}.xml`);
      const serial = path('serial', `${g}.log`);
      writeFileSync(xml, guestXml({ name: g, image, serial, memMiB }));
      file.update((s) => ({ ...s, guests: [...s.guests, { name: g, memMiB, xml, serial }] }));
    }

    say(`an entropy-agent --driver virsh in every host...`);
    const migration = hosts.map((h) => `${h.node}=${h.addr}`).join(',');
    for (const h of hosts) {
      const agentCommand = hostAgentCommand(h, {
        dir,
        natsUrl: hostUrl,
        creds: auth.creds(agentUser(h.node)),
        migration,
        capacity,
      });
      file.update((s) => ({ ...s, hosts: s.hosts.map((x) => (x.node === h.node ? { ...x, agentCommand } : x)) }));
      record(LabRole.Agent, h.node)(spawnHostAgent(dir, h.node, agentCommand));
    }

    say('waiting for the controller to see every host online...');
    await untilHostsOnline(file.current, opts.readyTimeoutMs ?? 120_000);

    let scenario: Lab['scenario'];
    if (scenarioFits(nodes, guests, capacity)) {
      const instanceFile = path('scenario', 'instance.json');
      const s = labScenario(instanceFile, memMiB);
      writeFileSync(instanceFile, `${JSON.stringify(s.instance, null, 2)}\n`);
      scenario = { instanceFile, steps: s.steps };
    }
    file.update((s) => ({ ...s, phase: 'up', upAt: Date.now() }));
    return { state: file.current, ...(scenario ? { scenario } : {}), upMs: performance.now() - t0 };
  } catch (err) {
    const report = await teardownLab(file.current);
    const left =
      report.failures.length > 0
        ? `; could not remove: ${report.failures.join('; ')} (see ${file.file})`
        : '; what had started was removed';
    throw new LabError(LabErrorCode.StartFailed, `lab up failed: ${(err as Error).message.split('\n')[0]}${left}`, {
      cause: err,
    });
  }
}

function refuseRecordedLab(dir: string): void {
  const recorded = readLabState(dir);
  if (recorded) {
    throw new LabError(
      LabErrorCode.DirBusy,
      `${dir} holds lab ${recorded.prefix} (${{ up: 'up', starting: 'left half made', stopping: 'left half removed' }[recorded.phase]}): run \`entropy lab down --dir ${dir}\` first, or give another --dir`,
    );
  }
}

/** Makes the lab directory, or takes an empty one; true when made here. */
function claimDir(dir: string): boolean {
  refuseRecordedLab(dir);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    return true;
  }
  if (readdirSync(dir).length > 0)
    throw new LabError(LabErrorCode.DirBusy, `${dir} exists and is not empty: give an empty or new --dir`);
  return false;
}

/** Polls the controller's status until every host is online; a recorded process that dies meanwhile ends the wait. */
async function untilHostsOnline(state: LabState, timeoutMs: number): Promise<StatusReply> {
  const target = labNats(state);
  const nc = await connectNats(target, 'entropy-lab');
  const to = { subjects: subjects(), url: target.nats };
  const deadline = Date.now() + timeoutMs;
  let online = 0;
  try {
    for (;;) {
      const dead = state.processes.find((p) => !isRunning(p));
      if (dead) throw new Error(`${dead.name} exited: ${await tail(dead)}`);
      try {
        const st = await askController(nc, to, 'status', encodeControl('statusRequest', {}), 'statusReply', 3000);
        online = st.nodes.filter((n) => n.liveness === 'online').length;
        if (online === state.hosts.length) return st;
      } catch {
        // the controller may not answer yet
      }
      if (Date.now() > deadline)
        throw new Error(
          `${online}/${state.hosts.length} hosts online after ${timeoutMs} ms; logs in ${join(state.dir, 'logs')}`,
        );
      await delay(250);
    }
  } finally {
    await nc.close();
  }
}

async function tail(p: LabProcess): Promise<string> {
  if (!p.log) return 'no log';
  const lines = (await readFile(p.log, 'utf8').catch(() => '')).trim().split('\n');
  return `${lines.at(-1) ?? ''} (${p.log})`;
}
