/** Named resource dimensions: `cpu` and `mem` by default, any others an instance declares. */
export type Resources = Readonly<Record<string, number>>;

export const DEFAULT_DIMENSIONS = ['cpu', 'mem'] as const;

/** The union of dimension names used by any of the given resource maps, `cpu` and `mem` first. */
export function dimensionsOf(all: Iterable<Resources>): string[] {
  const names = new Set<string>(DEFAULT_DIMENSIONS);
  for (const r of all) for (const k of Object.keys(r)) names.add(k);
  return [...names];
}
