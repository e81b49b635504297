import type { Constraint } from '../constraints/constraint.ts';
import { nodeName, vmName } from './ids.ts';
import type { JsonReader } from './json-reader.ts';

type Path = readonly PropertyKey[];

/** What a converter reads a constraint with: the reader, and the VMs and nodes the model declares. */
export interface ConverterContext {
  readonly r: JsonReader;
  readonly vms: ReadonlySet<number>;
  readonly nodes: ReadonlySet<number>;
  /** Identical groups (BtrPlace repeats one node partition in hundreds of among constraints) are read once and shared. */
  readonly partsCache: Map<string, readonly (readonly string[])[]>;
}

type Converter = (o: Record<string, unknown>, path: Path, ctx: ConverterContext) => Constraint | undefined;

function vm(ctx: ConverterContext, o: Record<string, unknown>, path: Path, key = 'vm'): string | undefined {
  const id = ctx.r.int(o[key], [...path, key]);
  if (id === undefined) return undefined;
  if (!ctx.vms.has(id)) return ctx.r.report([...path, key], `unknown VM ${id}`);
  return vmName(id);
}

function node(ctx: ConverterContext, o: Record<string, unknown>, path: Path, key = 'node'): string | undefined {
  const id = ctx.r.int(o[key], [...path, key]);
  if (id === undefined) return undefined;
  if (!ctx.nodes.has(id)) return ctx.r.report([...path, key], `unknown node ${id}`);
  return nodeName(id);
}

function ids(
  ctx: ConverterContext,
  x: unknown,
  path: Path,
  known: ReadonlySet<number>,
  what: string,
  name: (id: number) => string,
): string[] | undefined {
  const list = ctx.r.array(x, path);
  if (!list) return undefined;
  const out: string[] = [];
  let ok = true;
  list.forEach((e, i) => {
    const id = ctx.r.int(e, [...path, i]);
    if (id === undefined) ok = false;
    else if (!known.has(id)) ok = !!ctx.r.report([...path, i], `unknown ${what} ${id}`);
    else out.push(name(id));
  });
  return ok ? out : undefined;
}

const vmList = (ctx: ConverterContext, o: Record<string, unknown>, path: Path, key = 'vms') =>
  ids(ctx, o[key], [...path, key], ctx.vms, 'VM', vmName);
const nodeList = (ctx: ConverterContext, o: Record<string, unknown>, path: Path, key = 'nodes') =>
  ids(ctx, o[key], [...path, key], ctx.nodes, 'node', nodeName);

function parts(
  ctx: ConverterContext,
  o: Record<string, unknown>,
  path: Path,
  key: string,
  kind: 'VM' | 'node',
): readonly (readonly string[])[] | undefined {
  const x = o[key];
  const cacheKey = `${kind}:${JSON.stringify(x)}`;
  const hit = ctx.partsCache.get(cacheKey);
  if (hit) return hit;
  const list = ctx.r.array(x, [...path, key]);
  if (!list) return undefined;
  const out: string[][] = [];
  const seen = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    const part =
      kind === 'VM'
        ? ids(ctx, list[i], [...path, key, i], ctx.vms, 'VM', vmName)
        : ids(ctx, list[i], [...path, key, i], ctx.nodes, 'node', nodeName);
    if (!part) return undefined;
    for (const id of part) {
      if (seen.has(id)) return ctx.r.report([...path, key, i], `${id} is in two parts (parts must be disjoint)`);
      seen.add(id);
    }
    out.push(part);
  }
  ctx.partsCache.set(cacheKey, out);
  return out;
}

const continuous = (ctx: ConverterContext, o: Record<string, unknown>, path: Path, fallback = false) =>
  ctx.r.boolean(o.continuous, [...path, 'continuous'], fallback);

function amount(ctx: ConverterContext, o: Record<string, unknown>, path: Path, key = 'amount'): number | undefined {
  const n = ctx.r.int(o[key], [...path, key]);
  if (n !== undefined && n < 0) return ctx.r.report([...path, key], 'must not be negative');
  return n;
}

/** Builds a constraint when every field it needs was read (undefined ones were reported). */
function all<const T extends readonly unknown[]>(
  values: T,
  build: (...v: { [K in keyof T]: NonNullable<T[K]> }) => Constraint,
): Constraint | undefined {
  return values.every((v) => v !== undefined) ? build(...(values as { [K in keyof T]: NonNullable<T[K]> })) : undefined;
}

/**
 * BtrPlace's constraint JSON (json/.../model/constraint/*Converter.java), one reader per id. The
 * `continuous` flag defaults to BtrPlace's own default where its converters would require it.
 */
