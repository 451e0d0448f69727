// Terminal facts: colour only on a terminal (and never with NO_COLOR or
// TERM=dumb; FORCE_COLOR forces it), and the width tables fit to.

export interface OutputStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

export function useColor(stream: Pick<OutputStream, 'isTTY'>, env: Record<string, string | undefined>): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  if (env.NO_COLOR !== undefined) return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
export type Color = keyof typeof CODES;

export function paint(text: string, color: Color, enabled: boolean): string {
  return enabled ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

/** Columns to fit tables into; undefined when not a terminal (no fitting, like Docker piped). */
export function terminalWidth(stream: Pick<OutputStream, 'isTTY' | 'columns'>): number | undefined {
  return stream.isTTY && stream.columns && stream.columns > 0 ? stream.columns : undefined;
}
