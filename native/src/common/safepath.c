/* safepath: see safepath.h. */
#include "safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SYMLINKS 40
#define MAX_DEPTH 256

static int openat2_in_root(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	const char *p = path;

	while (*p == '/')
		p++;
	if (*p == '\0')
		p = ".";
	for (;;) {
		long fd = syscall(SYS_openat2, rootfd, p, &how, sizeof how);
		/* EAGAIN: a concurrent rename raced the lookup; just retry. */
		if (fd < 0 && errno == EAGAIN)
			continue;
		return (int)fd;
	}
}

int safepath_open_walk(int rootfd, const char *path)
{
	int stack[MAX_DEPTH], depth = 0, links = 0, ret = -1;
	/* rest holds the components still to resolve; symlink targets are
	 * spliced in front of what remains. */
	size_t cap = strlen(path) + 1;
	char *rest = malloc(cap), *p;

	if (!rest)
		return -1;
	memcpy(rest, path, cap);
	stack[depth] = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (stack[depth] < 0)
		goto out;
	depth++;
	p = rest;
	for (;;) {
		char *comp, *slash;
		int fd;
		struct stat st;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		comp = p;
		slash = strchr(p, '/');
		if (slash) {
			*slash = '\0';
			p = slash + 1;
		} else {
			p += strlen(p);
		}
		if (strcmp(comp, ".") == 0)
			continue;
		if (strcmp(comp, "..") == 0) {
			if (depth > 1)
				close(stack[--depth]);
			continue;
		}
		fd = openat(stack[depth - 1], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			goto out;
		if (fstat(fd, &st) < 0) {
			close(fd);
			goto out;
		}
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
			size_t rlen = strlen(p), need;
			char *nrest;

			close(fd);
			if (n < 0)
				goto out;
			if (++links > MAX_SYMLINKS) {
				errno = ELOOP;
				goto out;
			}
			target[n] = '\0';
			if (target[0] == '/') {
				while (depth > 1)
					close(stack[--depth]);
			}
			need = (size_t)n + 1 + rlen + 1;
			nrest = malloc(need);
			if (!nrest)
				goto out;
			snprintf(nrest, need, "%s/%s", target, p);
			free(rest);
			rest = p = nrest;
			continue;
		}
		if (depth == MAX_DEPTH) {
			close(fd);
			errno = ENAMETOOLONG;
			goto out;
		}
		if (*p != '\0' && !S_ISDIR(st.st_mode)) {
			close(fd);
			errno = ENOTDIR;
			goto out;
		}
		stack[depth++] = fd;
	}
	ret = stack[--depth];
out: {
	int e = errno;
	while (depth > 0)
		close(stack[--depth]);
	free(rest);
	errno = e;
	return ret;
}
}

int safepath_open(int rootfd, const char *path)
{
	int fd = openat2_in_root(rootfd, path);

	if (fd < 0 && (errno == ENOSYS || errno == EPERM /* seccomp */))
		return safepath_open_walk(rootfd, path);
	return fd;
}

static int mkpath_depth(int rootfd, const char *path, enum safepath_kind kind, mode_t dirmode, int depth);

/* name (in parent, which path_to_parent names) exists but does not resolve:
 * if it is a dangling symlink, create its target (inside the root, like
 * every resolution here), so /var/run -> /run works when /run is missing. */
static int create_link_target(int rootfd, int parent, const char *name, const char *path_to_parent, enum safepath_kind kind,
			      mode_t dirmode, int depth)
{
	char target[4096], *full;
	struct stat st;
	ssize_t n;
	int fd;

	if (depth >= MAX_SYMLINKS) {
		errno = ELOOP;
		return -1;
	}
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISLNK(st.st_mode)) {
		errno = ENOENT;
		return -1;
	}
	n = readlinkat(parent, name, target, sizeof target - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	full = malloc(strlen(path_to_parent) + (size_t)n + 2);
	if (!full)
		return -1;
	if (target[0] == '/')
		strcpy(full, target);
	else
		sprintf(full, "%s/%s", path_to_parent, target);
	fd = mkpath_depth(rootfd, full, kind, dirmode, depth + 1);
	free(full);
	return fd;
}

int safepath_mkpath(int rootfd, const char *path, enum safepath_kind kind, mode_t dirmode)
{
	return mkpath_depth(rootfd, path, kind, dirmode, 0);
}

static int mkpath_depth(int rootfd, const char *path, enum safepath_kind kind, mode_t dirmode, int depth)
{
	size_t len = strlen(path);
	char *buf;
	int fd;

	fd = safepath_open(rootfd, path);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	buf = malloc(len + 1);
	if (!buf)
		return -1;
	memcpy(buf, path, len + 1);
	/* Walk prefixes: each is resolved from the root (so a symlink in an
	 * earlier component stays inside it), and only the missing component
	 * is created, relative to the resolved parent. */
	for (size_t i = 0; i <= len; i++) {
		char saved, *name;
		int parent, last;

		if (i < len && buf[i] != '/')
			continue;
		if (i == 0)
			continue;
		saved = buf[i];
		buf[i] = '\0';
		last = (i == len) || strspn(buf + i + 1, "/") == len - i - 1;
		fd = safepath_open(rootfd, buf);
		if (fd >= 0) {
			buf[i] = saved;
			if (last)
				goto done;
			close(fd);
			continue;
		}
		if (errno != ENOENT)
			goto fail;
		name = strrchr(buf, '/');
		*name = '\0';
		parent = safepath_open(rootfd, buf[0] ? buf : "/");
		*name = '/';
		name++;
		if (parent < 0)
			goto fail;
		if (last && kind == SAFEPATH_FILE) {
			int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (f >= 0)
				close(f);
			else if (errno != EEXIST) {
				int e = errno;
				close(parent);
				errno = e;
				goto fail;
			}
		} else if (mkdirat(parent, name, dirmode) < 0 && errno != EEXIST) {
			int e = errno;
			close(parent);
			errno = e;
			goto fail;
		}
		/* EEXIST above may be a dangling symlink: create its target. */
		fd = safepath_open(rootfd, buf);
		if (fd < 0 && errno == ENOENT) {
			char *slash = strrchr(buf, '/');
			*slash = '\0';
			fd = create_link_target(rootfd, parent, name, buf[0] ? buf : "/", last ? kind : SAFEPATH_DIR, dirmode, depth);
			*slash = '/';
			if (fd >= 0) {
				close(fd);
				fd = safepath_open(rootfd, buf);
			}
		}
		close(parent);
		if (fd < 0)
			goto fail;
		buf[i] = saved;
		if (last)
			goto done;
		close(fd);
	}
	errno = ENOENT;
fail:
	fd = -1;
done: {
	int e = errno;
	free(buf);
	errno = e;
	return fd;
}
}

char *safepath_fdpath(int fd, char *buf)
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
	return buf;
}
