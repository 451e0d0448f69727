/*
 * `berth-shim exec`: an extra process in a running container.
 *
 * The parent opens the init's namespaces (/proc/<pid>/ns/<type>) while still in
 * the host's mount namespace, joins the pid and time namespaces itself
 * (both only take effect for children), forks, puts the child in the
 * init's cgroups, then releases it. The child joins the user namespace
 * first (it grants the privileges over the namespaces the container owns),
 * the mount namespace last (it changes our root), applies the process
 * settings and execs. A CLOEXEC pipe tells the parent whether execve
 * happened: EOF means it did; otherwise the child wrote why it failed.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct exec_report {
	int exec_failed; /* 1: execve itself failed (126/127); 0: setup failed */
	int err;
	char text[1024];
};

/* Order of setns in the child (pid and time are joined by the parent). */
static const int join_order[] = { NS_USER, NS_IPC, NS_UTS, NS_NET, NS_CGROUP, NS_MNT };

static bool same_ns(pid_t pid, const char *name)
{
	char a[64], b[64];
	struct stat sa, sb;
	snprintf(a, sizeof a, "/proc/self/ns/%s", name);
	snprintf(b, sizeof b, "/proc/%d/ns/%s", pid, name);
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* Finds where the hierarchy named by a /proc/<pid>/cgroup line is mounted:
 * controllers "" means cgroup2, else a v1 mount whose super options list
 * every controller (cpu,cpuacct or name=systemd). */
static bool find_cgroup_mount(const char *controllers, char *mnt, size_t mntsz, char *mroot, size_t rootsz)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char root[4096], point[4096], fstype[64], opts[4096];
		char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %4095s %4095s", root, point) != 2 ||
		    sscanf(sep + 3, "%63s %*s %4095s", fstype, opts) != 2)
			continue;
		if (!controllers[0]) {
			found = strcmp(fstype, "cgroup2") == 0;
		} else if (strcmp(fstype, "cgroup") == 0) {
			char want[1024], *save = NULL;
			snprintf(want, sizeof want, "%s", controllers);
			found = true;
			for (char *c = strtok_r(want, ",", &save); c && found; c = strtok_r(NULL, ",", &save)) {
				char *o, *s2 = NULL, have[4096];
				bool any = false;
				snprintf(have, sizeof have, "%s", opts);
				for (o = strtok_r(have, ",", &s2); o; o = strtok_r(NULL, ",", &s2))
					any |= strcmp(o, c) == 0;
				found = any;
			}
		}
		if (found) {
			snprintf(mnt, mntsz, "%s", point);
			snprintf(mroot, rootsz, "%s", root);
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* Writes pid into the cgroup.procs of every hierarchy the init is in. */
static int join_cgroups(pid_t init, pid_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof path, "/proc/%d/cgroup", init);
	f = fopen(path, "re");
	if (!f)
		return fail("cgroups: read %s", path);
	while (ret == 0 && getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL, *cg, mnt[4096], mroot[4096], procs[8400], buf[32];
		int len;
		if (!c2)
			continue;
		*c2 = '\0';
		cg = c2 + 1;
		cg[strcspn(cg, "\n")] = '\0';
		/* Not mounted here: nothing to join through. */
		if (!find_cgroup_mount(c1 + 1, mnt, sizeof mnt, mroot, sizeof mroot))
			continue;
		if (strcmp(mroot, "/") != 0 && strncmp(cg, mroot, strlen(mroot)) == 0)
			cg += strlen(mroot);
		snprintf(procs, sizeof procs, "%s%s/cgroup.procs", mnt, cg);
		len = snprintf(buf, sizeof buf, "%d\n", pid);
		if (write_file(procs, buf, (size_t)len) < 0)
			ret = fail("cgroups: join the init's cgroup: write %s", procs);
	}
	free(line);
	fclose(f);
	return ret;
}

static void __attribute__((noreturn)) child_fail(int fd, bool exec_failed)
{
	struct exec_report r = { .exec_failed = exec_failed, .err = errno };
	snprintf(r.text, sizeof r.text, "%s", shim_err);
	if (write(fd, &r, sizeof r) < 0) {
		/* parent gone */
	}
	_exit(exec_failed ? exec_exit_code(r.err) : 1);
}

