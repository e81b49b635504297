import { type InputIssue, jsonPath } from '@entropy/protocol';
import * as z from 'zod';
import { amount, expected, nodeId, vjobId, vmId } from './schema-atoms.ts';
import type { Constraint, ConstraintType } from '../constraints/constraint.ts';

/**
 * The constraint catalog in Entropy's own JSON (instance files, vjob files, the controller's
 * `--constraints` file): the names and fields of constraint.ts, over Entropy's ids. `continuous`
 * is optional, with BtrPlace's default (true for spread and overbook, false otherwise). Wherever a
 * constraint takes VMs, `vjob` may stand for them: `{"type":"ban","vjob":"j3","nodes":["n2"]}` is a
 * ban of each VM of j3, `{"type":"spread","vjob":"j1"}` a spread of j1's VMs, and a part of VMs
 * (split, splitAmong) may be `{"vjob":"j2"}`. The schema checks shapes; resolveConstraints checks
 * the ids against what they name and expands the shorthand.
 */

const continuous = z.boolean(expected('true or false')).optional();
const nodes = z.array(nodeId, expected('an array of node ids'));
const vms = z.array(vmId, expected('an array of VM ids'));
const nodeParts = z.array(nodes, expected('an array of arrays of node ids'));
const vmPart = z.union([vms, z.strictObject({ vjob: vjobId })], {
  error: 'must be an array of VM ids or {"vjob": ID}',
});
const vmParts = z.array(vmPart, expected('an array of parts (arrays of VM ids or {"vjob": ID})'));
const count = z.number(expected('a number')).int({ error: 'must be an integer' }).min(0, {
  error: 'must not be negative',
});
const ratio = z.number(expected('a number')).finite().min(1, { error: 'must be at least 1' });
const rc = z.string(expected('a resource name')).min(1, { error: 'must not be empty' });

/** One VM: `vm`, or `vjob` for each of its VMs. */
const oneVm = { vm: vmId.optional(), vjob: vjobId.optional() };
/** A set of VMs: `vms`, or `vjob` for its VMs. */
const someVms = { vms: vms.optional(), vjob: vjobId.optional() };
const node = { node: nodeId };
const of = <T extends ConstraintType, S extends z.core.$ZodLooseShape>(type: T, shape: S) =>
  z.strictObject({ type: z.literal(type), ...shape });

const SCHEMAS = [
  of('online', node),
  of('offline', node),
  of('running', oneVm),
  of('ready', oneVm),
  of('sleeping', oneVm),
  of('killed', oneVm),
  of('preserve', { ...oneVm, rc, amount }),
  of('spread', { ...someVms, continuous }),
  of('among', { ...someVms, parts: nodeParts, continuous }),
  of('split', { parts: vmParts, continuous }),
  of('splitAmong', { vParts: vmParts, pParts: nodeParts, continuous }),
  of('gather', { ...someVms, continuous }),
  of('ban', { ...oneVm, nodes, continuous }),
  of('fence', { ...oneVm, nodes, continuous }),
  of('lonely', { ...someVms, continuous }),
  of('root', oneVm),
  of('quarantine', node),
  of('resourceCapacity', { nodes, rc, amount, continuous }),
  of('runningCapacity', { nodes, amount: count, continuous }),
  of('maxOnline', { nodes, amount: count, continuous }),
  of('overbook', { ...node, rc, ratio, continuous }),
] as const;

/** Every constraint type, in catalog order: what an unknown type's message lists. */
export const CONSTRAINT_TYPE_NAMES: readonly ConstraintType[] = SCHEMAS.map((s) => s.shape.type.value);

export const constraintSchema = z.discriminatedUnion('type', SCHEMAS, {
  error: (iss) => {
    if (iss.code !== 'invalid_union') return 'must be an object with a "type"';
    const type = (iss.input as { type?: unknown } | undefined)?.type;
    const known = `one of ${CONSTRAINT_TYPE_NAMES.join(', ')}`;
    return type === undefined ? `is required (${known})` : `unknown constraint type ${JSON.stringify(type)} (${known})`;
  },
});
export const constraintsSchema = z.array(constraintSchema, expected('an array of constraints'));

