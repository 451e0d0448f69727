// What the port adapters share: the per-container files the engine keeps
// (hosts, resolv.conf, hostname beside the container's log) and what the
// namespaces adapter learned at Create that the networks adapter needs (the
// persistent netns handle). One instance per engine, handed to each adapter.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isNotFound } from '@berth/errors';

export interface ContainerFilePaths {
  hostsPath: string;
  resolvConfPath: string;
  hostnamePath: string;
}

/**
 * The container's /etc/hosts, /etc/resolv.conf and /etc/hostname live in
 * <engine state>/containers/<id>/ (as Docker keeps them in its container
 * dir). The namespaces service cannot add mounts to a created container, so
 * the files are created *before* Create and bind-mounted through the
 * ContainerSpec; after network Attach their contents are rewritten in place
 * (same inode: the bind mounts see the new content). Never replace them by
 * rename: that would leave the container bound to the old inode.
 */
export class ContainerFiles {
  /** netns handles by container id (namespaces Create -> networks Attach). */
  readonly netnsPaths = new Map<string, string>();

  constructor(readonly stateDir: string) {}

  dir(id: string): string {
    return join(this.stateDir, 'containers', id);
  }

  paths(id: string): ContainerFilePaths {
    const d = this.dir(id);
    return { hostsPath: join(d, 'hosts'), resolvConfPath: join(d, 'resolv.conf'), hostnamePath: join(d, 'hostname') };
  }

  /**
   * Writes placeholder files (loopback hosts, empty resolv.conf, the hostname)
   * so they can be bound at Create. The container dir is 0700 (the state root
   * keeps other users out); the three files are 0644 as Docker's are, since a
   * container running as a non-root user must read its /etc/resolv.conf.
   */
  async prepare(id: string, hostname: string): Promise<ContainerFilePaths> {
    const p = this.paths(id);
    // containers/ and containers/<id>/ both 0700 (recursive gives each it makes the mode).
    await mkdir(this.dir(id), { recursive: true, mode: 0o700 });
    // Independent files: written together (each is open, write, close on the thread pool).
    await Promise.all([
      writeFile(p.hostsPath, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t${hostname}\n`, { mode: 0o644 }),
      writeFile(p.resolvConfPath, '', { mode: 0o644 }),
      writeFile(p.hostnamePath, `${hostname}\n`, { mode: 0o644 }),
    ]);
    return p;
  }

  /** Rewrites one file in place (O_TRUNC on the same inode). */
  async rewrite(path: string, content: string): Promise<void> {
    await writeFile(path, content, { flag: 'w' });
  }

  async remove(id: string): Promise<void> {
    const p = this.paths(id);
    await Promise.all([p.hostsPath, p.resolvConfPath, p.hostnamePath].map((f) => rm(f, { force: true })));
    this.netnsPaths.delete(id);
  }
}

/** Runs a remove/undo call; a thing already gone is success (the ports' contract). */
export async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** RFC3339(Nano) -> epoch ms (fractions beyond ms dropped); 0 for "". */
export function rfc3339ToMs(s: string): number {
  if (!s) return 0;
  const ms = Date.parse(s.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? 0 : ms;
}
