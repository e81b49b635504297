import { type ActionRequest, demandSchema } from '@entropy/protocol';
import * as z from 'zod';
import { readJsonFile, writeFileAtomic } from './state-dir.ts';

/** What the agent knows of a VM beyond the hypervisor: its vjob and demand, from action requests or the controller. */
export type VMMetadata = Pick<ActionRequest, 'vjob' | 'demand'>;

const fileSchema = z.object({ vms: z.record(z.string(), z.object({ vjob: z.string().min(1), demand: demandSchema })) });

const same = (a: VMMetadata | undefined, b: VMMetadata) =>
  a !== undefined && a.vjob === b.vjob && JSON.stringify(a.demand) === JSON.stringify(b.demand);

/**
 * Each VM's vjob and demand, kept in a file (when given) rewritten whole on every change: a node
 * holds tens of VMs, and their metadata changes when actions start and end, not per status.
 */
export class VMMetaStore {
  private readonly vms = new Map<string, VMMetadata>();

  /** `onProblem` hears of an unreadable file; the store then starts empty (the controller can send the metadata again). */
  constructor(
    private readonly file?: string,
    onProblem?: (message: string) => void,
  ) {
    if (!file) return;
    try {
      const json = readJsonFile(file);
      if (json === undefined) return;
      const r = fileSchema.safeParse(json);
      if (!r.success) throw new Error(`${file}: ${r.error.issues[0]?.message}`);
      for (const [vm, m] of Object.entries(r.data.vms)) this.vms.set(vm, m);
    } catch (err) {
      onProblem?.((err as Error).message);
    }
  }

  get(vm: string): VMMetadata | undefined {
    return this.vms.get(vm);
  }

  /** Returns whether anything changed. */
  set(vm: string, meta: VMMetadata): boolean {
    return this.setAll([[vm, meta]]) > 0;
  }

  /** Sets several at once (one file write); returns how many changed. */
  setAll(entries: Iterable<readonly [string, VMMetadata]>): number {
    let changed = 0;
    for (const [vm, m] of entries) {
      if (same(this.vms.get(vm), m)) continue;
      this.vms.set(vm, { vjob: m.vjob, demand: { ...m.demand } });
      changed++;
    }
    if (changed > 0) this.save();
    return changed;
  }

  /** Puts back what `get` returned before (deletes when it was undefined). */
  restore(vm: string, before: VMMetadata | undefined): void {
    if (before) this.set(vm, before);
    else this.delete(vm);
  }

  delete(vm: string): boolean {
    if (!this.vms.delete(vm)) return false;
    this.save();
    return true;
  }

  /** Forgets the VMs not in `ids` (the node no longer holds them); returns how many were dropped. */
  keepOnly(ids: Iterable<string>): number {
    const keep = new Set(ids);
    let dropped = 0;
    for (const vm of this.vms.keys()) if (!keep.has(vm) && this.vms.delete(vm)) dropped++;
    if (dropped > 0) this.save();
    return dropped;
  }

  private save(): void {
    if (this.file) writeFileAtomic(this.file, JSON.stringify({ vms: Object.fromEntries(this.vms) }));
  }
}
