// A cgroup2-shaped directory tree that plays the kernel's part for the v2
// driver's tests on hosts without a usable cgroup2 hierarchy: through the
// driver's filesystem observer it fills each new cgroup with the control
// files its enabled controllers would have (cgroup.controllers from the
// parent's subtree_control), merges subtree_control and io.max writes as the
// kernel does, reflects cgroup.freeze in cgroup.events, and empties
// directories before the driver's rmdir. It records every write so tests can
// assert exactly what the driver wrote.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { observeCgroupFs, type CgroupFsEvent } from '../index';

const ALL = ['cpuset', 'cpu', 'io', 'memory', 'pids'];

export class FakeCgroup2 {
  readonly root = mkdtempSync(join(tmpdir(), 'berth-cgroup2-'));
  readonly writes: { path: string; value: string }[] = [];
  private readonly enabled = new Map<string, Set<string>>();
  private readonly ioMax = new Map<string, Map<string, Map<string, string>>>();
  private readonly stop: () => void;

  constructor(opts: { rootControllers?: string[]; bfq?: boolean } = {}) {
    const controllers = opts.rootControllers ?? ALL;
    this.bfq = opts.bfq ?? false;
    writeFileSync(join(this.root, 'cgroup.controllers'), controllers.join(' ') + '\n');
    writeFileSync(join(this.root, 'cgroup.subtree_control'), '\n');
    writeFileSync(join(this.root, 'cgroup.procs'), '');
    this.enabled.set(this.root, new Set());
    this.stop = observeCgroupFs((e) => this.onEvent(e));
  }
  private readonly bfq: boolean;
  /** When set, cgroup.freeze writes never show up as "frozen 1" (a task stuck in D state). */
  freezeNeverCompletes = false;

  /** Writes the driver made to `file` (relative to the root), in order. */
  writesTo(rel: string): string[] {
    const p = join(this.root, rel);
    return this.writes.filter((w) => w.path === p).map((w) => w.value);
  }

  read(rel: string): string {
    return readFileSync(join(this.root, rel), 'utf8');
  }

  /** Sets a control file's content as the kernel would report it. */
  set(rel: string, content: string): void {
    writeFileSync(join(this.root, rel), content);
  }

  close(): void {
    this.stop();
    rmSync(this.root, { recursive: true, force: true });
  }

  private onEvent(e: CgroupFsEvent): void {
    if (!e.path.startsWith(this.root + '/')) return;
    if (e.op === 'mkdir') return this.populate(e.path);
    if (e.op === 'rmdir') {
      for (const f of readdirSync(e.path)) if (statSync(join(e.path, f)).isFile()) rmSync(join(e.path, f));
      return;
    }
    this.writes.push({ path: e.path, value: e.value });
    const dir = dirname(e.path);
    const file = e.path.slice(dir.length + 1);
    if (file === 'cgroup.subtree_control') {
      const set = this.enabled.get(dir) ?? new Set<string>();
      for (const tok of e.value.trim().split(/\s+/)) {
        if (tok.startsWith('+')) set.add(tok.slice(1));
        else if (tok.startsWith('-')) set.delete(tok.slice(1));
      }
      this.enabled.set(dir, set);
      writeFileSync(e.path, [...set].join(' ') + '\n');
    } else if (file === 'io.max') {
      const [dev, ...kvs] = e.value.trim().split(/\s+/);
      const devs = this.ioMax.get(dir) ?? new Map<string, Map<string, string>>();
      const limits = devs.get(dev!) ?? new Map([['rbps', 'max'], ['wbps', 'max'], ['riops', 'max'], ['wiops', 'max']]);
      for (const kv of kvs) {
        const [k, v] = kv.split('=') as [string, string];
        limits.set(k, v);
      }
      devs.set(dev!, limits);
      this.ioMax.set(dir, devs);
      writeFileSync(e.path, [...devs].map(([d, l]) => `${d} ${[...l].map(([k, v]) => `${k}=${v}`).join(' ')}`).join('\n') + '\n');
    } else if (file === 'cgroup.freeze' && !this.freezeNeverCompletes) {
      writeFileSync(join(dir, 'cgroup.events'), `populated 0\nfrozen ${e.value.trim() === '1' ? 1 : 0}\n`);
    }
  }

  private populate(dir: string): void {
    const controllers = [...(this.enabled.get(dirname(dir)) ?? [])];
    this.enabled.set(dir, new Set());
    const files: Record<string, string> = {
      'cgroup.controllers': controllers.join(' ') + '\n',
      'cgroup.subtree_control': '\n',
      'cgroup.procs': '',
      'cgroup.threads': '',
      'cgroup.events': 'populated 0\nfrozen 0\n',
      'cgroup.freeze': '0\n',
      'cgroup.kill': '',
      'cpu.stat': 'usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
    };
    if (controllers.includes('cpu')) Object.assign(files, { 'cpu.max': 'max 100000\n', 'cpu.weight': '100\n' });
    if (controllers.includes('cpuset')) Object.assign(files, { 'cpuset.cpus': '\n', 'cpuset.mems': '\n' });
    if (controllers.includes('memory')) {
      Object.assign(files, {
        'memory.max': 'max\n',
        'memory.low': '0\n',
        'memory.swap.max': 'max\n',
        'memory.current': '0\n',
        'memory.peak': '0\n',
        'memory.swap.current': '0\n',
        'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n',
        'memory.stat': 'anon 0\nfile 0\nfile_mapped 0\ninactive_file 0\nactive_file 0\n',
      });
    }
    if (controllers.includes('io')) {
      Object.assign(files, { 'io.max': '', 'io.stat': '', 'io.weight': 'default 100\n' });
      if (this.bfq) files['io.bfq.weight'] = 'default 100\n';
    }
    if (controllers.includes('pids')) Object.assign(files, { 'pids.max': 'max\n', 'pids.current': '0\n' });
    for (const [f, content] of Object.entries(files)) writeFileSync(join(dir, f), content);
  }
}
