/** The part of the `highs` package this module uses. */
export interface HighsSolver {
  solve(lp: string, options?: Record<string, unknown>): { Status: string; ObjectiveValue: number };
}

export async function loadHighs(): Promise<HighsSolver> {
  // The package is CommonJS with a default export; under NodeNext its typed default is the module.
  const loader = (await import('highs')).default as unknown as () => Promise<HighsSolver>;
  return loader();
}
