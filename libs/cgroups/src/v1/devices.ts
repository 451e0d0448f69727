// v1 devices controller (Documentation/admin-guide/cgroup-v1/devices.rst):
// each rule is one write, "a" or "<type> <major>:<minor> <access>", to
// devices.allow or devices.deny, in the order given. The kernel keeps a
// default (allow all / deny all) and a list of exceptions: "a" written to
// devices.deny makes the default deny and drops every exception, an allow
// rule then adds one. A child may never allow more than its parent, so the
// kernel refuses (EPERM) an allow the parent does not grant.
import type { LinuxDeviceCgroup } from '../resources';
import { writeCgroupFile } from '../cgroupfs';

/** The kernel's text for one rule: "a", or "c 1:3 rwm" with "*" for any major/minor. */
export function deviceRuleLine(r: LinuxDeviceCgroup): string {
  const type = r.type ?? 'a';
  if (type === 'a') return 'a';
  const num = (n: number | undefined) => (n === undefined || n < 0 ? '*' : String(n));
  return `${type} ${num(r.major)}:${num(r.minor)} ${r.access ?? 'rwm'}`;
}

/**
 * Writes the rules in order. A list that does not start with a type "a" rule
 * is an allow-list: "a" goes to devices.deny first (a new cgroup inherits its
 * parent's "allow all"), so the list means what it means on v2, where the
 * program starts from "deny all" (v2/devices.ts).
 */
export function applyDevicesV1(dir: string, rules: LinuxDeviceCgroup[]): void {
  if ((rules[0]?.type ?? 'a') !== 'a' || rules.length === 0) writeCgroupFile(dir, 'devices.deny', 'a');
  for (const r of rules) writeCgroupFile(dir, r.allow ? 'devices.allow' : 'devices.deny', deviceRuleLine(r));
}

/** devices.list: the rules in force ("a *:* rwm" when everything is allowed). */
export function readDevicesListV1(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}
