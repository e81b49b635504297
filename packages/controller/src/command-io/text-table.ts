/** The lines of a left-aligned text table, columns two spaces apart, trailing spaces trimmed. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/**
 * An integer with comma thousands separators (12,345), as toLocaleString('en-US') writes it, without loading
 * ICU's locale data: that first Intl call costs a short command tens of milliseconds.
 */
export function withThousands(n: number): string {
  const digits = String(Math.abs(Math.round(n)));
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return n < 0 && Math.round(n) !== 0 ? `-${grouped}` : grouped;
}
