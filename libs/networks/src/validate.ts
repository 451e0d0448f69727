// Checks of CreateNetwork's options that need no state (the subnet's own
// checks sit with the subnet choice in manager.ts: they need the host routes
// and the other networks). A bad value is INVALID_ARGUMENT naming the field.
import { InvalidArgumentError } from '@berth/errors';
import type { CreateNetworkOptions } from './types';

/** IPv4's minimum MTU (RFC 791) and the largest an interface takes. */
const MTU_RANGE = [68, 65535] as const;
/** Labels are metadata in a JSON record: bounded so a network record stays small. */
const MAX_LABELS = 64;
const MAX_LABEL_BYTES = 4096;

export function validateNetworkOptions(opts: CreateNetworkOptions): void {
  const labels = Object.entries(opts.labels ?? {});
  if (labels.length > MAX_LABELS) throw new InvalidArgumentError(`labels: ${labels.length} labels, at most ${MAX_LABELS} are kept per network`, { field: 'labels' });
  for (const [k, v] of labels) {
    if (!k) throw new InvalidArgumentError('labels: a label needs a key (key=value)', { field: 'labels' });
    if (Buffer.byteLength(k) > MAX_LABEL_BYTES || Buffer.byteLength(v) > MAX_LABEL_BYTES) {
      throw new InvalidArgumentError(`labels: the label ${k.slice(0, 64)} is longer than ${MAX_LABEL_BYTES} bytes`, { field: 'labels' });
    }
  }
  if (opts.mtu !== undefined && opts.mtu !== 0 && (!Number.isInteger(opts.mtu) || opts.mtu < MTU_RANGE[0] || opts.mtu > MTU_RANGE[1])) {
    throw new InvalidArgumentError(`mtu: ${opts.mtu} is out of range; expected ${MTU_RANGE[0]}-${MTU_RANGE[1]}, or 0 for the default`, { field: 'mtu' });
  }
  for (const [k, v] of Object.entries(opts.sysctls ?? {})) {
    // The CNI tuning plugin writes /proc/sys/<key with dots as slashes> in the container's namespace: only net.*, no path tricks.
    if (!/^net\.[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)+$/.test(k)) {
      throw new InvalidArgumentError(`sysctls: "${JSON.stringify(k).slice(1, -1)}" is not a network sysctl; expected a net.* name such as net.ipv4.conf.eth0.rp_filter`, { field: 'sysctls' });
    }
    if (!/^[\x20-\x7e]{0,256}$/.test(v)) {
      throw new InvalidArgumentError(`sysctls: the value of ${k} must be printable text of at most 256 characters`, { field: 'sysctls' });
    }
  }
}
