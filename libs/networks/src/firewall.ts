// berth's own iptables chains (prefix configurable, "BERTH" in production):
// isolation between bridge networks, forwarding accept rules, and one
// masquerade rule per network. They are rewritten as a whole from the
// network list with one iptables-restore --noflush (declaring a chain flushes
// it), so the rules always equal the persisted networks, whatever state a
// crash left behind. Per-container rules are not here: port mappings belong
// to the CNI portmap plugin and go away with the container's DEL.
//
// Host loopback: a published 127.0.0.1:<port> needs route_localnet=1 on the
// bridge (bridge.ts; the portmap plugin sets it too), and with it the kernel
// also accepts packets *from* a container addressed to 127.0.0.0/8, so a
// container could reach every service listening on the host's loopback
// (metrics ports, NATS) by sending frames with destination 127.0.0.1 to the
// bridge's MAC. The raw table's PREROUTING (before conntrack and DNAT) jumps
// to <prefix>-RAW, which drops anything for 127.0.0.0/8 arriving on a berth
// bridge, as Docker 28 drops remote packets to its loopback-published ports
// (filterPortMappedOnLoopback), for the whole range. Connections the host
// makes to 127.0.0.1:<port> are unaffected: they leave through OUTPUT, are
// masqueraded to the gateway address, and their replies arrive for it.
//
// Why not the CNI firewall plugin: it inserts CNI-FORWARD at the top of
// FORWARD and accepts everything from each container address, which would
// override the isolation rules; with FORWARD policy ACCEPT (as here) it adds
// nothing else. A drop-in conflist can still use it.
import { mustRun, runCommand } from './command';

export interface FirewallNetwork {
  bridge: string;
  subnet: string;
  /** No traffic leaves or enters the bridge except to the host itself. */
  internal: boolean;
  /** The embedded DNS listens on the gateway: accept port 53 from the bridge. */
  dns: boolean;
}

export class Firewall {
  private readonly forward: string;
  private readonly iso1: string;
  private readonly iso2: string;
  private readonly post: string;
  private readonly input: string;
  private readonly raw: string;

  constructor(readonly prefix = 'BERTH') {
    this.raw = `${prefix}-RAW`;
    this.input = `${prefix}-INPUT`;
    this.forward = `${prefix}-FORWARD`;
    this.iso1 = `${prefix}-ISOLATION-1`;
    this.iso2 = `${prefix}-ISOLATION-2`;
    this.post = `${prefix}-POSTROUTING`;
  }

  /** The iptables-restore input that makes the chains match `nets`. */
  rules(nets: FirewallNetwork[]): string {
    const f: string[] = ['*filter', `:${this.forward} - [0:0]`, `:${this.iso1} - [0:0]`, `:${this.iso2} - [0:0]`,
      `:${this.input} - [0:0]`, `-A ${this.forward} -j ${this.iso1}`];
    const n: string[] = ['*nat', `:${this.post} - [0:0]`];
    const r: string[] = ['*raw', `:${this.raw} - [0:0]`];
    for (const net of nets) {
      const br = net.bridge;
      r.push(`-A ${this.raw} -d 127.0.0.0/8 -i ${br} -j DROP`);
      if (net.internal) {
        f.push(`-A ${this.forward} -i ${br} ! -o ${br} -j DROP`, `-A ${this.forward} -o ${br} ! -i ${br} -j DROP`);
      } else {
        // Docker's two-stage isolation: leaving bridge A (stage 1) towards any
        // other berth bridge B (stage 2) is dropped; leaving towards the uplink is not.
        f.push(`-A ${this.iso1} -i ${br} ! -o ${br} -j ${this.iso2}`, `-A ${this.iso2} -o ${br} -j DROP`);
        f.push(`-A ${this.forward} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`);
        f.push(`-A ${this.forward} -o ${br} -m conntrack --ctstate DNAT -j ACCEPT`);
        f.push(`-A ${this.forward} -i ${br} ! -o ${br} -j ACCEPT`);
        n.push(`-A ${this.post} -s ${net.subnet} ! -o ${br} -j MASQUERADE`);
      }
      f.push(`-A ${this.forward} -i ${br} -o ${br} -j ACCEPT`);
      // The responder is a host socket: a host whose INPUT policy is DROP
      // would otherwise cut containers off from name resolution.
      if (net.dns) {
        for (const proto of ['udp', 'tcp']) f.push(`-A ${this.input} -i ${br} -p ${proto} -m ${proto} --dport 53 -j ACCEPT`);
      }
    }
    return [...f, 'COMMIT', ...n, 'COMMIT', ...r, 'COMMIT', ''].join('\n');
  }

  /** Rewrites the chains and makes sure FORWARD and POSTROUTING jump to them. */
  async apply(nets: FirewallNetwork[]): Promise<void> {
    if (nets.length === 0) return this.remove();
    await mustRun('iptables-restore', ['-w', '--noflush'], this.rules(nets));
    if ((await runCommand('iptables', ['-w', '-C', 'FORWARD', '-j', this.forward])).code !== 0) {
      await mustRun('iptables', ['-w', '-I', 'FORWARD', '1', '-j', this.forward]);
    }
    if ((await runCommand('iptables', ['-w', '-C', 'INPUT', '-j', this.input])).code !== 0) {
      await mustRun('iptables', ['-w', '-I', 'INPUT', '1', '-j', this.input]);
    }
    if ((await runCommand('iptables', ['-w', '-t', 'nat', '-C', 'POSTROUTING', '-j', this.post])).code !== 0) {
      await mustRun('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-j', this.post]);
    }
    if ((await runCommand('iptables', ['-w', '-t', 'raw', '-C', 'PREROUTING', '-j', this.raw])).code !== 0) {
      await mustRun('iptables', ['-w', '-t', 'raw', '-I', 'PREROUTING', '1', '-j', this.raw]);
    }
  }

  /** Removes the jumps and the chains (no berth network left). */
  async remove(): Promise<void> {
    while ((await runCommand('iptables', ['-w', '-D', 'FORWARD', '-j', this.forward])).code === 0) { /* all copies */ }
    while ((await runCommand('iptables', ['-w', '-D', 'INPUT', '-j', this.input])).code === 0) { /* all copies */ }
    while ((await runCommand('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-j', this.post])).code === 0) { /* all copies */ }
    for (const c of [this.forward, this.iso1, this.iso2, this.input]) await runCommand('iptables', ['-w', '-F', c]);
    for (const c of [this.forward, this.iso1, this.iso2, this.input]) await runCommand('iptables', ['-w', '-X', c]);
    await runCommand('iptables', ['-w', '-t', 'nat', '-F', this.post]);
    await runCommand('iptables', ['-w', '-t', 'nat', '-X', this.post]);
    while ((await runCommand('iptables', ['-w', '-t', 'raw', '-D', 'PREROUTING', '-j', this.raw])).code === 0) { /* all copies */ }
    await runCommand('iptables', ['-w', '-t', 'raw', '-F', this.raw]);
    await runCommand('iptables', ['-w', '-t', 'raw', '-X', this.raw]);
  }
}