export const CONSTRAINT_CONVERTERS: Readonly<Record<string, Converter>> = {
  online: (o, p, c) => all([node(c, o, p)], (n) => ({ type: 'online', node: n })),
  offline: (o, p, c) => all([node(c, o, p)], (n) => ({ type: 'offline', node: n })),
  running: (o, p, c) => all([vm(c, o, p)], (v) => ({ type: 'running', vm: v })),
  ready: (o, p, c) => all([vm(c, o, p)], (v) => ({ type: 'ready', vm: v })),
  sleeping: (o, p, c) => all([vm(c, o, p)], (v) => ({ type: 'sleeping', vm: v })),
  killed: (o, p, c) => all([vm(c, o, p)], (v) => ({ type: 'killed', vm: v })),
  root: (o, p, c) => all([vm(c, o, p)], (v) => ({ type: 'root', vm: v })),
  quarantine: (o, p, c) => all([node(c, o, p)], (n) => ({ type: 'quarantine', node: n })),
  preserve: (o, p, c) =>
    all([vm(c, o, p), c.r.string(o.rc, [...p, 'rc']), amount(c, o, p)], (v, rc, a) => ({
      type: 'preserve',
      vm: v,
      rc,
      amount: a,
    })),
  spread: (o, p, c) =>
    all([vmList(c, o, p)], (vms) => ({ type: 'spread', vms, continuous: continuous(c, o, p, true) })),
  gather: (o, p, c) => all([vmList(c, o, p)], (vms) => ({ type: 'gather', vms, continuous: continuous(c, o, p) })),
  lonely: (o, p, c) => all([vmList(c, o, p)], (vms) => ({ type: 'lonely', vms, continuous: continuous(c, o, p) })),
  among: (o, p, c) =>
    all([vmList(c, o, p), parts(c, o, p, 'parts', 'node')], (vms, ps) => ({
      type: 'among',
      vms,
      parts: ps,
      continuous: continuous(c, o, p),
    })),
  split: (o, p, c) =>
    all([parts(c, o, p, 'parts', 'VM')], (ps) => ({ type: 'split', parts: ps, continuous: continuous(c, o, p) })),
  splitAmong: (o, p, c) =>
    all([parts(c, o, p, 'vParts', 'VM'), parts(c, o, p, 'pParts', 'node')], (vParts, pParts) => ({
      type: 'splitAmong',
      vParts,
      pParts,
      continuous: continuous(c, o, p),
    })),
  ban: (o, p, c) =>
    all([vm(c, o, p), nodeList(c, o, p)], (v, nodes) => ({
      type: 'ban',
      vm: v,
      nodes,
      continuous: continuous(c, o, p),
    })),
  fence: (o, p, c) =>
    all([vm(c, o, p), nodeList(c, o, p)], (v, nodes) => ({
      type: 'fence',
      vm: v,
      nodes,
      continuous: continuous(c, o, p),
    })),
  resourceCapacity: (o, p, c) =>
    all([nodeList(c, o, p), c.r.string(o.rc, [...p, 'rc']), amount(c, o, p)], (nodes, rc, a) => ({
      type: 'resourceCapacity',
      nodes,
      rc,
      amount: a,
      continuous: continuous(c, o, p),
    })),
  runningCapacity: (o, p, c) =>
    all([nodeList(c, o, p), amount(c, o, p)], (nodes, a) => ({
      type: 'runningCapacity',
      nodes,
      amount: a,
      continuous: continuous(c, o, p),
    })),
  maxOnline: (o, p, c) =>
    all([nodeList(c, o, p), amount(c, o, p)], (nodes, a) => ({
      type: 'maxOnline',
      nodes,
      amount: a,
      continuous: continuous(c, o, p),
    })),
  overbook(o, p, c) {
    const ratio = c.r.number(o.ratio, [...p, 'ratio']);
    if (ratio !== undefined && ratio < 1) return c.r.report([...p, 'ratio'], `must be at least 1, got ${ratio}`);
    return all([node(c, o, p), c.r.string(o.rc, [...p, 'rc']), ratio], (n, rc, r) => ({
      type: 'overbook',
      node: n,
      rc,
      ratio: r,
      continuous: continuous(c, o, p, true),
    }));
  },
};

/** Constraints BtrPlace knows that Entropy does not implement: named as such, not as unknown. */
export const UNSUPPORTED_CONSTRAINTS: ReadonlySet<string> = new Set([
  'seq',
  'deadline',
  'serialize',
  'sync',
  'noDelay',
  'precedence',
  'minMTTRMig',
]);
