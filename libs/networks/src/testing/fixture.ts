// Test fixtures: network namespaces standing in for containers, a manager
// over temp dirs with bt-/BERTH-T names, and a loopback-only fake upstream
// resolver. Everything here is created with a random tag and removed in
// cleanup(), whatever the test did.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { get } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { NetworkManager, type NetworkManagerOptions } from '../index';
import { parseQuestion, buildAnswer } from '../dns';

export function sh(file: string, args: string[], timeoutMs = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export function inNs(ns: string, cmd: string[], timeoutMs = 20_000) {
  return sh('ip', ['netns', 'exec', ns, ...cmd], timeoutMs);
}

export function httpGet(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port, path: '/', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

export class Fixture {
  readonly tag = randomBytes(3).toString('hex');
  dir = '';
  readonly netns: string[] = [];
  readonly procs: ChildProcess[] = [];
  readonly managers: NetworkManager[] = [];
  upstream: Socket | undefined;
  upstreamPort = 0;
  datapath: 'native' | 'cni' = 'native';
  /** Third octet block for this fixture's subnets: 10.213.<base+i>.0/24. */
  constructor(readonly octetBase: number) {}

  subnet(i: number): string { return `10.213.${this.octetBase + i}.0/24`; }

  async setup(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'berth-net-'));
    // Fake upstream on loopback: answers every A query with 10.213.254.254,
    // so relayed lookups never leave the machine.
    const s = createSocket('udp4');
    s.on('message', (msg, r) => {
      const q = parseQuestion(msg);
      if (q) s.send(buildAnswer(msg, q, q.type === 1 ? ['10.213.254.254'] : []), r.port, r.address);
    });
    await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
    this.upstream = s;
    this.upstreamPort = s.address().port;
  }

  options(over: Partial<NetworkManagerOptions> = {}): NetworkManagerOptions {
    return {
      stateDir: join(this.dir, 'state'),
      cniCacheDir: join(this.dir, 'cache'),
      cniConfigDir: join(this.dir, 'conf'),
      ipamDataDir: join(this.dir, 'ipam'),
      defaultNetwork: { bridge: `bt-d${this.tag}`, subnet: this.subnet(0) },
      bridgePrefix: `bt${this.tag.slice(0, 4)}-`,
      chainPrefix: `BERTH-T${this.tag}`,
      dnsUpstreams: [{ host: '127.0.0.1', port: this.upstreamPort }],
      datapath: this.datapath,
      ...over,
    };
  }

  async manager(over: Partial<NetworkManagerOptions> = {}, existing?: string[]): Promise<NetworkManager> {
    const m = new NetworkManager(this.options(over));
    this.managers.push(m);
    await m.start(existing ? { existingContainers: existing } : {});
    return m;
  }

  /** A "container": a named netns; returns [name, path]. */
  async ns(suffix: string): Promise<[string, string]> {
    const name = `bt-${this.tag}-${suffix}`;
    const r = await sh('ip', ['netns', 'add', name]);
    if (r.code !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
    this.netns.push(name);
    return [name, `/run/netns/${name}`];
  }

  /** Makes `ip netns exec` bind-mount these files over /etc/hosts and /etc/resolv.conf. */
  async etc(ns: string, hosts: string, resolv: string): Promise<void> {
    const d = `/etc/netns/${ns}`;
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'hosts'), hosts);
    await writeFile(join(d, 'resolv.conf'), resolv);
  }

  /** Starts busybox httpd in ns serving `body` on port. */
  async httpd(ns: string, port: number, body: string): Promise<void> {
    const www = join(this.dir, `www-${ns}-${port}`);
    await mkdir(www, { recursive: true });
    await writeFile(join(www, 'index.html'), body);
    const p = spawn('ip', ['netns', 'exec', ns, '/bin/busybox', 'httpd', '-f', '-p', String(port), '-h', www], { stdio: 'ignore' });
    this.procs.push(p);
    // Wait until it listens inside the namespace.
    for (let i = 0; i < 50; i++) {
      const r = await inNs(ns, ['/bin/busybox', 'wget', '-q', '-O-', `http://127.0.0.1:${port}/`]);
      if (r.code === 0) return;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`httpd in ${ns} did not start`);
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) if (p.pid && p.exitCode === null) p.kill('SIGKILL');
    for (const m of this.managers.reverse()) {
      try { await m.close(); } catch { /* next */ }
    }
    // A fresh manager over the same dirs removes whatever the test left.
    try {
      const m = new NetworkManager(this.options());
      await m.start({ existingContainers: [] });
      await m.purge();
      await m.close();
    } catch { /* best effort: fall through to device removal */ }
    for (const ns of this.netns) {
      await sh('ip', ['netns', 'del', ns]);
      await rm(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    const links = await sh('ip', ['-o', 'link']);
    for (const m of links.stdout.matchAll(/^\d+:\s+(bt[^@:\s]*)/gm)) {
      if (m[1]!.includes(this.tag) || m[1]!.startsWith(`bt${this.tag.slice(0, 4)}-`)) await sh('ip', ['link', 'del', m[1]!]);
    }
    this.upstream?.close();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
