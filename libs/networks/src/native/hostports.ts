// Published ports for the native datapath: per-container DNAT and masquerade
// rules in two chains berth owns, added and removed with one
// `iptables-restore --noflush` each (the CNI portmap plugin runs a dozen
// iptables commands per ADD and per DEL; on this iptables-nft host that is
// ~50 ms up and ~140 ms down).
//
//   nat PREROUTING/OUTPUT -m addrtype --dst-type LOCAL -> <P>-HOSTPORTS
//     [-d hostIP] -p tcp --dport H -j DNAT --to-destination ctrIP:C
//   nat POSTROUTING -> <P>-HOSTPORTS-MASQ
//     -s 127.0.0.0/8 -d ctrIP -p tcp --dport C -j MASQUERADE   (127.0.0.1:H from the host)
//     -s ctrIP -d ctrIP -p tcp --dport C -j MASQUERADE          (hairpin: a container to its own port)
// Connections to 127.0.0.1:H need route_localnet=1 on the bridge (else the
// kernel drops a 127/8 source leaving a non-loopback device) and the masquerade
// so the container's reply comes back through the host. Every rule carries the
// comment "berth <containerId>", by which reconcile finds leftovers.
import { runCommand } from '../command';
import type { PortMapping } from '../ports';

export class HostPortRules {
  readonly dnat: string;
  readonly masq: string;

  constructor(prefix: string) {
    this.dnat = `${prefix}-HOSTPORTS`;
    this.masq = `${prefix}-HOSTPORTS-MASQ`;
  }

  private rules(containerId: string, ip: string, ports: PortMapping[]): string[] {
    const tag = `-m comment --comment "berth ${containerId}"`;
    const out: string[] = [];
    for (const p of ports) {
      const proto = `-p ${p.protocol} -m ${p.protocol}`;
      const dst = p.hostIp ? `-d ${p.hostIp}/32 ` : '';
      out.push(`${this.dnat} ${dst}${proto} --dport ${p.hostPort} ${tag} -j DNAT --to-destination ${ip}:${p.containerPort}`);
      out.push(`${this.masq} -s 127.0.0.0/8 -d ${ip}/32 ${proto} --dport ${p.containerPort} ${tag} -j MASQUERADE`);
      out.push(`${this.masq} -s ${ip}/32 -d ${ip}/32 ${proto} --dport ${p.containerPort} ${tag} -j MASQUERADE`);
    }
    return out;
  }

  /** Makes the chains and the jumps into them exist (idempotent). */
  async ensureChains(): Promise<void> {
    for (const c of [this.dnat, this.masq]) await runCommand('iptables', ['-w', '-t', 'nat', '-N', c]);
    const jumps: [string, string[]][] = [
      ['PREROUTING', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', this.dnat]],
      ['OUTPUT', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', this.dnat]],
      ['POSTROUTING', ['-j', this.masq]],
    ];
    for (const [chain, spec] of jumps) {
      if ((await runCommand('iptables', ['-w', '-t', 'nat', '-C', chain, ...spec])).code !== 0) {
        const r = await runCommand('iptables', ['-w', '-t', 'nat', '-I', chain, '1', ...spec]);
        if (r.code !== 0) throw new Error(`iptables -t nat -I ${chain} ${spec.join(' ')}: ${r.stderr.trim()}`);
      }
    }
  }

  /** Removes jumps and chains (no berth network left). */
  async removeChains(): Promise<void> {
    for (const [chain, spec] of [
      ['PREROUTING', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', this.dnat]],
      ['OUTPUT', ['-m', 'addrtype', '--dst-type', 'LOCAL', '-j', this.dnat]],
      ['POSTROUTING', ['-j', this.masq]],
    ] as [string, string[]][]) {
      while ((await runCommand('iptables', ['-w', '-t', 'nat', '-D', chain, ...spec])).code === 0) { /* every copy */ }
    }
    for (const c of [this.dnat, this.masq]) {
      await runCommand('iptables', ['-w', '-t', 'nat', '-F', c]);
      await runCommand('iptables', ['-w', '-t', 'nat', '-X', c]);
    }
  }

  async add(containerId: string, ip: string, ports: PortMapping[]): Promise<void> {
    if (!ports.length) return;
    const input = ['*nat', ...this.rules(containerId, ip, ports).map((r) => `-A ${r}`), 'COMMIT', ''].join('\n');
    const r = await runCommand('iptables-restore', ['-w', '--noflush'], input);
    if (r.code !== 0) throw new Error(`publishing ports of ${containerId}: iptables-restore: ${r.stderr.trim()}`);
  }

  /**
   * Deletes the container's rules: one batch of exact -D lines, and when that
   * fails (some already gone: a crash, a half-made attach) a sweep by comment.
   */
  async del(containerId: string, ip: string, ports: PortMapping[]): Promise<void> {
    if (ports.length && ip) {
      const input = ['*nat', ...this.rules(containerId, ip, ports).map((r) => `-D ${r}`), 'COMMIT', ''].join('\n');
      if ((await runCommand('iptables-restore', ['-w', '--noflush'], input)).code === 0) return;
    }
    await this.sweep((id) => id !== containerId);
  }

  /** Deletes every rule in berth's port chains whose container is not kept. Returns the ids swept. */
  async sweep(keep: (containerId: string) => boolean): Promise<string[]> {
    const save = await runCommand('iptables-save', ['-t', 'nat']);
    const gone = new Set<string>();
    const dels: string[] = [];
    for (const line of save.stdout.split('\n')) {
      if (!line.startsWith(`-A ${this.dnat} `) && !line.startsWith(`-A ${this.masq} `)) continue;
      const m = /--comment "?berth ([^" ]+)"?/.exec(line);
      if (!m || keep(m[1]!)) continue;
      gone.add(m[1]!);
      dels.push(`-D${line.slice(2)}`);
    }
    if (dels.length) {
      const r = await runCommand('iptables-restore', ['-w', '--noflush'], ['*nat', ...dels, 'COMMIT', ''].join('\n'));
      if (r.code !== 0) throw new Error(`removing port rules of ${[...gone].join(', ')}: ${r.stderr.trim()}`);
    }
    return [...gone];
  }
}
