import { rm, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LAB_STATE_FILE, type LabProcess, LabRole, type LabState, readLabState } from './lab-state.ts';
import { LAB_STATE_LOCK, updateLabState } from './lab-state-lock.ts';
import { type LibvirtdAt, stopLibvirtd } from './libvirtd.ts';
import { deleteNamespace, listNamespaces } from './netns-hosts.ts';
import { isRunning, type StopOutcome, stopRecorded } from './recorded-process.ts';

/** The effects of a teardown, injected so that the unit tests need neither root nor namespaces. */
export interface TeardownOps {
  stopProcess(p: LabProcess): Promise<StopOutcome>;
  isRunning(p: LabProcess): boolean;
  stopLibvirtd(at: LibvirtdAt): Promise<void>;
  namespaces(): Promise<readonly string[]>;
  deleteNamespace(ns: string): Promise<void>;
  removePath(path: string): Promise<void>;
}

export const systemTeardownOps: TeardownOps = {
  stopProcess: (p) => stopRecorded(p, 10_000),
  isRunning,
  stopLibvirtd,
  namespaces: listNamespaces,
  deleteNamespace,
  removePath: (path) => rm(path, { recursive: true, force: true }),
};

export interface TeardownReport {
  /** `name (pid): stopped|killed|gone` per recorded process. */
  readonly processes: readonly string[];
  readonly namespaces: readonly string[];
  readonly paths: readonly string[];
  /** What could not be removed; empty when the lab is gone. */
  readonly failures: readonly string[];
}

/** Stopped first: agents (they wait for their running actions), then the controller, relays, nats-server; libvirtd last. */
const STOP_ORDER: readonly LabRole[] = [LabRole.Agent, LabRole.Controller, LabRole.Relay, LabRole.NatsServer];

/**
 * Removes everything the state records, by the recorded ids and names only: processes by pid and
 * start time, each host's guests through its own libvirtd (then the daemon), namespaces by name,
 * paths under the lab directory. Goes on past failures and reports them; the state file is
 * removed only when nothing recorded is left, so a second `lab down` retries the rest.
 */
export async function teardownLab(state: LabState, ops: TeardownOps = systemTeardownOps): Promise<TeardownReport> {
  const processes: string[] = [];
  const failures: string[] = [];
  const stop = async (p: LabProcess) => {
    try {
      processes.push(`${p.name} (${p.pid}): ${await ops.stopProcess(p)}`);
    } catch (err) {
      failures.push(`${p.name} (${p.pid}): ${(err as Error).message}`);
    }
  };
  for (const role of STOP_ORDER) await Promise.all(state.processes.filter((p) => p.role === role).map(stop));

  await Promise.all(
    state.hosts.map(async (h) => {
      const daemon = state.processes.find((p) => p.role === LabRole.Libvirtd && p.node === h.node);
      try {
        await ops.stopLibvirtd({
          dir: h.libvirtDir,
          uri: h.uri,
          ...(daemon ? { process: daemon } : {}),
          domains: state.guests.map((g) => g.name),
        });
        if (daemon)
          processes.push(`${daemon.name} (${daemon.pid}): ${ops.isRunning(daemon) ? 'still running' : 'stopped'}`);
      } catch (err) {
        failures.push(`libvirtd of ${h.node}: ${(err as Error).message}`);
      }
    }),
  );
  // A libvirtd recorded before its host entry (a crash in between) has no host: stop it by identity alone.
  for (const p of state.processes.filter(
    (p) => p.role === LabRole.Libvirtd && !state.hosts.some((h) => h.node === p.node),
  ))
    await stop(p);
  for (const p of state.processes) if (ops.isRunning(p)) failures.push(`${p.name} (${p.pid}) still runs`);

  const namespaces: string[] = [];
  const existing = new Set(await ops.namespaces().catch(() => [] as string[]));
  for (const ns of [...state.namespaces].reverse()) {
    if (!existing.has(ns)) continue;
    try {
      await ops.deleteNamespace(ns);
      namespaces.push(ns);
    } catch (err) {
      failures.push(`namespace ${ns}: ${(err as Error).message}`);
    }
  }

  const paths: string[] = [];
  for (const path of [...state.paths].reverse()) {
    try {
      await ops.removePath(path);
      paths.push(path);
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  if (failures.length === 0) {
    await unlink(join(state.dir, LAB_STATE_FILE)).catch(() => {});
    await unlink(join(state.dir, `${LAB_STATE_FILE}.tmp`)).catch(() => {});
    await unlink(join(state.dir, LAB_STATE_LOCK)).catch(() => {});
    // Only when empty: a directory the user put more into keeps it.
    if (state.createdDir) await rmdir(state.dir).catch(() => {});
  }
  return { processes, namespaces, paths, failures };
}

/**
 * `entropy lab down`: the lab is marked as going down first, under the state file's lock, so that a
 * host-start running meanwhile (the controller booting a node) records nothing more and stops what
 * it had spawned; then everything recorded until then is removed. Undefined when no lab is recorded.
 */
export async function labDown(
  dir: string,
  ops: TeardownOps = systemTeardownOps,
): Promise<{ state: LabState; report: TeardownReport } | undefined> {
  if (!readLabState(dir)) return undefined;
  const state = await updateLabState(dir, (s) => ({ ...s, phase: 'stopping' }));
  return { state, report: await teardownLab(state, ops) };
}
