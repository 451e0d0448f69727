// Resolving "uid", "name", "uid:gid", "name:group" against the container's
// /etc/passwd and /etc/group, as runc's libcontainer/user.GetExecUser does
// (Docker delegates to it). Pure functions over file contents: the caller
// reads the files from the prepared rootfs (null when a file is missing).
import { InvalidArgumentError } from '@berth/errors';

export interface ExecUser {
  uid: number;
  gid: number;
  /** Supplementary groups: every group in /etc/group listing the user by name. */
  additionalGids: number[];
  /** HOME from passwd, "/" when unknown. */
  home: string;
}

interface PasswdEntry { name: string; uid: number; gid: number; home: string }
interface GroupEntry { name: string; gid: number; members: string[] }

const MAX_ID = 2 ** 31 - 1;

export function parsePasswd(content: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of content.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const f = t.split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (f.length < 7 || !Number.isInteger(uid) || !Number.isInteger(gid)) continue; // malformed lines are skipped, as libc does
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(content: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of content.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const f = t.split(':');
    const gid = Number(f[2]);
    if (f.length < 4 || !Number.isInteger(gid)) continue;
    out.push({ name: f[0]!, gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}

const isNumeric = (s: string): boolean => /^\d+$/.test(s);

function numericId(s: string, what: string, spec: string): number {
  const n = Number(s);
  if (n > MAX_ID) throw new InvalidArgumentError(`invalid user "${spec}": ${what} ${s} is out of range (max ${MAX_ID})`, { field: 'user' });
  return n;
}

/**
 * The user a process runs as. `spec` "" means root. Names that do not exist
 * are errors; numeric ids need not exist (gid then defaults to the passwd
 * entry's, or 0).
 */
export function resolveUser(spec: string, passwd: string | null, group: string | null): ExecUser {
  const [userPart = '', groupPart, extra] = spec.split(':');
  if (extra !== undefined) {
    throw new InvalidArgumentError(`invalid user "${spec}": expected user[:group]`, { field: 'user' });
  }
  const users = passwd === null ? [] : parsePasswd(passwd);
  const groups = group === null ? [] : parseGroup(group);

  let entry: PasswdEntry | undefined;
  let uid: number;
  if (userPart === '') {
    uid = 0;
    entry = users.find((u) => u.uid === 0);
  } else if (isNumeric(userPart)) {
    uid = numericId(userPart, 'uid', spec);
    entry = users.find((u) => u.uid === uid);
  } else {
    entry = users.find((u) => u.name === userPart);
    if (!entry) {
      throw new InvalidArgumentError(
        passwd === null
          ? `unable to find user ${userPart}: the image has no /etc/passwd; use a numeric uid`
          : `unable to find user ${userPart}: no matching entries in passwd file`,
        { field: 'user' },
      );
    }
    uid = entry.uid;
  }

  let gid = entry?.gid ?? 0;
  if (groupPart !== undefined) {
    if (groupPart === '') throw new InvalidArgumentError(`invalid user "${spec}": empty group after ":"`, { field: 'user' });
    if (isNumeric(groupPart)) gid = numericId(groupPart, 'gid', spec);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) {
        throw new InvalidArgumentError(
          group === null
            ? `unable to find group ${groupPart}: the image has no /etc/group; use a numeric gid`
            : `unable to find group ${groupPart}: no matching entries in group file`,
          { field: 'user' },
        );
      }
      gid = g.gid;
    }
  }

  const name = entry?.name;
  const additionalGids = name === undefined
    ? []
    : [...new Set(groups.filter((g) => g.members.includes(name) && g.gid !== gid).map((g) => g.gid))];
  return { uid, gid, additionalGids, home: entry?.home ?? '/' };
}
