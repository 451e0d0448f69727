// --sysctl: only kernel parameters that belong to a namespace the container
// has of its own may be set (Docker's opts.ValidateSysctl and runc's
// validator): IPC ones (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*)
// in its IPC namespace, net.* in its network namespace, kernel.hostname and
// kernel.domainname in its UTS namespace. Anything else (vm.*, fs.file-max,
// kernel.pid_max...) is the host's, and is refused naming the key.

const IPC_KEYS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);
const UTS_KEYS = new Set(['kernel.hostname', 'kernel.domainname']);

/** Which namespace a sysctl belongs to, or undefined when it is the host's. */
export function sysctlNamespace(key: string): 'ipc' | 'net' | 'uts' | undefined {
  if (IPC_KEYS.has(key) || key.startsWith('fs.mqueue.')) return 'ipc';
  if (key.startsWith('net.')) return 'net';
  if (UTS_KEYS.has(key)) return 'uts';
  return undefined;
}

/** Why `key` cannot be set for a container with these modes, or undefined. */
export function checkSysctl(key: string, value: string, modes: { networkMode?: string; ipcMode?: string; utsMode?: string }): string | undefined {
  if (!/^[a-z0-9_]+(?:[./][a-zA-Z0-9_-]+)+$/.test(key)) return `"${key}" is not a kernel parameter name (such as net.ipv4.ip_forward)`;
  if (value.includes('\n') || value.includes('\0')) return `the value of ${key} holds a newline or NUL`;
  const ns = sysctlNamespace(key);
  if (!ns) return `sysctl "${key}" is not namespaced: it would change the host; only net.*, kernel.msg*/sem/shm*, fs.mqueue.*, kernel.hostname and kernel.domainname are allowed`;
  if (ns === 'net' && modes.networkMode === 'host') return `sysctl "${key}" is not allowed with --network host: it would change the host's network namespace`;
  if (ns === 'ipc' && modes.ipcMode === 'host') return `sysctl "${key}" is not allowed with --ipc host: it would change the host's IPC namespace`;
  if (ns === 'uts' && modes.utsMode === 'host') return `sysctl "${key}" is not allowed with --uts host: it would change the host's UTS namespace`;
  return undefined;
}
