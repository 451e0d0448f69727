// docker exec: a process in a running container, with the container's
// environment, user (resolved in its root's /etc/passwd and /etc/group),
// working dir and confinement (privileged, no_new_privs, seccomp), started
// through the namespaces service; exec_started and exec_died are announced.
// The stdio of an attached exec is bridged by the gRPC layer.
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '@berth/errors';
import type { EngineContext } from '../context';
import { processFields } from '../merge';
import { hostnameOf } from '../run-plan';
import { isPrivileged, noNewPrivilegesOf } from '../security';
import { requireRunning } from '../state';
import { resolveUser } from '../user';
import { groupAddGids } from '../pod-options';

/** docker exec options; empty fields default to the container's. */
export interface ExecRequest {
  args: string[];
  /** Appended to the container's environment, replacing by KEY. */
  env?: string[];
  workingDir?: string;
  user?: string;
  tty?: boolean;
  stdin?: boolean;
  privileged?: boolean;
}

export class ContainerExec {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * docker exec: runs a process in a running container. Resolves once it is
   * started with its exec id and a promise of its exit code; exec_started and
   * exec_died are announced.
   */
  async exec(ref: string, req: ExecRequest): Promise<{ execId: string; exitCode: Promise<number> }> {
    const c = this.ctx.store.find(ref);
    requireRunning(c.name, c.state);
    if (req.args.length === 0) throw new InvalidArgumentError('exec needs a command', { field: 'cmd' });
    const base = processFields({ ...c.config, cmd: ['_'], entrypoint: null, env: [...c.config.env, ...(req.env ?? [])] }, hostnameOf(c));
    const passwd = await this.ctx.ports.rootfs.readFile(c.rootfs, '/etc/passwd');
    const group = await this.ctx.ports.rootfs.readFile(c.rootfs, '/etc/group');
    const u = resolveUser(req.user || c.config.user, passwd, group);
    const env = base.env.some((e) => e.startsWith('HOME=')) ? base.env : [...base.env, `HOME=${u.home}`];
    const execId = randomBytes(32).toString('hex');
    await this.ctx.ports.namespaces.exec(c.id, execId, {
      args: req.args, env, cwd: req.workingDir || base.cwd, uid: u.uid, gid: u.gid,
      // The container's --group-add too, as its init has them.
      additionalGids: [...new Set([...u.additionalGids, ...groupAddGids(c.hostConfig.groupAdd, group)])],
      capAdd: c.hostConfig.capAdd, capDrop: c.hostConfig.capDrop,
      terminal: req.tty ?? false, openStdin: req.stdin ?? false,
      // A privileged container's execs are privileged too (Docker's exec takes the container's capabilities).
      privileged: (req.privileged ?? false) || isPrivileged(c.hostConfig),
      // Docker's exec keeps the container's no_new_privs (and its seccomp
      // filter, which the shim takes from the container's own config).
      noNewPrivileges: noNewPrivilegesOf(c.hostConfig),
    });
    this.ctx.emit(c, 'exec_started', { execId });
    const exitCode = this.ctx.ports.namespaces.waitExec(c.id, execId).then((code) => {
      this.ctx.emit(c, 'exec_died', { execId, exitCode: code });
      return code;
    });
    // The caller may look at the exit only later (or never: a detached exec);
    // a failed wait must not be an unhandled rejection meanwhile.
    exitCode.catch(() => undefined);
    return { execId, exitCode };
  }
}
