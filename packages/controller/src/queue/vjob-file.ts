import { ErrorCode, type InputIssue, InvalidInputError, jsonPath, TOKEN_RE, VM_ID_RE } from '@entropy/protocol';
import * as z from 'zod';
import { expectedMessage as expected, inputIssues, quantitySchema as amount, type Resources } from '@entropy/engine';

/**
 * A vjob file, the input of `entropy submit`:
 *
 * ```json
 * { "id": "j1", "priority": 0,
 *   "vms": [{ "id": "j1-vm1", "cpu": 1, "mem": 512 }, { "id": "j1-vm2", "cpu": 1, "mem": 512, "resources": { "gpu": 1 } }] }
 * ```
 * The vjob id is one subject token (it keys the queue store); VM ids follow the protocol's rule
 * (they reach hypervisor command lines). The controller assigns `submittedAt`.
 */
export interface VJobSpec {
  readonly id: string;
  readonly priority: number;
  readonly vms: readonly VMSpec[];
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
});

const MAX_ISSUES = 20;

/** Validates a vjob file's JSON; throws InvalidInputError (ENTROPY_INVALID_VJOB) naming every problem's JSON path. */
export function parseVJobFile(json: unknown, file = 'vjob'): VJobSpec {
  const shaped = vjobFileSchema.safeParse(json);
  if (!shaped.success) {
    throw new InvalidInputError(ErrorCode.InvalidVJob, file, inputIssues(shaped.error).slice(0, MAX_ISSUES));
  }
  const { id, priority, vms } = shaped.data;
  const issues: InputIssue[] = [];
  const seen = new Set<string>();
  vms.forEach((vm, i) => {
    if (seen.has(vm.id)) issues.push({ path: jsonPath(['vms', i, 'id']), reason: `duplicate VM id '${vm.id}'` });
    seen.add(vm.id);
  });
  if (issues.length > 0) throw new InvalidInputError(ErrorCode.InvalidVJob, file, issues.slice(0, MAX_ISSUES));
  return { id, priority, vms: vms.map((vm) => ({ id: vm.id, demand: { ...vm.resources, cpu: vm.cpu, mem: vm.mem } })) };
}
