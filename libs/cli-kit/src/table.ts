// Column alignment as Docker prints tables: Go's text/tabwriter with
// minwidth 10, padding 3, cells separated by tabs, the last cell of a line
// not padded. Optionally fitted to the terminal width by shortening the
// widest shrinkable columns with "…" (Docker leaves long lines to wrap;
// berth prefers a readable table when a width is known).

export interface TableOptions {
  /** Minimum cell width including padding (Docker: 10). */
  minWidth?: number;
  /** Spaces after each cell (Docker: 3). */
  padding?: number;
  /** Terminal columns; undefined = no limit (not a TTY). */
  maxWidth?: number;
  /** Column indexes that may be shortened to fit maxWidth (e.g. COMMAND, PORTS). */
  shrinkable?: number[];
  /** A shrunk column keeps at least this many characters. */
  minShrunk?: number;
}

const width = (s: string): number => [...s].length;

/** Shortens s to n characters with a trailing "…" (Docker's formatter.Ellipsis). */
export function ellipsis(s: string, n: number): string {
  const r = [...s];
  if (r.length <= n) return s;
  if (n <= 1) return r.slice(0, n).join('');
  return r.slice(0, n - 1).join('') + '…';
}

/** Aligns rows of cells; returns the text with a trailing newline per row. */
export function renderTable(rows: string[][], o: TableOptions = {}): string {
  const minWidth = o.minWidth ?? 10;
  const padding = o.padding ?? 3;
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const cells = rows.map((r) => [...r]);
  const colWidths = (): number[] => {
    const w: number[] = [];
    for (let c = 0; c < cols - 1; c++) {
      const m = Math.max(0, ...cells.filter((r) => c < r.length - 1).map((r) => width(r[c]!)));
      w.push(Math.max(minWidth, m + padding));
    }
    return w;
  };
  let w = colWidths();
  if (o.maxWidth !== undefined && o.shrinkable?.length) {
    const lineWidth = (): number => Math.max(0, ...cells.map((r) => r.reduce((acc, cell, c) => acc + (c < r.length - 1 ? w[c]! : width(cell)), 0)));
    const minShrunk = o.minShrunk ?? 10;
    for (let guard = 0; guard < 10_000 && lineWidth() > o.maxWidth; guard++) {
      // Shorten the widest shrinkable column by the excess (at least one character).
      const content = (c: number): number => Math.max(0, ...cells.map((r) => (r[c] === undefined ? 0 : width(r[c]!))));
      const target = o.shrinkable.filter((c) => c < cols && content(c) > minShrunk).sort((a, b) => content(b) - content(a))[0];
      if (target === undefined) break;
      const newLen = Math.max(minShrunk, content(target) - (lineWidth() - o.maxWidth));
      for (const r of cells) if (r[target] !== undefined) r[target] = ellipsis(r[target]!, newLen);
      w = colWidths();
    }
  }
  return cells.map((r) => r.map((cell, c) => (c < r.length - 1 ? cell.padEnd(w[c]! + cell.length - width(cell)) : cell)).join('').trimEnd() + '\n').join('');
}
