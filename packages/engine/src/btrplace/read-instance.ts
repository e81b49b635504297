import type { Constraint } from '../constraints/constraint.ts';
import type { ActionDurations } from '../model/problem.ts';
import { ErrorCode, InvalidInputError } from '@entropy/protocol';
import type { Configuration, Decision, Node, VJob, VM } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import type { VJobState, VMState } from '../model/lifecycle.ts';
import { CONSTRAINT_CONVERTERS, UNSUPPORTED_CONSTRAINTS, type ConverterContext } from './constraint-converters.ts';
import { attributeDurations, BTRPLACE_COST_MODEL } from './durations.ts';
import { nodeName, vmName } from './ids.ts';
import { JsonReader } from './json-reader.ts';
import { networkMigrationUnits, readNetwork, type BtrPlaceNetwork } from './network.ts';
import type { NetworkModel } from '../model/network.ts';

/** A BtrPlace instance in Entropy's terms: what `contextSwitch` takes, plus what the export needs. */
export interface BtrPlaceInstance {
  readonly configuration: Configuration;
  /** The state constraints (running, sleeping, ready, killed) as a decision: one vjob per VM. */
  readonly decision: Decision;
  readonly costModel: CostModel;
  readonly constraints: readonly Constraint[];
  readonly durations: ActionDurations;
  readonly objective: string;
  /** VMs a killed constraint removes: the export writes their stop as killVM, others as shutdownVM. */
  readonly killed: ReadonlySet<string>;
  /** The instance's `model`, written back unchanged as the plan's origin. */
  readonly model: unknown;
  /** The network view, when the instance has one: the planner and the verifier bound concurrent migrations by it. */
  readonly network?: NetworkModel;
}

const OBJECTIVES = new Set(['minimizeMTTR', 'minimizeMigrations']);
const IGNORED_VIEWS = new Set(['ns']);

/**
 * Reads BtrPlace's instance JSON (json/.../model/InstanceConverter.java: `model` with `mapping`,
 * `attributes` and `views`; `constraints`; `objective`). Every problem is reported with its JSON
 * path, and an unknown constraint id is an error, never a silent skip. VMs become vjobs of one VM
 * (BtrPlace has no vjobs); ready VMs are waiting; shareable resources are named dimensions.
 */
