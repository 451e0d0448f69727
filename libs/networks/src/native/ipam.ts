// Address allocation for the native datapath, in CNI host-local's on-disk
// format so both datapaths share one allocation dir and reconcile reads one
// layout: <dataDir>/<network>/<ip> holds "<containerId>\r\n<ifname>",
// last_reserved_ip.0 holds the last address handed out (allocation continues
// after it, round robin, like host-local). A file is claimed with O_EXCL, so
// this and a concurrently running host-local plugin cannot both win one address.
// Files 0600, dirs 0700 (host-local's own 0644 files are tightened at start).
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AlreadyExistsError, ResourceExhaustedError } from '@berth/errors';
import { formatIp, lastAddress, parseCidr, parseIp } from '../ipv4';

export class HostLocalIpam {
  constructor(readonly dataDir: string) {}

  /**
   * Claims an address for containerId's ifName: `want` exactly (docker --ip;
   * AlreadyExists when another holds it; the caller validated it against the
   * subnet), else the next free one after the last handed out.
   */
  async allocate(network: string, subnet: string, gateway: string, containerId: string, ifName: string, want?: string): Promise<string> {
    const dir = join(this.dataDir, network);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (want) {
      try {
        const fh = await open(join(dir, want), 'wx', 0o600);
        await fh.writeFile(`${containerId}\r\n${ifName}`);
        await fh.close();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const owner = (await readFile(join(dir, want), 'utf8').catch(() => '')).split(/\r?\n/)[0] ?? '';
        throw new AlreadyExistsError(`ip: address ${want} is already in use on network ${network}${owner ? ` (by container ${owner})` : ''}; choose another address or omit ip`, { field: 'ip' });
      }
      return want;
    }
    const c = parseCidr(subnet);
    const first = c.network + 1;
    const last = lastAddress(c) - 1;
    const gw = parseIp(gateway);
    const span = last - first + 1;
    let start = first;
    try {
      const prev = parseIp((await readFile(join(dir, 'last_reserved_ip.0'), 'utf8')).trim());
      if (prev >= first && prev <= last) start = prev + 1 > last ? first : prev + 1;
    } catch { /* first allocation */ }
    for (let i = 0; i < span; i++) {
      const ip = first + ((start - first + i) % span);
      if (ip === gw) continue;
      const text = formatIp(ip);
      try {
        const fh = await open(join(dir, text), 'wx', 0o600);
        await fh.writeFile(`${containerId}\r\n${ifName}`);
        await fh.close();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      await writeFile(join(dir, 'last_reserved_ip.0'), text, { mode: 0o600 });
      return text;
    }
    throw new ResourceExhaustedError(`network ${network}: no free address left in ${subnet}`, { field: 'network' });
  }

  /** Frees `ip` if it is held by this container (else leaves it alone). */
  async release(network: string, ip: string, containerId: string): Promise<void> {
    const p = join(this.dataDir, network, ip);
    const owner = (await readFile(p, 'utf8').catch(() => '')).split(/\r?\n/)[0];
    if (owner === containerId) await rm(p, { force: true });
  }
}
