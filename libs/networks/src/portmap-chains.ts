// The CNI portmap plugin's DEL removes a container's own chains (CNI-DN-*)
// and rules, but never its shared top-level chains (CNI-HOSTPORT-DNAT,
// -SETMARK, -MASQ) or the jumps into them from PREROUTING, OUTPUT and
// POSTROUTING: it cannot know whether another container still needs them.
// berth can: once CNI-HOSTPORT-DNAT holds no rule at all (no container of any
// runtime on this host publishes a port through portmap), the chains and
// jumps are removed, leaving the nat table as it was before the first
// publish. portmap recreates them on its next ADD.
import { runCommand } from './command';

const SHARED = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ'];

/** Removes portmap's shared chains when nothing uses them; true if it did. */
export function removeIdlePortmapChains(): Promise<boolean> {
  return removeIdleSharedChains('nat', SHARED, 'CNI-HOSTPORT-DNAT');
}

/**
 * Removes `chains` of `table` and every jump into them, but only when
 * `usageChain` has no rule (holds no per-container entry). Also used by the
 * benchmark for netavark's equivalents after running podman.
 */
export async function removeIdleSharedChains(table: string, SHARED: string[], usageChain: string): Promise<boolean> {
  const save = await runCommand('iptables-save', ['-t', table]);
  if (save.code !== 0) return false;
  const lines = save.stdout.split('\n');
  if (!lines.some((l) => l.startsWith(`:${usageChain} `))) return false;
  if (lines.some((l) => l.startsWith(`-A ${usageChain} `))) return false; // still in use
  const jumps = lines.filter((l) => l.startsWith('-A ') && SHARED.some((c) => l.endsWith(`-j ${c}`)) && !SHARED.some((c) => l.startsWith(`-A ${c} `)));
  const input = [`*${table}`,
    ...jumps.map((l) => `-D${l.slice(2)}`),
    ...SHARED.filter((c) => lines.some((l) => l.startsWith(`:${c} `))).map((c) => `-F ${c}`),
    ...SHARED.filter((c) => lines.some((l) => l.startsWith(`:${c} `))).map((c) => `-X ${c}`),
    'COMMIT', ''].join('\n');
  // One atomic restore: if another runtime added a rule meanwhile, -X fails
  // and nothing changes.
  return (await runCommand('iptables-restore', ['-w', '--noflush'], input)).code === 0;
}
