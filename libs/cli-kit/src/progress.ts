// Progress output for pull/push/load/save, like Docker's jsonmessage
// renderer: on a terminal one line per layer id updated in place
// ("3f4ca61aafcd: Downloading [=====>     ]  1.2MB/5MB"); otherwise plain
// lines, one per status change, without bars (logs stay readable).
import type { OutputStream } from './terminal';
import { humanSize } from './units';

export interface ProgressEvent {
  /** Layer or object id; events without one are printed as plain lines. */
  id?: string;
  /** "Pulling fs layer", "Downloading", "Extracting", "Pull complete"... */
  status: string;
  /** Bytes done / total (total 0 = unknown). */
  current?: number;
  total?: number;
  /** An error ends the stream: printed, and `render` reports it. */
  error?: string;
}

/** Docker's progress text: bar only on wide terminals (> 110 columns). */
export function progressText(current: number, total: number, width: number): string {
  if (total <= 0) return humanSize(current, 4).padStart(8);
  let pct = Math.floor((current / total) * 100 / 2);
  if (pct > 50) pct = 50;
  const bar = width > 110 ? `[${'='.repeat(pct)}>${' '.repeat(50 - pct)}] ` : '';
  return `${bar}${humanSize(current, 4).padStart(8)}/${humanSize(total, 4)}`;
}

export class ProgressRenderer {
  private readonly lines: string[] = []; // ids in screen order (TTY)
  private readonly lastStatus = new Map<string, string>();
  private readonly tty: boolean;
  private readonly width: number;

  constructor(private readonly out: OutputStream) {
    this.tty = out.isTTY === true;
    this.width = out.columns ?? 80;
  }

  /** Renders one event. */
  update(ev: ProgressEvent): void {
    if (ev.error) {
      this.out.write(`${ev.id ? `${ev.id}: ` : ''}${ev.error}\n`);
      return;
    }
    const hasProgress = ev.current !== undefined && (ev.total ?? 0) >= 0 && ev.status !== '';
    const text = `${ev.id ? `${ev.id}: ` : ''}${ev.status}${this.tty && hasProgress && ev.current !== undefined ? ` ${progressText(ev.current, ev.total ?? 0, this.width)}` : ''}`;
    if (!ev.id) { this.out.write(`${text}\n`); return; }
    if (!this.tty) {
      if (this.lastStatus.get(ev.id) === ev.status) return;
      this.lastStatus.set(ev.id, ev.status);
      this.out.write(`${text}\n`);
      return;
    }
    const idx = this.lines.indexOf(ev.id);
    if (idx < 0) {
      this.lines.push(ev.id);
      this.out.write(`${text}\n`);
      return;
    }
    // Move up to the id's line, rewrite it, move back down.
    const up = this.lines.length - idx;
    this.out.write(`\x1b[${up}A\x1b[2K\r${text}\x1b[${up}B\r`);
  }
}