/** A constraint as its JSON says it: ids, or the vjob shorthand. */
export type ConstraintJson = z.output<typeof constraintSchema>;

/** What a constraint's ids are checked against. */
export interface ConstraintScope {
  /** What the ids are looked up in, as messages say it: `node 'n9' is not in the instance`. */
  readonly where: string;
  hasVm(id: string): boolean;
  /** A vjob's VMs, or undefined when the scope has no such vjob. */
  vmsOfVjob(id: string): readonly string[] | undefined;
  /** Absent: node names are not checked (a vjob file's or the cluster's, where nodes come and go). */
  hasNode?(id: string): boolean;
}

const DEFAULT_CONTINUOUS: Partial<Record<ConstraintType, boolean>> = { spread: true, overbook: true };

type Path = readonly PropertyKey[];

/**
 * Resolves one constraint's JSON: its ids checked against the scope, its vjob shorthand expanded
 * (a one-VM constraint becomes one per VM of the vjob), `continuous` defaulted. `path` is where the
 * constraint is in its file; every issue names the field under it.
 */
export function resolveConstraint(
  spec: ConstraintJson,
  scope: ConstraintScope,
  path: Path,
): { readonly constraints: readonly Constraint[]; readonly issues: readonly InputIssue[] } {
  const issues: InputIssue[] = [];
  const report = (at: Path, reason: string) => {
    issues.push({ path: jsonPath(at), reason });
    return undefined;
  };
  const nodeIds = (ids: readonly string[], at: Path) => {
    if (scope.hasNode) ids.forEach((n, i) => scope.hasNode!(n) || report([...at, i], notIn('node', n, scope)));
    return ids;
  };
  const oneNode = (n: string) => {
    if (scope.hasNode && !scope.hasNode(n)) report([...path, 'node'], notIn('node', n, scope));
  };
  const vmIds = (ids: readonly string[], at: Path) => {
    ids.forEach((v, i) => scope.hasVm(v) || report([...at, i], notIn('VM', v, scope)));
    return ids;
  };
  const vjobVms = (j: string, at: Path) => {
    const own = scope.vmsOfVjob(j);
    if (own === undefined) return report(at, notIn('vjob', j, scope));
    if (own.length === 0) return report(at, `vjob '${j}' has no VM`);
    return own;
  };
  /** The VMs of `vm`/`vms` or `vjob`: exactly one of the two. */
  const vmsOf = (s: { vm?: string; vms?: string[]; vjob?: string }, key: 'vm' | 'vms') => {
    const given = s[key];
    if (given !== undefined && s.vjob !== undefined)
      return report([...path, 'vjob'], `give either '${key}' or 'vjob', not both`);
    if (s.vjob !== undefined) return vjobVms(s.vjob, [...path, 'vjob']);
    if (given === undefined) return report([...path, key], `is required (or 'vjob' for every VM of a vjob)`);
    if (typeof given !== 'string') return vmIds(given, [...path, key]);
    return scope.hasVm(given) ? [given] : report([...path, key], notIn('VM', given, scope));
  };
  const disjoint = (parts: readonly (readonly string[])[], at: Path) => {
    const seen = new Set<string>();
    parts.forEach((p, i) => {
      for (const id of p) {
        if (seen.has(id)) report([...at, i], `'${id}' is in two parts (parts must be disjoint)`);
        seen.add(id);
      }
    });
    return parts;
  };
  const nodePartsOf = (ps: readonly (readonly string[])[], key: string) =>
    disjoint(
      ps.map((p, i) => nodeIds(p, [...path, key, i])),
      [...path, key],
    );
  const vmPartsOf = (ps: readonly (readonly string[] | { vjob: string })[], key: string) =>
    disjoint(
      ps.map((p, i) =>
        'vjob' in p ? (vjobVms(p.vjob, [...path, key, i, 'vjob']) ?? []) : vmIds(p, [...path, key, i]),
      ),
      [...path, key],
    );
  const flag = (c: { continuous?: boolean | undefined }) => c.continuous ?? DEFAULT_CONTINUOUS[spec.type] ?? false;

  const out: Constraint[] = [];
  const eachVm = (build: (vm: string) => Constraint) => {
    const ids = vmsOf(spec as { vm?: string; vjob?: string }, 'vm');
    if (ids) for (const vm of ids) out.push(build(vm));
  };
  const s = spec;
  switch (s.type) {
    case 'online':
    case 'offline':
    case 'quarantine':
      oneNode(s.node);
      out.push({ type: s.type, node: s.node });
      break;
    case 'running':
    case 'ready':
    case 'sleeping':
    case 'killed':
    case 'root':
      eachVm((vm) => ({ type: s.type, vm }));
      break;
    case 'preserve':
      eachVm((vm) => ({ type: 'preserve', vm, rc: s.rc, amount: s.amount }));
      break;
    case 'ban':
    case 'fence':
      nodeIds(s.nodes, [...path, 'nodes']);
      eachVm((vm) => ({ type: s.type, vm, nodes: s.nodes, continuous: flag(s) }));
      break;
    case 'spread':
    case 'gather':
    case 'lonely': {
      const ids = vmsOf(s, 'vms');
      if (ids) out.push({ type: s.type, vms: ids, continuous: flag(s) });
      break;
    }
    case 'among': {
      const ids = vmsOf(s, 'vms');
      const parts = nodePartsOf(s.parts, 'parts');
      if (ids) out.push({ type: 'among', vms: ids, parts, continuous: flag(s) });
      break;
    }
    case 'split':
      out.push({ type: 'split', parts: vmPartsOf(s.parts, 'parts'), continuous: flag(s) });
      break;
    case 'splitAmong':
      out.push({
        type: 'splitAmong',
        vParts: vmPartsOf(s.vParts, 'vParts'),
        pParts: nodePartsOf(s.pParts, 'pParts'),
        continuous: flag(s),
      });
      break;
    case 'resourceCapacity':
      out.push({
        type: s.type,
        nodes: nodeIds(s.nodes, [...path, 'nodes']),
        rc: s.rc,
        amount: s.amount,
        continuous: flag(s),
      });
      break;
    case 'runningCapacity':
    case 'maxOnline':
      out.push({ type: s.type, nodes: nodeIds(s.nodes, [...path, 'nodes']), amount: s.amount, continuous: flag(s) });
      break;
    case 'overbook':
      oneNode(s.node);
      out.push({ type: 'overbook', node: s.node, rc: s.rc, ratio: s.ratio, continuous: flag(s) });
      break;
  }
  return issues.length > 0 ? { constraints: [], issues } : { constraints: out, issues };
}

