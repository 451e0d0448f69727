/* Tests of path resolution inside a root (src/common/safepath.h): both the
 * openat2 path and the portable walk must keep symlinks and ".." inside. */
#include "safepath.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

static char base[256];

/* Where fd points, relative to the test root ("" for the root itself). */
static const char *where(int fd)
{
	static char buf[4096];
	char p[64];
	ssize_t n;
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	n = readlink(p, buf, sizeof buf - 1);
	if (n < 0)
		return "?";
	buf[n] = '\0';
	close(fd);
	size_t bl = strlen(base) + strlen("/root");
	if (strncmp(buf, base, strlen(base)) == 0 && strncmp(buf + strlen(base), "/root", 5) == 0)
		return buf + bl;
	return buf; /* outside the root: the full host path */
}

typedef int (*opener)(int, const char *);

static void resolve_cases(int root, opener open_fn, const char *name)
{
	const struct { const char *path, *want; } cases[] = {
		{ "/etc/file", "/etc/file" },
		{ "etc/./file", "/etc/file" },
		{ "/../../etc/file", "/etc/file" },
		{ "/abs-link/file", "/etc/file" },         /* abs-link -> /etc */
		{ "/rel-link/file", "/etc/file" },         /* rel-link -> ../../../etc */
		{ "/escape", "" },                         /* escape -> /.. */
		{ "/etc/up/etc/file", "/etc/file" },       /* up -> ../.. */
		{ "/hostlink", "" },                       /* hostlink -> <base>/outside -> missing */
		{ "/chain", "/etc/file" },                 /* chain -> abs-link/file */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = open_fn(root, cases[i].path);
		const char *got = fd >= 0 ? where(fd) : strerror(errno);
		if (strcmp(cases[i].path, "/hostlink") == 0)
			CHECK(fd < 0 && errno == ENOENT, "%s: %s (absolute host path) does not reach the host: %s", name, cases[i].path, got);
		else
			CHECK(fd >= 0 && strcmp(got, cases[i].want) == 0, "%s: %s -> '%s' (got '%s')", name, cases[i].path, cases[i].want, got);
	}
	int fd = open_fn(root, "/loop");
	CHECK(fd < 0 && errno == ELOOP, "%s: a symlink loop is ELOOP", name);
	fd = open_fn(root, "/etc/file/x");
	CHECK(fd < 0 && errno == ENOTDIR, "%s: a file used as a directory is ENOTDIR", name);
}

int main(void)
{
	char path[1024], outside[300];
	snprintf(base, sizeof base, "/tmp/berth-safepath-XXXXXX");
	if (!mkdtemp(base)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/root", base);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/root/etc", base);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/root/etc/file", base);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	snprintf(outside, sizeof outside, "%s/outside", base);
	mkdir(outside, 0755);
	snprintf(path, sizeof path, "%s/secret", outside);
	close(open(path, O_CREAT | O_WRONLY, 0644));

	snprintf(path, sizeof path, "%s/root", base);
	int root = open(path, O_PATH | O_DIRECTORY);
	symlinkat("/etc", root, "abs-link");
	symlinkat("../../../etc", root, "rel-link");
	symlinkat("/..", root, "escape");
	symlinkat("../..", root, "etc/up");
	symlinkat(outside, root, "hostlink");
	symlinkat("abs-link/file", root, "chain");
	symlinkat("loop", root, "loop");
	symlinkat("/outside-target/x", root, "dangling");

	resolve_cases(root, safepath_open, "openat2");
	resolve_cases(root, safepath_open_walk, "walk");

	/* mkpath: creates inside, through symlinks, never outside. */
	int fd = safepath_mkpath(root, "/abs-link/new/dir", SAFEPATH_DIR, 0755);
	CHECK(fd >= 0 && strcmp(where(fd), "/etc/new/dir") == 0, "mkpath creates missing dirs through an in-root symlink");
	fd = safepath_mkpath(root, "/a/b/c.txt", SAFEPATH_FILE, 0755);
	struct stat st;
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "mkpath creates a file as the last component");
	if (fd >= 0)
		close(fd);
	fd = safepath_mkpath(root, "/escape/created-by-escape", SAFEPATH_DIR, 0755);
	snprintf(path, sizeof path, "%s/created-by-escape", base);
	CHECK(fd >= 0 && access(path, F_OK) < 0 && strcmp(where(fd), "/created-by-escape") == 0, "mkpath through /.. creates inside the root");
	fd = safepath_mkpath(root, "/hostlink/pwned", SAFEPATH_DIR, 0755);
	snprintf(path, sizeof path, "%s/pwned", outside);
	CHECK(access(path, F_OK) < 0, "mkpath through a link to a host path never creates on the host (fd %d)", fd);
	if (fd >= 0)
		close(fd);
	fd = safepath_mkpath(root, "/dangling", SAFEPATH_FILE, 0755);
	CHECK(fd >= 0 && access("/outside-target", F_OK) < 0 && strcmp(where(fd), "/outside-target/x") == 0,
	      "mkpath through a dangling absolute symlink creates its target inside the root, never on the host");
	symlinkat("../run", root, "etc/varrun");
	fd = safepath_mkpath(root, "/etc/varrun/sub", SAFEPATH_DIR, 0755);
	CHECK(fd >= 0 && strcmp(where(fd), "/run/sub") == 0, "a dangling relative symlink as a middle component");
	symlinkat("selfloop", root, "selfloop");
	fd = safepath_mkpath(root, "/selfloop/x", SAFEPATH_DIR, 0755);
	CHECK(fd < 0 && errno == ELOOP, "a looping dangling symlink is ELOOP");
	fd = safepath_mkpath(root, "/etc/file", SAFEPATH_DIR, 0755);
	CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "mkpath returns an existing object as is");
	if (fd >= 0)
		close(fd);

	char buf[32];
	CHECK(strcmp(safepath_fdpath(7, buf), "/proc/self/fd/7") == 0, "fdpath");

	close(root);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup of %s failed\n", base);
	return tap_done();
}