export function readBtrPlaceInstance(json: unknown, file = 'instance'): BtrPlaceInstance {
  const r = new JsonReader();
  const fail = () => new InvalidInputError(ErrorCode.InvalidInstance, file, r.issues.slice(0, 20));
  const root = r.object(json, []);
  const model = root && r.object(root.model, ['model']);
  const mapping = model && r.object(model.mapping, ['model', 'mapping']);
  if (!root || !model || !mapping) throw fail();

  // Mapping: which nodes exist and are online, where each VM is and in which state.
  const nodeState = new Map<number, 'online' | 'offline'>();
  const vmState = new Map<number, { state: VMState; host?: number }>();
  const declareVm = (id: number | undefined, state: VMState, host: number | undefined, path: PropertyKey[]) => {
    if (id === undefined) return;
    if (vmState.has(id)) return r.report(path, `VM ${id} is declared twice`);
    vmState.set(id, host === undefined ? { state } : { state, host });
  };
  (r.array(mapping.offlineNodes, ['model', 'mapping', 'offlineNodes']) ?? []).forEach((x, i) => {
    const id = r.int(x, ['model', 'mapping', 'offlineNodes', i]);
    if (id === undefined) return;
    if (nodeState.has(id)) return r.report(['model', 'mapping', 'offlineNodes', i], `node ${id} is declared twice`);
    nodeState.set(id, 'offline');
  });
  const onlineNodes = r.object(mapping.onlineNodes, ['model', 'mapping', 'onlineNodes']) ?? {};
  for (const [key, value] of Object.entries(onlineNodes)) {
    const path = ['model', 'mapping', 'onlineNodes', key];
    const id = r.key(key, path);
    const o = r.object(value, path);
    if (id === undefined || !o) continue;
    if (nodeState.has(id)) r.report(path, `node ${id} is declared twice`);
    nodeState.set(id, 'online');
    for (const [field, state] of [
      ['runningVMs', 'running'],
      ['sleepingVMs', 'sleeping'],
    ] as const) {
      (r.array(o[field], [...path, field]) ?? []).forEach((x, i) =>
        declareVm(r.int(x, [...path, field, i]), state, id, [...path, field, i]),
      );
    }
  }
  (r.array(mapping.readyVMs, ['model', 'mapping', 'readyVMs']) ?? []).forEach((x, i) =>
    declareVm(r.int(x, ['model', 'mapping', 'readyVMs', i]), 'waiting', undefined, ['model', 'mapping', 'readyVMs', i]),
  );

  // Views: shareable resources become named dimensions; the network view gives migration durations.
  const capacity = new Map<number, Record<string, number>>();
  const demand = new Map<number, Record<string, number>>();
  for (const id of nodeState.keys()) capacity.set(id, {});
  for (const id of vmState.keys()) demand.set(id, {});
  let network: BtrPlaceNetwork | undefined;
  (r.array(model.views, ['model', 'views']) ?? []).forEach((v, i) => {
    const path = ['model', 'views', i];
    const view = r.object(v, path);
    if (!view) return;
    if (view.id === 'shareableResource') readResource(r, view, path, capacity, demand);
    else if (view.id === 'net') network = readNetwork(r, view, path);
    else if (!IGNORED_VIEWS.has(String(view.id)))
      r.report([...path, 'id'], `unknown view '${String(view.id)}' (supported: shareableResource, net, ns)`);
  });

  // Attributes: per-element durations and anything else, kept as given.
  const attributes = r.object(model.attributes ?? {}, ['model', 'attributes']) ?? {};
  const vmAttributes = readAttributes(r, attributes.vms, ['model', 'attributes', 'vms'], vmState, vmName);
  const nodeAttributes = readAttributes(r, attributes.nodes, ['model', 'attributes', 'nodes'], nodeState, nodeName);

  // Constraints and objective.
  const ctx: ConverterContext = {
    r,
    vms: new Set(vmState.keys()),
    nodes: new Set(nodeState.keys()),
    partsCache: new Map(),
  };
  const constraints: Constraint[] = [];
  const seen = new Set<string>();
  (r.array(root.constraints, ['constraints']) ?? []).forEach((x, i) => {
    const path = ['constraints', i];
    const o = r.object(x, path);
    if (!o) return;
    const id = r.string(o.id, [...path, 'id']);
    if (id === undefined) return;
    const convert = CONSTRAINT_CONVERTERS[id];
    if (!convert) {
      r.report(
        [...path, 'id'],
        UNSUPPORTED_CONSTRAINTS.has(id)
          ? `constraint '${id}' is not supported by Entropy`
          : `unknown constraint '${id}'`,
      );
      return;
    }
    const c = convert(o, path, ctx);
    if (!c) return;
    // BtrPlace's generators repeat constraints; one copy says it all.
    const key = c.type === 'among' || c.type === 'splitAmong' || c.type === 'split' ? undefined : JSON.stringify(c);
    if (key !== undefined) {
      if (seen.has(key)) return;
      seen.add(key);
    }
    constraints.push(c);
  });
  const objective =
    root.objective === undefined
      ? 'minimizeMTTR'
      : r.string(r.object(root.objective, ['objective'])?.id, ['objective', 'id']);
  if (objective !== undefined && !OBJECTIVES.has(objective))
    r.report(['objective', 'id'], `unknown objective '${objective}' (supported: ${[...OBJECTIVES].join(', ')})`);
  if (r.issues.length > 0) throw fail();

  const nodes: Node[] = [...nodeState]
    .sort((a, b) => a[0] - b[0])
    .map(([id, state]) => ({ id: nodeName(id), state, capacity: capacity.get(id)! }));
  const vms: VM[] = [...vmState]
    .sort((a, b) => a[0] - b[0])
    .map(([id, s]) => ({
      id: vmName(id),
      vjob: vmName(id),
      state: s.state,
      demand: demand.get(id)!,
      ...(s.host !== undefined ? { host: nodeName(s.host) } : {}),
    }));
  const vjobs: VJob[] = vms.map((v) => ({ id: v.vjob, vms: [v.id], priority: 0, submittedAt: 0 }));
  const { decision, killed } = stateDecision(vms, constraints);
  const hostOf = new Map(vms.flatMap((v) => (v.host !== undefined ? [[v.id, v.host] as const] : [])));
  return {
    configuration: { nodes, vms, vjobs },
    decision,
    costModel: BTRPLACE_COST_MODEL,
    constraints,
    durations: attributeDurations(
      vmAttributes,
      nodeAttributes,
      killed,
      network ? networkMigrationUnits(network, vmAttributes, hostOf) : undefined,
    ),
    objective: objective ?? 'minimizeMTTR',
    killed,
    model: root.model,
    ...(network ? { network: network.model } : {}),
  };
}

