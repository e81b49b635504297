import { join } from 'node:path';
import { demandSchema, VM_ID_RE } from '@entropy/protocol';
import * as z from 'zod';
import { readJsonFile, StateDirError, writeFileAtomic } from '../state/state-dir.ts';

/** The states a simulated hypervisor holds a VM in (a stopped VM is gone). */
export const SIM_VM_STATES = ['running', 'paused', 'sleeping'] as const;
export type SimVMState = (typeof SIM_VM_STATES)[number];

/** One VM as `--sim-vms` gives it and as the state file keeps it. */
export const simVmSchema = z.strictObject({
  id: z.string().regex(VM_ID_RE),
  vjob: z.string().min(1).optional(),
  state: z.enum(SIM_VM_STATES),
  demand: demandSchema,
});
export type SimVMRecord = z.infer<typeof simVmSchema>;
export const simVmsSchema = z.array(simVmSchema);

const stateFileSchema = z.object({ vms: simVmsSchema });

/** The simulated hypervisor's VMs live here, in the agent's state directory: like a real hypervisor's, they outlive the agent. */
export const SIM_STATE_FILE = 'sim-hypervisor.json';
export const simStateFile = (stateDir: string) => join(stateDir, SIM_STATE_FILE);

/** The VMs of the state file, or undefined when there is none yet (first start). */
export function loadSimState(file: string): SimVMRecord[] | undefined {
  const json = readJsonFile(file);
  if (json === undefined) return undefined;
  const r = stateFileSchema.safeParse(json);
  if (!r.success) throw new StateDirError(file, `not a sim hypervisor state: ${r.error.issues[0]?.message}`);
  return r.data.vms;
}

export function saveSimState(file: string, vms: Iterable<SimVMRecord>): void {
  const out: SimVMRecord[] = [];
  for (const v of vms)
    out.push({ id: v.id, ...(v.vjob !== undefined ? { vjob: v.vjob } : {}), state: v.state, demand: v.demand });
  writeFileAtomic(file, JSON.stringify({ vms: out }));
}
