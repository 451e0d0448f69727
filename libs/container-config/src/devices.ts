// docker run --device, --device-cgroup-rule and --cgroupns: their shapes,
// shared by the CLI (flags) and the engine (every request). Parsers return
// the value or throw nothing: they return { error } phrased to follow
// `invalid <what> "<value>": `, as the checks in validate.ts do.

/** --device HOST[:CONTAINER][:PERMISSIONS] (Docker's HostConfig.Devices entry). */
export interface DeviceMapping {
  /** Host device node (a symlink is followed by the engine). */
  pathOnHost: string;
  /** Where the node appears in the container; "" = pathOnHost. */
  pathInContainer: string;
  /** Some of r, w, m; "" = "rwm". */
  cgroupPermissions: string;
}

/** One device cgroup rule, OCI linux.resources.devices' shape. */
export interface DeviceRule {
  allow: boolean;
  /** "a", "c" or "b". */
  type: string;
  /** -1 = any ("*"). */
  major: number;
  /** -1 = any ("*"). */
  minor: number;
  access: string;
}

const PERMISSIONS = /^(?!.*(.).*\1)[rwm]{1,3}$/;

/** "rwm", "r", "mr"...: each of r, w, m at most once. */
export function checkDevicePermissions(v: string): string | undefined {
  return PERMISSIONS.test(v) ? undefined : 'permissions are some of r (read), w (write) and m (mknod), like "rwm" or "r"';
}

/**
 * Docker's --device syntax (opts.ParseDevice / ValidateDevice): "/dev/x",
 * "/dev/x:/dev/y", "/dev/x:rw", "/dev/x:/dev/y:rwm". Paths must be absolute.
 */
export function parseDeviceMapping(spec: string): DeviceMapping | { error: string } {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) return { error: 'expected HOST-DEVICE[:CONTAINER-PATH][:PERMISSIONS], like /dev/kmsg or /dev/sda:/dev/xvda:rwm' };
  const [first, second, third] = parts as [string, string | undefined, string | undefined];
  let host = first;
  let container = '';
  let perms = '';
  if (third !== undefined) {
    container = second!;
    perms = third;
  } else if (second !== undefined) {
    if (second.startsWith('/')) container = second;
    else perms = second;
  }
  if (!host.startsWith('/')) return { error: `the host device "${host}" is not an absolute path` };
  if (container && !container.startsWith('/')) return { error: `the container path "${container}" is not an absolute path` };
  if (perms) {
    const bad = checkDevicePermissions(perms);
    if (bad) return { error: bad };
  }
  host = host.replace(/\/+$/, '') || '/';
  return { pathOnHost: host, pathInContainer: container, cgroupPermissions: perms };
}

const RULE = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/**
 * Docker's --device-cgroup-rule (oci.AppendDevicePermissionsFromCgroupRules):
 * "TYPE MAJOR:MINOR ACCESS", type a, c or b, numbers or "*", access some of
 * r, w, m. Always an allow rule.
 */
export function parseDeviceCgroupRule(rule: string): DeviceRule | { error: string } {
  const m = RULE.exec(rule.trim());
  if (!m || checkDevicePermissions(m[4]!)) return { error: 'expected "TYPE MAJOR:MINOR ACCESS" with TYPE a, c or b, MAJOR and MINOR a number or *, ACCESS some of r, w, m (like "c 1:11 rwm")' };
  const num = (s: string) => (s === '*' ? -1 : Number(s));
  const major = num(m[2]!);
  const minor = num(m[3]!);
  if (major > 0xffffffff || minor > 0xffffffff) return { error: 'a device number is at most 4294967295' };
  return { allow: true, type: m[1]!, major, minor, access: m[4]! };
}

/** --cgroupns: "private" (a cgroup namespace of its own) or "host"; "" = the engine's default (private). */
export function checkCgroupnsMode(v: string): string | undefined {
  return v === '' || v === 'private' || v === 'host' ? undefined : 'expected "private" or "host"';
}