function readResource(
  r: JsonReader,
  view: Record<string, unknown>,
  path: PropertyKey[],
  capacity: Map<number, Record<string, number>>,
  demand: Map<number, Record<string, number>>,
): void {
  const rc = r.string(view.rcId, [...path, 'rcId']);
  const defCapacity = r.int(view.defCapacity ?? 0, [...path, 'defCapacity']);
  const defConsumption = r.int(view.defConsumption ?? 0, [...path, 'defConsumption']);
  if (rc === undefined || defCapacity === undefined || defConsumption === undefined) return;
  for (const m of capacity.values()) m[rc] = defCapacity;
  for (const m of demand.values()) m[rc] = defConsumption;
  for (const [field, target, what] of [
    ['nodes', capacity, 'node'],
    ['vms', demand, 'VM'],
  ] as const) {
    const values = r.object(view[field] ?? {}, [...path, field]) ?? {};
    for (const [key, x] of Object.entries(values)) {
      const id = r.key(key, [...path, field, key]);
      const n = r.int(x, [...path, field, key]);
      if (id === undefined || n === undefined) continue;
      const own = target.get(id);
      if (!own) r.report([...path, field, key], `unknown ${what} ${id}`);
      else if (n < 0) r.report([...path, field, key], 'must not be negative');
      else own[rc] = n;
    }
  }
}

function readAttributes(
  r: JsonReader,
  x: unknown,
  path: PropertyKey[],
  known: ReadonlyMap<number, unknown>,
  name: (id: number) => string,
): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  const all = x === undefined ? {} : (r.object(x, path) ?? {});
  for (const [key, value] of Object.entries(all)) {
    const id = r.key(key, [...path, key]);
    const o = r.object(value, [...path, key]);
    if (id === undefined || !o) continue;
    if (!known.has(id)) r.report([...path, key], `unknown element ${id}`);
    else out.set(name(id), o);
  }
  return out;
}

/**
 * The state constraints as a decision: `running` runs the VM, `sleeping` suspends it, `killed`
 * terminates it, `ready` stops it if it runs or sleeps. A transition the life cycle forbids is left
 * out of the decision: the constraint stays, and the engine reports the contradiction.
 */
function stateDecision(
  vms: readonly VM[],
  constraints: readonly Constraint[],
): { decision: Decision; killed: Set<string> } {
  const stateOf = new Map(vms.map((v) => [v.id, v.state]));
  const decision: Record<string, VJobState> = {};
  const killed = new Set<string>();
  const allowed: Record<string, readonly VJobState[]> = {
    waiting: ['waiting', 'running', 'terminated'],
    running: ['running', 'sleeping', 'terminated'],
    sleeping: ['sleeping', 'running', 'terminated'],
  };
  for (const c of constraints) {
    let wanted: VJobState | undefined;
    if (c.type === 'running') wanted = 'running';
    else if (c.type === 'sleeping') wanted = 'sleeping';
    else if (c.type === 'killed') wanted = 'terminated';
    else if (c.type === 'ready') wanted = stateOf.get(c.vm) === 'waiting' ? 'waiting' : 'terminated';
    if (wanted === undefined || !('vm' in c)) continue;
    if (c.type === 'killed') killed.add(c.vm);
    const from = stateOf.get(c.vm)!;
    if (allowed[from]?.includes(wanted) && decision[c.vm] === undefined) decision[c.vm] = wanted;
  }
  return { decision, killed };
}
