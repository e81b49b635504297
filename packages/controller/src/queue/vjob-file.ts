import { ErrorCode, type InputIssue, InvalidInputError, jsonPath, TOKEN_RE, VM_ID_RE } from '@entropy/protocol';
import * as z from 'zod';
import {
  type Constraint,
  type ConstraintJson,
  constraintsSchema,
  expectedMessage as expected,
  inputIssues,
  quantitySchema as amount,
  type Resources,
  resolveConstraints,
} from '@entropy/engine';

/**
 * A vjob file, the input of `entropy submit`:
 *
 * ```json
 * { "id": "j1", "priority": 0,
 *   "vms": [{ "id": "j1-vm1", "cpu": 1, "mem": 512 }, { "id": "j1-vm2", "cpu": 1, "mem": 512, "resources": { "gpu": 1 } }] }
 * ```
 * The vjob id is one subject token (it keys the queue store); VM ids follow the protocol's rule
 * (they reach hypervisor command lines). The controller assigns `submittedAt`. An optional
 * `constraints` array holds placement constraints (the engine's constraint JSON) over the vjob's
 * own VMs: a VM id of the file, or `"vjob": ID` for all of them; node names are free.
 */
export interface VJobSpec {
  readonly id: string;
  readonly priority: number;
  readonly vms: readonly VMSpec[];
  /** Resolved: VM ids only, `continuous` set. */
  readonly constraints?: readonly Constraint[];
}

export interface VMSpec {
  readonly id: string;
  /** `cpu` and `mem`, and the named resources of the file's `resources` map. */
  readonly demand: Resources;
}

const idOf = (re: RegExp, what: string) =>
  z.string(expected('a string')).regex(re, { error: `must be ${what} (${re.source})` });

const vmSchema = z.strictObject({
  id: idOf(VM_ID_RE, 'a VM id: letters, digits, _ . : -, not starting with - or .'),
  cpu: amount,
  mem: amount,
  resources: z
    .record(z.string(), amount, expected('an object of named amounts'))
    .refine((r) => !('cpu' in r) && !('mem' in r), {
      error: "must not repeat cpu or mem (give them as the VM's own fields)",
    })
    .optional(),
});

export const vjobFileSchema = z.strictObject({
  id: idOf(TOKEN_RE, 'a vjob id: 1 to 64 letters, digits, _ or -'),
  priority: z.number(expected('a number')).finite().default(0),
  vms: z.array(vmSchema, expected('an array of VMs')).min(1, { error: 'must list at least one VM' }),
  constraints: constraintsSchema.optional(),
});

const MAX_ISSUES = 20;

/** Validates a vjob file's JSON; throws InvalidInputError (ENTROPY_INVALID_VJOB) naming every problem's JSON path. */
export function parseVJobFile(json: unknown, file = 'vjob'): VJobSpec {
  const shaped = vjobFileSchema.safeParse(json);
  if (!shaped.success) {
    throw new InvalidInputError(ErrorCode.InvalidVJob, file, inputIssues(shaped.error).slice(0, MAX_ISSUES));
  }
  const { id, priority, vms } = shaped.data;
  const resolved = vjobConstraints(
    id,
    vms.map((vm) => vm.id),
    shaped.data.constraints ?? [],
    ['constraints'],
  );
  const issues: InputIssue[] = [...resolved.issues];
  const seen = new Set<string>();
  vms.forEach((vm, i) => {
    if (seen.has(vm.id)) issues.push({ path: jsonPath(['vms', i, 'id']), reason: `duplicate VM id '${vm.id}'` });
    seen.add(vm.id);
  });
  if (issues.length > 0) throw new InvalidInputError(ErrorCode.InvalidVJob, file, issues.slice(0, MAX_ISSUES));
  return {
    id,
    priority,
    vms: vms.map((vm) => ({ id: vm.id, demand: { ...vm.resources, cpu: vm.cpu, mem: vm.mem } })),
    ...(resolved.constraints.length > 0 ? { constraints: resolved.constraints } : {}),
  };
}

/** A vjob's constraints resolved against its own VMs (a file's, or a submit request's on receipt). */
export function vjobConstraints(
  id: string,
  vms: readonly string[],
  specs: readonly ConstraintJson[],
  path: readonly PropertyKey[],
): { readonly constraints: readonly Constraint[]; readonly issues: readonly InputIssue[] } {
  const own = new Set(vms);
  return resolveConstraints(
    specs,
    {
      where: `vjob ${id} (a vjob's constraints name only its own VMs)`,
      hasVm: (vm) => own.has(vm),
      vmsOfVjob: (j) => (j === id ? vms : undefined),
    },
    path,
  );
}

const submittedConstraints = z.object({ vjob: z.object({ constraints: constraintsSchema.optional() }) });

/**
 * A submit request's constraints (their JSON, already shaped by the protocol), checked on receipt as
 * the CLI checked the file: resolved, or the first problem with its path (`$.vjob.constraints[0].vm`).
 */
export function submittedVjobConstraints(vjob: {
  readonly id: string;
  readonly vms: readonly { readonly id: string }[];
  readonly constraints?: readonly unknown[];
}): { readonly constraints: readonly Constraint[] } | { readonly issue: InputIssue } {
  if (vjob.constraints === undefined) return { constraints: [] };
  const shaped = submittedConstraints.safeParse({ vjob: { constraints: vjob.constraints } });
  if (!shaped.success) return { issue: inputIssues(shaped.error)[0]! };
  const r = vjobConstraints(
    vjob.id,
    vjob.vms.map((v) => v.id),
    shaped.data.vjob.constraints ?? [],
    ['vjob', 'constraints'],
  );
  return r.issues.length > 0 ? { issue: r.issues[0]! } : { constraints: r.constraints };
}
