/** Turns cumulative CPU seconds per VM into cores used since the previous sample. */
export class CpuSampler {
  private readonly last = new Map<string, { cpuSeconds: number; at: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  /** Cores used by `vm` since its previous sample; undefined on the first sample. */
  sample(vm: string, cpuSeconds: number): number | undefined {
    const at = this.now();
    const prev = this.last.get(vm);
    this.last.set(vm, { cpuSeconds, at });
    if (!prev || at <= prev.at || cpuSeconds < prev.cpuSeconds) return undefined;
    return Math.round(((cpuSeconds - prev.cpuSeconds) / ((at - prev.at) / 1000)) * 1000) / 1000;
  }

  /** Forgets VMs that are gone, so a VM reappearing later starts afresh. */
  keepOnly(vms: Iterable<string>): void {
    const keep = new Set(vms);
    for (const id of this.last.keys()) if (!keep.has(id)) this.last.delete(id);
  }
}
