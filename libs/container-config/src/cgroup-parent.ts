// --cgroup-parent / a Kubernetes pod's cgroup_parent: a cgroup path that
// berth nests inside its own cgroup parent (kubelet's cgroupfs layout,
// "/kubepods/besteffort/pod<uid>", becomes berth/kubepods/besteffort/pod<uid>).
// The path is relative to the hierarchy root as kubelet and Docker write it,
// so a leading "/" is fine; what could climb out of berth's parent ("..") or
// is not a cgroup name is refused. The cgroups service checks it again.

/** One cgroup directory name, as the cgroups service takes it. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** The path without leading, trailing or repeated "/"; or why it is not a cgroup parent. */
export function parseCgroupParent(v: string): { path: string } | { error: string } {
  const segments = v.split('/').filter(Boolean);
  if (segments.length === 0) return { error: 'expected a cgroup path such as /kubepods/besteffort/pod<uid>' };
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad !== undefined) {
    return { error: bad === '..' || bad === '.' ? `"${bad}" is not allowed: the path is nested inside berth's cgroup parent` : `"${bad}" is not a cgroup name (letters, digits, _ . -)` };
  }
  if (segments.length > 16) return { error: 'more than 16 levels' };
  return { path: segments.join('/') };
}
