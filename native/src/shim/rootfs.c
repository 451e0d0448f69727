/*
 * The container's root filesystem, set up by the init in its new mount
 * namespace (see docs/design/shim.md for why each step is where it is).
 *
 * Every mount target is resolved inside the root with safepath (symlinks
 * cannot lead out of it) and mounted through /proc/self/fd/N of an O_PATH
 * fd, so a path swapped between resolve and mount cannot redirect us.
 */
#include "shim.h"
#include "safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PROPAGATION (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

/* Whether /proc/self/fd is usable for mount targets (after pivot_root it is
 * only if the container mounted proc). */
static bool have_proc_fd = true;

/* Whether "/" stays shared (rootfs-propagation rshared/shared): our copies
 * of the host's mounts are then peers of the host's, and so is a bind of a
 * host path unless made otherwise; see rootfs_prepare. */
static bool root_shared;

static const char *target_of(int fd, char *buf, const char *fallback)
{
	return have_proc_fd ? safepath_fdpath(fd, buf) : fallback;
}

static bool in_user_namespace(void)
{
	char buf[128];
	int fd = open("/proc/self/uid_map", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	unsigned long a, b, c;
	/* The initial namespace maps everything: "0 0 4294967295". */
	return !(sscanf(buf, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295ul);
}

/* Flags of an existing mount that a remount must keep: in a user namespace
 * the kernel refuses to clear the ones inherited from a more privileged
 * namespace ("locked"), so a bind remount that omits them fails EPERM. */
static unsigned long locked_flags(int fd)
{
	struct statvfs sv;
	unsigned long f = 0;

	if (fstatvfs(fd, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
	return f;
}

struct mount_opts {
	unsigned long flags, clear, propagation;
	bool bind, recursive;
	char data[4096];
};

static int parse_options(const struct mount_spec *m, struct mount_opts *o)
{
	static const struct { const char *name; bool clear; unsigned long flag; } table[] = {
		{ "ro", false, MS_RDONLY }, { "rw", true, MS_RDONLY },
		{ "nosuid", false, MS_NOSUID }, { "suid", true, MS_NOSUID },
		{ "nodev", false, MS_NODEV }, { "dev", true, MS_NODEV },
		{ "noexec", false, MS_NOEXEC }, { "exec", true, MS_NOEXEC },
		{ "sync", false, MS_SYNCHRONOUS }, { "async", true, MS_SYNCHRONOUS },
		{ "dirsync", false, MS_DIRSYNC }, { "mand", false, MS_MANDLOCK }, { "nomand", true, MS_MANDLOCK },
		{ "noatime", false, MS_NOATIME }, { "atime", true, MS_NOATIME },
		{ "nodiratime", false, MS_NODIRATIME }, { "diratime", true, MS_NODIRATIME },
		{ "relatime", false, MS_RELATIME }, { "norelatime", true, MS_RELATIME },
		{ "strictatime", false, MS_STRICTATIME }, { "nostrictatime", true, MS_STRICTATIME },
	};
	static const struct { const char *name; unsigned long flag; } props[] = {
		{ "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC },
		{ "shared", MS_SHARED }, { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC },
		{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};
	size_t dlen = 0;

	memset(o, 0, sizeof *o);
	o->bind = strcmp(m->type, "bind") == 0;
	for (int i = 0; i < m->noptions; i++) {
		const char *opt = m->options[i];
		bool known = false;

		if (strcmp(opt, "bind") == 0 || strcmp(opt, "rbind") == 0) {
			o->bind = true;
			o->recursive |= opt[0] == 'r';
			continue;
		}
		for (size_t k = 0; k < sizeof table / sizeof table[0] && !known; k++)
			if (strcmp(opt, table[k].name) == 0) {
				known = true;
				if (table[k].clear) {
					o->flags &= ~table[k].flag;
					o->clear |= table[k].flag;
				} else {
					o->flags |= table[k].flag;
				}
			}
		for (size_t k = 0; k < sizeof props / sizeof props[0] && !known; k++)
			if (strcmp(opt, props[k].name) == 0) {
				known = true;
				o->propagation = props[k].flag;
			}
		if (known)
			continue;
		/* Anything else is filesystem data (mode=755, size=64m...). */
		if (dlen + strlen(opt) + 2 > sizeof o->data)
			return fail_errno(E2BIG, "mount %s: options too long", m->destination);
		dlen += (size_t)snprintf(o->data + dlen, sizeof o->data - dlen, "%s%s", dlen ? "," : "", opt);
	}
	return 0;
}

/* Remounts the mount at dest (freshly resolved, so we get the new mount on
 * top rather than what was under it) with flags, keeping locked ones. */
static int remount(int rootfd, const char *dest, unsigned long flags, const char *what)
{
	char fdp[32];
	int fd = safepath_open(rootfd, dest);
	int r;

	if (fd < 0)
		return fail("%s %s: reopen after mount", what, dest);
	r = mount(NULL, target_of(fd, fdp, dest), NULL, MS_REMOUNT | MS_BIND | flags | locked_flags(fd), NULL);
	if (r < 0) {
		int e = errno;
		close(fd);
		return fail_errno(e, "%s %s: remount with its flags (ro, nosuid, nodev, noexec...)", what, dest);
	}
	close(fd);
	return 0;
}

static int set_propagation(int rootfd, const char *dest, unsigned long prop)
{
	char fdp[32];
	int fd = safepath_open(rootfd, dest), r;

	if (fd < 0)
		return fail("mount %s: reopen after mount", dest);
	r = mount(NULL, target_of(fd, fdp, dest), NULL, prop, NULL);
	close(fd);
	return r < 0 ? fail("mount %s: set propagation", dest) : 0;
}

/* Super options of a cgroup mount worth passing on: controllers, name=,
 * and flags such as xattr (the kernel checks they match the hierarchy);
 * not rw/ro (the mount flags say that) nor release_agent= (refused outside
 * the initial namespaces, and the host's to set). */
static size_t cgroup_mount_data(const char *super, char *out, size_t size)
{
	char copy[1024], *save = NULL;
	size_t len = 0;

	snprintf(copy, sizeof copy, "%s", super);
	out[0] = '\0';
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "rw") || !strcmp(t, "ro") || !strncmp(t, "release_agent=", 14))
			continue;
		if (len >= size)
			break;
		len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s", len ? "," : "", t);
	}
	return len;
}

/* Mount type "cgroup" (Docker's /sys/fs/cgroup): the cgroup hierarchies the
 * host has under /sys/fs/cgroup, each mounted afresh rather than bound. In
 * the container's cgroup namespace (unshared before the mounts, once the
 * init is in its cgroups) a fresh mount's root is the namespace's root, so
 * the container sees its own cgroup as "/" in every hierarchy, as with
 * runc's cgroupns mounts. A unified host gets one cgroup2 mount; a v1 or
 * hybrid host a tmpfs with a directory per hierarchy ("cpu,cpuacct" plus
 * "cpu" and "cpuacct" links, "unified" for the hybrid cgroup2). Options:
 * the flags of the spec's mount (ro, nosuid, nodev, noexec). */
static int mount_cgroups(int rootfd, const struct mount_spec *m, const struct mount_opts *o)
{
	struct { char name[256], fstype[16], data[1024]; } found[32];
	int nfound = 0, fd, r = 0;
	char line[4096], fdp[32], path[4600];
	bool unified_root = false;
	FILE *mi = fopen("/proc/self/mountinfo", "re");

	if (!mi)
		return fail("mount %s: read /proc/self/mountinfo", m->destination);
	while (fgets(line, sizeof line, mi) && nfound < (int)(sizeof found / sizeof found[0])) {
		char *sep = strstr(line, " - "), *mp, *fstype, *super, *save = NULL;
		int field = 0;
		if (!sep)
			continue;
		*sep = '\0';
		mp = NULL;
		for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
			if (++field == 5)
				mp = t;
		save = NULL;
		fstype = strtok_r(sep + 3, " ", &save);
		(void)strtok_r(NULL, " ", &save); /* source */
		super = strtok_r(NULL, " \n", &save);
		if (!mp || !fstype || !super || (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2")))
			continue;
		if (!strcmp(mp, "/sys/fs/cgroup")) {
			unified_root = !strcmp(fstype, "cgroup2");
			continue;
		}
		if (strncmp(mp, "/sys/fs/cgroup/", 15) || strchr(mp + 15, '/') || !mp[15])
			continue;
		snprintf(found[nfound].name, sizeof found[nfound].name, "%s", mp + 15);
		snprintf(found[nfound].fstype, sizeof found[nfound].fstype, "%s", fstype);
		if (!strcmp(fstype, "cgroup2"))
			found[nfound].data[0] = '\0'; /* nsdelegate and friends are the host's */
		else
			cgroup_mount_data(super, found[nfound].data, sizeof found[nfound].data);
		nfound++;
	}
	fclose(mi);

	fd = safepath_mkpath(rootfd, m->destination, SAFEPATH_DIR, 0755);
	if (fd < 0)
		return fail("mount %s: create mount point in the root", m->destination);
	if (unified_root) {
		r = mount("cgroup", safepath_fdpath(fd, fdp), "cgroup2", o->flags, NULL);
		close(fd);
		return r < 0 ? fail("mount %s (type cgroup2)", m->destination) : 0;
	}
	r = mount("tmpfs", safepath_fdpath(fd, fdp), "tmpfs", (o->flags & ~MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755");
	close(fd);
	if (r < 0)
		return fail("mount %s: tmpfs for the cgroup hierarchies", m->destination);
	for (int i = 0; i < nfound; i++) {
		if (snprintf(path, sizeof path, "%s/%s", m->destination, found[i].name) >= (int)sizeof path)
			return fail_errno(ENAMETOOLONG, "mount %s: hierarchy %s", m->destination, found[i].name);
		fd = safepath_mkpath(rootfd, path, SAFEPATH_DIR, 0755);
		if (fd < 0)
			return fail("mount %s: create mount point in the root", path);
		r = mount("cgroup", safepath_fdpath(fd, fdp), found[i].fstype, o->flags, found[i].data[0] ? found[i].data : NULL);
		close(fd);
		if (r < 0)
			return fail("mount %s (type %s, options %s)", path, found[i].fstype, found[i].data[0] ? found[i].data : "-");
		/* "cpu,cpuacct" is also reachable as "cpu" and "cpuacct". */
		if (strchr(found[i].name, ',')) {
			char names[256], *save = NULL;
			int dir = safepath_open(rootfd, m->destination);
			if (dir < 0)
				return fail("mount %s: reopen", m->destination);
			if (snprintf(names, sizeof names, "%s", found[i].name) >= (int)sizeof names) {
				close(dir);
				return fail_errno(ENAMETOOLONG, "mount %s: hierarchy %s", m->destination, found[i].name);
			}
			for (char *t = strtok_r(names, ",", &save); t; t = strtok_r(NULL, ",", &save))
				if (symlinkat(found[i].name, dir, t) < 0 && errno != EEXIST) {
					int e = errno;
					close(dir);
					return fail_errno(e, "mount %s: link %s -> %s", m->destination, t, found[i].name);
				}
			close(dir);
		}
	}
	if ((o->flags & MS_RDONLY) && remount(rootfd, m->destination, o->flags | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mount") < 0)
		return -1;
	return 0;
}

static int mount_one(int rootfd, const struct mount_spec *m, bool userns)
{
	struct mount_opts o;
	enum safepath_kind kind = SAFEPATH_DIR;
	char fdp[32];
	int fd, r;

	if (parse_options(m, &o) < 0)
		return -1;
	if (strcmp(m->type, "cgroup") == 0)
		return mount_cgroups(rootfd, m, &o);
	if (o.bind) {
		struct stat st;
		if (stat(m->source, &st) < 0)
			return fail("mount %s: bind source %s", m->destination, m->source);
		if (!S_ISDIR(st.st_mode))
			kind = SAFEPATH_FILE;
	}
	fd = safepath_mkpath(rootfd, m->destination, kind, 0755);
	if (fd < 0)
		return fail("mount %s: create mount point in the root", m->destination);
	if (o.bind) {
		r = mount(m->source, safepath_fdpath(fd, fdp), NULL, MS_BIND | (o.recursive ? MS_REC : 0), NULL);
	} else {
		r = mount(m->source, safepath_fdpath(fd, fdp), m->type, o.flags, o.data[0] ? o.data : NULL);
		if (r < 0 && errno == EPERM && userns && strcmp(m->type, "sysfs") == 0) {
			/* sysfs needs a network namespace owned by our user
			 * namespace; without one, do what runc does: bind the
			 * host's /sys (read-only below when asked). */
			r = mount("/sys", fdp, NULL, MS_BIND | MS_REC, NULL);
			o.bind = true;
		}
	}
	close(fd);
	if (r < 0)
		return fail("mount %s (type %s, source %s)", m->destination, m->type, m->source);
	/* A bind takes the source's flags; ro/nosuid/... need a remount. */
	if (o.bind && (o.flags & ~MS_REC) && remount(rootfd, m->destination, o.flags, "mount") < 0)
		return -1;
	/* Under a shared "/", a bind that asks for no propagation would stay
	 * a peer of the host mount it came from (mounts made on it by the
	 * container would reach the host): private, as Docker's default. */
	if (o.bind && !o.propagation && root_shared)
		o.propagation = MS_PRIVATE | MS_REC;
	if (o.propagation && set_propagation(rootfd, m->destination, o.propagation) < 0)
		return -1;
	return 0;
}

static int populate_dev(int rootfd, bool userns)
{
	static const struct { const char *name; unsigned maj, min; } devs[] = {
		{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
		{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
	};
	static const struct { const char *name, *target; } links[] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" },
	};
	int dev = safepath_open(rootfd, "/dev");

	if (dev < 0)
		return fail("/dev: open in the root");
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
		char host[32], fdp[32];
		snprintf(host, sizeof host, "/dev/%s", devs[i].name);
		if (!userns) {
			if (mknodat(dev, devs[i].name, S_IFCHR | 0666, makedev(devs[i].maj, devs[i].min)) < 0 && errno != EEXIST)
				goto fail;
			continue;
		}
		/* A user namespace may not mknod: bind the host's node onto
		 * an empty file instead (the node keeps host ownership,
		 * which is what we want for these). */
		int f = openat(dev, devs[i].name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (f < 0)
			goto fail;
		close(f);
		f = openat(dev, devs[i].name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (f < 0)
			goto fail;
		if (mount(host, safepath_fdpath(f, fdp), NULL, MS_BIND, NULL) < 0) {
			int e = errno;
			close(f);
			close(dev);
			return fail_errno(e, "/dev/%s: bind from host", devs[i].name);
		}
		close(f);
	}
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
		/* /dev/ptmx may exist as a node in a non-tmpfs /dev: the
		 * link to the devpts instance's ptmx must win. */
		if (strcmp(links[i].name, "ptmx") == 0)
			unlinkat(dev, "ptmx", 0);
		if (symlinkat(links[i].target, dev, links[i].name) < 0 && errno != EEXIST) {
			int e = errno;
			close(dev);
			return fail_errno(e, "/dev/%s: symlink", links[i].name);
		}
	}
	close(dev);
	return 0;
fail: {
	int e = errno;
	close(dev);
	return fail_errno(e, "/dev: create device nodes");
}
}

/* linux.devices: each node made inside the root with its type, numbers,
 * mode and owner (runc's createDevices). In a user namespace, where mknod is
 * refused, the host node is bound onto an empty file instead. A node that
 * exists already (/dev/null from populate_dev) is left as it is. The devices
 * cgroup decides what may be opened; this only decides what is there. */
static int create_devices(int rootfd, const struct shim_config *c, bool userns)
{
	for (int i = 0; i < c->ndevices; i++) {
		const struct device_spec *d = &c->devices[i];
		char parent[4096], fdp[32];
		const char *base = strrchr(d->path, '/') + 1;
		int dir, f;

		if (!*base)
			return fail_errno(EINVAL, "device %s: no file name", d->path);
		snprintf(parent, sizeof parent, "%.*s", (int)(base - d->path), d->path);
		dir = safepath_mkpath(rootfd, parent, SAFEPATH_DIR, 0755);
		if (dir < 0)
			return fail("device %s: create %s in the root", d->path, parent);
		if (!userns) {
			if (mknodat(dir, base, d->type | d->mode, makedev(d->major, d->minor)) < 0) {
				int e = errno;
				close(dir);
				if (e == EEXIST)
					continue;
				return fail_errno(e, "device %s: mknod %s %u:%u", d->path, d->type == S_IFBLK ? "b" : d->type == S_IFCHR ? "c" : "p", d->major, d->minor);
			}
			/* umask is 0 here; the owner is the spec's. */
			if (fchownat(dir, base, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) {
				int e = errno;
				close(dir);
				return fail_errno(e, "device %s: chown %u:%u", d->path, d->uid, d->gid);
			}
			close(dir);
			continue;
		}
		f = openat(dir, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
		if (f < 0 && errno == EEXIST) {
			close(dir);
			continue;
		}
		if (f >= 0) {
			close(f);
			f = openat(dir, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		close(dir);
		if (f < 0)
			return fail("device %s: create a file to bind onto", d->path);
		if (mount(d->host, safepath_fdpath(f, fdp), NULL, MS_BIND, NULL) < 0) {
			int e = errno;
			close(f);
			return fail_errno(e, "device %s: bind from host %s", d->path, d->host);
		}
		close(f);
	}
	return 0;
}

/* Binds a host file (berth-init) read-only at dest inside the root. */
static int bind_file_ro(int rootfd, const char *src, const char *dest, const char *what)
{
	char fdp[32];
	int fd = safepath_mkpath(rootfd, dest, SAFEPATH_FILE, 0755);

	if (fd < 0)
		return fail("%s: create %s in the root", what, dest);
	if (mount(src, safepath_fdpath(fd, fdp), NULL, MS_BIND, NULL) < 0) {
		int e = errno;
		close(fd);
		return fail_errno(e, "%s %s: bind onto %s", what, src, dest);
	}
	close(fd);
	if (root_shared && set_propagation(rootfd, dest, MS_PRIVATE) < 0)
		return -1;
	return remount(rootfd, dest, MS_RDONLY | MS_NOSUID | MS_NODEV, what);
}

static int mount_id_of(const char *path, uint64_t *id)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) < 0)
		return -1;
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		errno = ENOSYS;
		return -1;
	}
	*id = stx.stx_mnt_id;
	return 0;
}

/* Makes the mount that holds `root` (the root itself when it is a mount
 * point, as the layers service's overlay is) private in our namespace, as
 * runc's rootfsParentMountPrivate: with "/" shared, the root's bind onto
 * itself and everything mounted in the root would otherwise propagate to the
 * host's copy of that mount, and pivot_root refuses a new root whose parent
 * mount is shared. The mount point is found by walking up while the mount id
 * stays the same (statx STATX_MNT_ID, Linux 5.8). */
/* A bind that asks for shared propagation only reaches the host when its
 * source is on a shared host mount: refuse it otherwise, naming the mount
 * to make shared, as Docker and containerd do (ensureShared), rather than
 * run a container whose mounts silently stay in it. Checked right after
 * the unshare, while our copies still have the host's propagation. */
static int check_shared_source(const struct mount_spec *m)
{
	char *line = NULL, mp[4096] = "";
	size_t cap = 0;
	uint64_t id;
	bool shared = false, found = false;
	FILE *f;

	if (mount_id_of(m->source, &id) < 0)
		return fail("mount %s: bind source %s", m->destination, m->source);
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return fail("mount %s: read /proc/self/mountinfo", m->destination);
	while (!found && getline(&line, &cap, f) > 0) {
		unsigned long long mid;
		char *sep = strstr(line, " - "), *fields;
		if (sscanf(line, "%llu %*s %*s %*s %4095s", &mid, mp) != 2 || mid != id || !sep)
			continue;
		found = true;
		*sep = '\0';
		/* Optional fields follow the 6th: "shared:N", "master:N"... */
		fields = line;
		for (int i = 0; i < 6 && fields; i++)
			fields = strchr(fields + 1, ' ');
		shared = fields && strstr(fields, " shared:") != NULL;
	}
	free(line);
	fclose(f);
	if (!found)
		return fail_errno(ENOENT, "mount %s: the mount holding bind source %s", m->destination, m->source);
	if (!shared)
		return fail_errno(EINVAL, "mount %s: shared propagation needs bind source %s on a shared mount, and %s is not one (make it shared on the host: mount --make-rshared %s)",
				  m->destination, m->source, mp, mp);
	return 0;
}

static int make_root_mount_private(const char *root)
{
	char *path = realpath(root, NULL), *slash;
	uint64_t id, up;
	int r = -1;

	if (!path)
		return fail("root %s: resolve", root);
	if (mount_id_of(path, &id) < 0) {
		fail("root %s: statx mount id%s", path, errno == ENOSYS || errno == EINVAL ? " (rshared propagation needs Linux 5.8 or later)" : "");
		goto out;
	}
	while ((slash = strrchr(path, '/')) != NULL && slash != path) {
		*slash = '\0';
		if (mount_id_of(path, &up) < 0) {
			fail("root: statx mount id of %s", path);
			goto out;
		}
		if (up != id) {
			*slash = '/'; /* the last directory still on the root's mount */
			break;
		}
	}
	if (slash == path && mount_id_of("/", &up) == 0 && up == id)
		path[1] = '\0'; /* the root is on "/" itself */
	if (mount(NULL, path, NULL, MS_PRIVATE, NULL) < 0) {
		fail("root %s: make the mount holding it (%s) private", root, path);
		goto out;
	}
	r = 0;
out:
	free(path);
	return r;
}

int rootfs_prepare(const struct shim_config *c)
{
	bool userns = in_user_namespace(), dev_mounted = false;
	unsigned long prop = c->rootfs_propagation;
	int rootfd = -1, oldroot, fd;

	/* Private (the default) or slave: nothing we mount propagates back
	 * to the host. Shared (a bind asked for bidirectional propagation,
	 * CRI's PROPAGATION_BIDIRECTIONAL, -v ...:rshared): "/" stays shared
	 * so that our copies of the host's mounts keep their peer groups; a
	 * bind of a path on a shared host mount then joins that group, and
	 * what the container mounts under it reaches the host (and back).
	 * Only the mount holding the root is made private, so the root and
	 * everything mounted in it propagate nowhere else; "/" of the new root
	 * is made shared after pivot_root (which refuses a shared parent). */
	for (int i = 0; i < c->nmounts; i++) {
		struct mount_opts o;
		if (parse_options(&c->mounts[i], &o) < 0)
			return -1;
		if (o.bind && (o.propagation & MS_SHARED) && check_shared_source(&c->mounts[i]) < 0)
			return -1;
	}
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return fail("rootfs-propagation: make / %s", prop & MS_SHARED ? "rshared" : prop & MS_SLAVE ? "rslave" : "private");
	root_shared = prop & MS_SHARED;
	if (root_shared && make_root_mount_private(c->root) < 0)
		return -1;
	/* The old root, to make it rslave after pivot_root (below). */
	oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (oldroot < 0)
		return fail("open /");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(c->root, c->root, NULL, MS_BIND | MS_REC, NULL) < 0) {
		fail("root %s: bind onto itself%s", c->root,
		     errno == EACCES && userns ? " (with a user namespace, the root and its parents must be searchable by the mapped root)" : "");
		goto fail;
	}
	/* Opened after the bind so it names the new mount, not the dir. */
	rootfd = open(c->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		fail("root %s: open", c->root);
		goto fail;
	}
	for (int i = 0; i < c->nmounts; i++) {
		if (mount_one(rootfd, &c->mounts[i], userns) < 0)
			goto fail;
		/* Only a fresh filesystem on /dev is populated: a bind of the
		 * host's /dev must never get our mknods and symlinks. */
		dev_mounted |= strcmp(c->mounts[i].destination, "/dev") == 0 && strcmp(c->mounts[i].type, "tmpfs") == 0;
	}
	if (dev_mounted && populate_dev(rootfd, userns) < 0)
		goto fail;
	/* As populate_dev, and as runc (needsSetupDev): with the host's /dev
	 * bound in, a node made here would be made on the host. */
	if (dev_mounted && create_devices(rootfd, c, userns) < 0)
		goto fail;
	if (c->init && bind_file_ro(rootfd, c->init, "/dev/init", "init") < 0)
		goto fail;
	if (c->process.terminal) {
		fd = safepath_mkpath(rootfd, "/dev/console", SAFEPATH_FILE, 0755);
		if (fd < 0) {
			fail("terminal: create /dev/console in the root");
			goto fail;
		}
		close(fd);
	}
	/* runc creates a missing cwd too; done as container root, so it is
	 * owned by it. */
	fd = safepath_mkpath(rootfd, c->process.cwd, SAFEPATH_DIR, 0755);
	if (fd < 0) {
		fail("cwd %s: create in the root", c->process.cwd);
		goto fail;
	}
	close(fd);
	/* pivot_root(".", ".") stacks the old root over the new one at the
	 * same place; detaching it then drops it (and every host mount)
	 * from our view. chroot would leave the host reachable (a chroot
	 * escape is one chdir("..") loop). The old root is made rslave first
	 * so that the detach does not propagate to the host when "/" was
	 * shared. It is named through the fd opened before the pivot (runc's
	 * order): "." after the pivot is still the new root, and MS_SLAVE
	 * there would make every mount of the container a slave, cutting a
	 * bidirectional bind off from its peers on the host. */
	if (fchdir(rootfd) < 0) {
		fail("root %s: chdir", c->root);
		goto fail;
	}
	close(rootfd);
	rootfd = -1;
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		fail("root %s: pivot_root", c->root);
		goto fail;
	}
	if (fchdir(oldroot) < 0) {
		fail("root %s: chdir to the old root", c->root);
		goto fail;
	}
	close(oldroot);
	oldroot = -1;
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return fail("root %s: make old root rslave", c->root);
	if (umount2(".", MNT_DETACH) < 0)
		return fail("root %s: detach old root", c->root);
	if (chdir("/") < 0)
		return fail("root %s: chdir /", c->root);
	if (root_shared && mount(NULL, "/", NULL, c->rootfs_propagation, NULL) < 0)
		return fail("rootfs-propagation: make / shared");
	have_proc_fd = access("/proc/self/fd", F_OK) == 0;
	return 0;
fail: {
	int e = errno;
	if (rootfd >= 0)
		close(rootfd);
	if (oldroot >= 0)
		close(oldroot);
	errno = e;
	return -1;
}
}

static int write_sysctl(const char *key, const char *value)
{
	char path[4200];
	size_t n = (size_t)snprintf(path, sizeof path, "/proc/sys/%s", key);

	for (size_t i = sizeof "/proc/sys/" - 1; i < n; i++)
		if (path[i] == '.')
			path[i] = '/';
	if (write_file(path, value, strlen(value)) < 0)
		return fail("sysctl %s=%s: write %s", key, value, path);
	return 0;
}

int rootfs_finalize(const struct shim_config *c)
{
	char fdp[32];
	int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (rootfd < 0)
		return fail("open /");
	/* sysctls before readonly paths: /proc/sys is one of them. */
	for (int i = 0; i < c->nsysctl; i++)
		if (write_sysctl(c->sysctl_keys[i], c->sysctl_values[i]) < 0)
			goto fail;
	for (int i = 0; i < c->nreadonly; i++) {
		const char *p = c->readonly[i];
		int fd = safepath_open(rootfd, p), r;
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0) {
			fail("readonly-path %s: open", p);
			goto fail;
		}
		r = mount(target_of(fd, fdp, p), target_of(fd, fdp, p), NULL, MS_BIND | MS_REC, NULL);
		close(fd);
		if (r < 0) {
			fail("readonly-path %s: bind onto itself", p);
			goto fail;
		}
		if (remount(rootfd, p, MS_RDONLY | MS_REC, "readonly-path") < 0)
			goto fail;
	}
	for (int i = 0; i < c->nmasked; i++) {
		const char *p = c->masked[i];
		struct stat st;
		int fd = safepath_open(rootfd, p), r;
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || fstat(fd, &st) < 0) {
			fail("masked-path %s: open", p);
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		/* A directory gets an empty read-only tmpfs, anything else
		 * /dev/null: reads see nothing, writes fail or vanish. */
		if (S_ISDIR(st.st_mode))
			r = mount("tmpfs", target_of(fd, fdp, p), "tmpfs", MS_RDONLY, NULL);
		else
			r = mount("/dev/null", target_of(fd, fdp, p), NULL, MS_BIND, NULL);
		close(fd);
		if (r < 0) {
			fail("masked-path %s: mount over it", p);
			goto fail;
		}
	}
	if (c->root_readonly) {
		int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		unsigned long lf = fd >= 0 ? locked_flags(fd) : 0;
		if (fd >= 0)
			close(fd);
		if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | lf, NULL) < 0) {
			fail("root-readonly: remount / read-only");
			goto fail;
		}
	}
	close(rootfd);
	return 0;
fail: {
	int e = errno;
	close(rootfd);
	errno = e;
	return -1;
}
}