const notIn = (what: string, id: string, scope: ConstraintScope) => `${what} '${id}' is not in ${scope.where}`;

/** Every constraint of a file's array resolved; `path` is the array's (`['constraints']`). */
export function resolveConstraints(
  specs: readonly ConstraintJson[],
  scope: ConstraintScope,
  path: Path,
): { readonly constraints: readonly Constraint[]; readonly issues: readonly InputIssue[] } {
  const constraints: Constraint[] = [];
  const issues: InputIssue[] = [];
  specs.forEach((spec, i) => {
    const r = resolveConstraint(spec, scope, [...path, i]);
    constraints.push(...r.constraints);
    issues.push(...r.issues);
  });
  return { constraints, issues };
}

/** Every id is taken as it is: constraints stored after they were resolved (a vjob's, in the queue store). */
const OPEN_SCOPE: ConstraintScope = { where: 'the store', hasVm: () => true, vmsOfVjob: () => undefined };

/** Constraints as stored once resolved: ids only (a vjob shorthand is an issue), read back into Constraints. */
export const resolvedConstraintsSchema = constraintsSchema.transform((specs, ctx) => {
  const r = resolveConstraints(specs, OPEN_SCOPE, []);
  for (const i of r.issues) ctx.issues.push({ code: 'custom', message: `${i.path}: ${i.reason}`, input: specs });
  return r.constraints;
});
