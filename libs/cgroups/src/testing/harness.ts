// Test support for the cgroups lib: a unique parent per test file
// (berth-test-<random>), real child processes to put in cgroups, and cleanup
// that kills what the test started and removes the parent in every hierarchy
// even when the test failed.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CgroupsManager, detectCgroupLayout, type CgroupsManagerOptions } from '../index';

export const layout = detectCgroupLayout();
export const isV1Host = layout.version === 'v1';

export function testParent(): string {
  return `berth-test-${randomBytes(4).toString('hex')}`;
}

export class Harness {
  readonly parent = testParent();
  readonly stateDir = mkdtempSync(join(tmpdir(), 'berth-cgroups-state-'));
  readonly children: ChildProcess[] = [];
  readonly managers: CgroupsManager[] = [];
  private readonly extra: (() => void)[] = [];

  /** Runs `fn` at cleanup (after the processes are gone). */
  onCleanup(fn: () => void): void {
    this.extra.push(fn);
  }

  manager(opts: Partial<CgroupsManagerOptions> = {}): CgroupsManager {
    const m = new CgroupsManager({ stateDir: this.stateDir, parent: this.parent, ...opts });
    this.managers.push(m);
    return m;
  }

  /**
   * Starts a host process (sh -c script) in its own process group and
   * remembers it for cleanup. Scripts start with `read go &&` so a shell whose
   * test died (stdin closed) exits instead of running on.
   */
  spawn(script: string): ChildProcess {
    const c = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.children.push(c);
    return c;
  }

  spawnCmd(cmd: string, args: string[]): ChildProcess {
    const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(c);
    return c;
  }

  /** Directories of the test parent in every hierarchy. */
  parentDirs(): string[] {
    if (layout.version === 'v2') return [join(layout.unifiedRoot!, this.parent)];
    return [...new Set(Object.values(layout.v1Mounts))].map((m) => join(m, this.parent));
  }

  async cleanup(): Promise<void> {
    for (const m of this.managers) m.close();
    // Kill every process left in the test's cgroups (including grandchildren
    // a test started from a shell), then our own children.
    // Up to 10 s: a task in an fsync (D state) dies only when its I/O completes.
    for (let round = 0; round < 200; round++) {
      const pids = new Set<number>();
      for (const dir of this.parentDirs()) collectPids(dir, pids);
      for (const c of this.children) {
        // Each child leads its own process group: take any grandchildren with it.
        try {
          if (c.pid) process.kill(-c.pid, 'SIGKILL');
        } catch {
          /* group gone */
        }
        if (c.pid && c.exitCode === null && c.signalCode === null) pids.add(c.pid);
      }
      if (pids.size === 0) break;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      // Thaw, in case a test left the cgroup frozen (a frozen task cannot die).
      for (const dir of this.parentDirs()) thawTree(dir);
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const dir of this.parentDirs()) await removeTree(dir);
    for (const fn of this.extra) fn();
    rmSync(this.stateDir, { recursive: true, force: true });
    const left = this.parentDirs().filter((d) => existsSync(d));
    if (left.length) throw new Error(`test cleanup could not remove ${left.join(', ')}`);
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(dir, d.name));
  } catch {
    return [];
  }
}

function collectPids(dir: string, into: Set<number>): void {
  if (!existsSync(dir)) return;
  try {
    for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) into.add(Number(p));
  } catch {
    /* vanished */
  }
  for (const d of subdirs(dir)) collectPids(d, into);
}

function thawTree(dir: string): void {
  if (!existsSync(dir)) return;
  const thaw: [string, string][] = [['freezer.state', 'THAWED'], ['cgroup.freeze', '0']];
  for (const [file, value] of thaw) {
    try {
      if (existsSync(join(dir, file))) writeFileSync(join(dir, file), value);
    } catch {
      /* not there */
    }
  }
  for (const d of subdirs(dir)) thawTree(d);
}

async function removeTree(dir: string): Promise<void> {
  for (const d of subdirs(dir)) await removeTree(d);
  for (let i = 0; i < 100; i++) {
    try {
      rmdirSync(dir);
      return;
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds or fails after timeoutMs. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Resolves with the child's exit (code, signal). */
export function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((r) => c.once('exit', (code, signal) => r({ code, signal })));
}

/** Releases a script waiting in `read go` (so it starts work only once it is in the cgroup). */
export function go(c: ChildProcess): void {
  c.stdin!.write('go\n');
}

/** Collects a child's stderr text. */
export function stderrOf(c: ChildProcess): () => string {
  let text = '';
  c.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  return () => text;
}