int cmd_exec(int argc, char **argv)
{
	const char *state, *cfg, *console = NULL, *pid_file = NULL;
	struct shim_config c;
	char path[4200];
	int ns_fds[NS_COUNT], errp[2] = { -1, -1 }, gop[2] = { -1, -1 }, console_fd = -1;
	long init;
	pid_t child = -1;
	struct exec_report r;
	ssize_t n;

	for (int t = 0; t < NS_COUNT; t++)
		ns_fds[t] = -1;
	if (argc < 2) {
		fail_errno(EINVAL, "exec: expected <state-dir> <exec-config>");
		goto fail;
	}
	state = argv[0];
	cfg = argv[1];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--console-socket") == 0 && i + 1 < argc)
			console = argv[++i];
		else if (strcmp(argv[i], "--pid-file") == 0 && i + 1 < argc)
			pid_file = argv[++i];
		else {
			fail_errno(EINVAL, "exec: unexpected argument \"%s\"", argv[i]);
			goto fail;
		}
	}
	if (config_load(cfg, CONFIG_EXEC, &c) < 0)
		goto fail;
	/* An exec'd process gets the container's seccomp filter, as Docker's
	 * exec does: it is read from the config the container was created
	 * with (the state dir's), never taken from the exec config. */
	{
		struct shim_config container;
		snprintf(path, sizeof path, "%s/config", state);
		if (config_load(path, CONFIG_CONTAINER, &container) < 0)
			goto fail;
		c.seccomp = container.seccomp;
	}
	if (c.process.terminal && !console) {
		fail_errno(EINVAL, "terminal: the exec config asks for a terminal but no --console-socket was given");
		goto fail;
	}
	/* Before the fork, in the host's mount namespace (the cache is there). */
	if (seccomp_prepare(&c.seccomp) < 0)
		goto fail;
	snprintf(path, sizeof path, "%s/pid", state);
	if (read_int_file(path, &init) < 0) {
		fail("exec: read the init's pid from %s", path);
		goto fail;
	}
	if (kill((pid_t)init, 0) < 0) {
		fail("exec: container init %ld is not running", init);
		goto fail;
	}
	/* A recycled pid must never send us into some other process's
	 * namespaces (or none: a host process shares ours, and the exec'd
	 * process would run on the host). */
	snprintf(path, sizeof path, "%s/init.start", state);
	{
		unsigned long long have;
		char buf[32];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0) {
			fail("exec: read %s", path);
			goto fail;
		}
		buf[n] = '\0';
		if (read_start_time((pid_t)init, &have) < 0 || have != strtoull(buf, NULL, 10)) {
			fail_errno(ESRCH, "exec: container init %ld has exited (the pid now names another process)", init);
			goto fail;
		}
	}
	snprintf(path, sizeof path, "/proc/%ld/ns/mnt", init);
	if (access(path, F_OK) < 0) {
		fail("exec: container init %ld has exited", init);
		goto fail;
	}
	if (same_ns((pid_t)init, "mnt")) {
		fail_errno(EINVAL, "exec: pid %ld shares berth-shim's mount namespace: not a container init", init);
		goto fail;
	}
	for (int t = 0; t < NS_COUNT; t++) {
		char p[64];
		snprintf(p, sizeof p, "/proc/%ld/ns/%s", init, ns_infos[t].procname);
		if (access(p, F_OK) < 0 || same_ns((pid_t)init, ns_infos[t].procname))
			continue;
		ns_fds[t] = open(p, O_RDONLY | O_CLOEXEC);
		if (ns_fds[t] < 0) {
			fail("exec: open %s", p);
			goto fail;
		}
	}
	if (console && (console_fd = connect_unix(console)) < 0)
		goto fail;
	if (pipe2(errp, O_CLOEXEC) < 0 || pipe2(gop, O_CLOEXEC) < 0) {
		fail("exec: pipe");
		goto fail;
	}
	/* These two only change what our children get. */
	if (ns_fds[NS_PID] >= 0 && setns(ns_fds[NS_PID], CLONE_NEWPID) < 0) {
		fail("exec: join the init's pid namespace");
		goto fail;
	}
	if (ns_fds[NS_TIME] >= 0 && setns(ns_fds[NS_TIME], CLONE_NEWTIME) < 0) {
		fail("exec: join the init's time namespace");
		goto fail;
	}
	child = fork();
	if (child < 0) {
		fail("exec: fork into the container%s", errno == ENOMEM ? " (its pid namespace has no init left)" : "");
		goto fail;
	}
	if (child == 0) {
		char b;
		close(errp[0]);
		close(gop[1]);
		if (read(gop[0], &b, 1) != 1)
			_exit(1);
		umask(022);
		for (size_t i = 0; i < sizeof join_order / sizeof join_order[0]; i++) {
			int t = join_order[i];
			if (ns_fds[t] >= 0 && setns(ns_fds[t], ns_infos[t].flag) < 0) {
				fail("exec: join the init's %s namespace", ns_infos[t].name);
				child_fail(errp[1], false);
			}
		}
		if (process_apply_early(&c.process) < 0)
			child_fail(errp[1], false);
		if (c.process.terminal && terminal_setup(console_fd, false) < 0)
			child_fail(errp[1], false);
		if (console_fd >= 0)
			close(console_fd);
		if (process_apply_creds(&c.process) < 0)
			child_fail(errp[1], false);
		close_fds_on_exec();
		if (c.process.no_new_privs && seccomp_load_prepared() < 0)
			child_fail(errp[1], false);
		process_exec(&c.process);
		child_fail(errp[1], true);
	}
	close(errp[1]);
	errp[1] = -1;
	close(gop[0]);
	gop[0] = -1;
	if (join_cgroups((pid_t)init, child) < 0 || set_oom_score_adj(child, &c.process) < 0)
		goto fail;
	if (write(gop[1], "1", 1) != 1) {
		fail("exec: release the process");
		goto fail;
	}
	close(gop[1]);
	gop[1] = -1;
	do
		n = read(errp[0], &r, sizeof r);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		/* EOF: the CLOEXEC pipe closed in a successful execve. */
		if (pid_file) {
			char buf[32];
			snprintf(buf, sizeof buf, "%d\n", child);
			/* Whole through the rename, not fsync'd: a process's pid does not outlive a crash (create.c). */
			int rc = atomic_write_file(pid_file, buf, strlen(buf), 0644, 0);
			if (rc < 0) {
				errno = -rc;
				fail("--pid-file %s: write", pid_file);
				report();
				/* The process runs; say so by status, don't kill it. */
				return 1;
			}
		}
		return 0;
	}
	if (n != (ssize_t)sizeof r) {
		fail("exec: read the process's status");
		goto fail;
	}
	r.text[sizeof r.text - 1] = '\0';
	snprintf(shim_err, sizeof shim_err, "%s", r.text);
	report();
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	return r.exec_failed ? exec_exit_code(r.err) : 1;
fail:
	report();
	if (child > 0) {
		kill(child, SIGKILL);
		while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	return 1;
}
