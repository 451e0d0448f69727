/*
 * `berth-shim create`: parent, middle and init (roles in shim.h, protocol
 * in sync.h, reasons for the ordering in docs/design/shim.md).
 */
#include "shim.h"
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct create_ctx {
	const char *state_dir;
	struct shim_config config;
	char fifo_path[4200], pid_path[4200];
	int sync_fd;    /* the children's end of the socketpair */
	int fifo_fd;    /* exec.fifo opened O_RDWR: the init blocks reading it */
	int console_fd; /* connected --console-socket, or -1 */
	int ns_fds[NS_COUNT]; /* namespaces to join, or -1 */
	pid_t parent;         /* the shim parent, to notice its death */
};

/* ---- init ------------------------------------------------------------- */

static int init_setup(struct create_ctx *x)
{
	struct shim_config *c = &x->config;

	if (sync_expect(x->sync_fd, SYNC_GO) < 0)
		_exit(1); /* parent died or failed: it cleans up */
	/* A new cgroup namespace is unshared only now, after the parent put
	 * us in our cgroups, so its root is the container's cgroup. */
	if (c->ns[NS_CGROUP].enabled && !c->ns[NS_CGROUP].path && unshare(CLONE_NEWCGROUP) < 0)
		return fail("namespace cgroup: unshare");
	if (c->hostname && sethostname(c->hostname, strlen(c->hostname)) < 0)
		return fail("hostname \"%s\": sethostname", c->hostname);
	if (c->domainname && setdomainname(c->domainname, strlen(c->domainname)) < 0)
		return fail("domainname \"%s\": setdomainname", c->domainname);
	/* Device nodes and mount points get exactly the modes we ask for. */
	umask(0);
	if (rootfs_prepare(c) < 0)
		return -1;
	if (c->process.terminal && terminal_setup(x->console_fd, true) < 0)
		return -1;
	if (x->console_fd >= 0)
		close(x->console_fd);
	if (rootfs_finalize(c) < 0)
		return -1;
	umask(022);
	if (process_apply_early(&c->process) < 0 || process_apply_creds(&c->process) < 0)
		return -1;
	return 0;
}

static void __attribute__((noreturn)) run_init(struct create_ctx *x)
{
	char b;
	ssize_t n;

	if (init_setup(x) < 0) {
		sync_send_error(x->sync_fd);
		_exit(1);
	}
	if (sync_send(x->sync_fd, SYNC_READY, 0) < 0 || sync_expect(x->sync_fd, SYNC_DONE) < 0)
		_exit(1);
	close(x->sync_fd);
	/* Created: block until `start` writes a byte into exec.fifo. We hold
	 * it O_RDWR, so the read never sees EOF and `start` can tell us
	 * apart from a dead init (its O_NONBLOCK open for writing fails
	 * with ENXIO once no reader is left). */
	do
		n = read(x->fifo_fd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(1);
	close(x->fifo_fd);
	/* Nothing of the shim's may leak into the container process. */
	close_fds_on_exec();
	if (x->config.process.no_new_privs && seccomp_load_prepared() < 0) {
		report();
		_exit(1);
	}
	process_exec(&x->config.process);
	n = errno; /* report() may clobber it */
	report();
	_exit(exec_exit_code((int)n));
}

/* ---- middle ----------------------------------------------------------- */

static int middle_setup(struct create_ctx *x, pid_t *init_pid)
{
	struct shim_config *c = &x->config;
	int flags = 0;
	bool in_userns = false;
	pid_t pid;

	/* Joined namespaces first, and the user namespace first among them:
	 * once we are in a new user namespace we would lack the privilege
	 * over namespaces owned by the host's (e.g. a host-made netns). */
	for (int t = 0; t < NS_COUNT; t++) {
		if (x->ns_fds[t] < 0)
			continue;
		if (setns(x->ns_fds[t], ns_infos[t].flag) < 0)
			return fail("namespace %s %s: setns", ns_infos[t].name, c->ns[t].path);
		close(x->ns_fds[t]);
		if (t == NS_USER)
			in_userns = true;
	}
	if (c->ns[NS_USER].enabled && !c->ns[NS_USER].path) {
		if (unshare(CLONE_NEWUSER) < 0)
			return fail("namespace user: unshare");
		/* Only the parent, outside, may write our maps. */
		if (sync_send(x->sync_fd, SYNC_MAPS_REQ, 0) < 0 || sync_expect(x->sync_fd, SYNC_MAPS_DONE) < 0)
			_exit(1);
		in_userns = true;
	}
	if (in_userns) {
		/* Become the namespace's root so what follows (mounts, files
		 * we create) is done as, and owned by, container uid 0. */
		if (setresgid(0, 0, 0) < 0)
			return fail("user namespace: setresgid 0 (is gid 0 mapped?)");
		if (setresuid(0, 0, 0) < 0)
			return fail("user namespace: setresuid 0 (is uid 0 mapped?)");
		setgroups(0, NULL); /* may be denied by setgroups=deny; harmless */
	}
	for (int t = 0; t < NS_COUNT; t++)
		if (t != NS_USER && t != NS_CGROUP && c->ns[t].enabled && !c->ns[t].path)
			flags |= ns_infos[t].flag;
	if (flags && unshare(flags) < 0) {
		/* Find which one the kernel refused, to name it; if each
		 * goes through on its own we are where we wanted to be. */
		for (int t = 0; t < NS_COUNT; t++)
			if (flags & ns_infos[t].flag && unshare(ns_infos[t].flag) < 0)
				return fail("namespace %s: unshare", ns_infos[t].name);
	}
	/* A new pid (and time) namespace applies to children only: fork the
	 * init, which is pid 1 there. */
	pid = fork();
	if (pid < 0)
		return fail("fork init");
	if (pid == 0)
		run_init(x);
	*init_pid = pid;
	return 0;
}

static void __attribute__((noreturn)) run_middle(struct create_ctx *x)
{
	pid_t init_pid = 0;

	/* If the parent is killed while we are half-way, die with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != x->parent) /* it died before the prctl */
		_exit(1);
	if (middle_setup(x, &init_pid) < 0) {
		sync_send_error(x->sync_fd);
		_exit(1);
	}
	_exit(sync_send(x->sync_fd, SYNC_PID, init_pid) < 0 ? 1 : 0);
}

/* ---- parent ----------------------------------------------------------- */

static int write_idmap(pid_t pid, const char *file, const struct idmap *m, int n)
{
	char path[64], buf[4096];
	size_t len = 0;

	for (int i = 0; i < n && len < sizeof buf; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%u %u %u\n", m[i].container, m[i].host, m[i].size);
	const char *directive = file[0] == 'u' ? "uid-map" : "gid-map";
	if (len >= sizeof buf)
		return fail_errno(E2BIG, "%s: too many entries", directive);
	snprintf(path, sizeof path, "/proc/%d/%s", pid, file);
	if (write_file(path, buf, len) < 0)
		return fail("%s: write %s (ranges must not overlap; at most 340 lines)", directive, path);
	return 0;
}

static int place_in_cgroups(const struct shim_config *c, pid_t pid)
{
	char buf[32], path[4200];
	int len = snprintf(buf, sizeof buf, "%d\n", pid);

	for (int i = 0; i < c->ncgroups; i++) {
		snprintf(path, sizeof path, "%s/cgroup.procs", c->cgroups[i]);
		if (write_file(path, buf, (size_t)len) < 0)
			return fail("cgroup %s: write %s", c->cgroups[i], path);
	}
	return 0;
}

int set_oom_score_adj(pid_t pid, const struct process_spec *p)
{
	char path[64], buf[32];
	int len;

	if (!p->has_oom_score_adj)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/oom_score_adj", pid);
	len = snprintf(buf, sizeof buf, "%d", p->oom_score_adj);
	if (write_file(path, buf, (size_t)len) < 0)
		return fail("oom-score-adj %d: write %s%s", p->oom_score_adj, path,
			    p->oom_score_adj < 0 ? " (lowering needs CAP_SYS_RESOURCE)" : "");
	return 0;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int cmd_create(int argc, char **argv)
{
	struct create_ctx x = { .console_fd = -1, .fifo_fd = -1 };
	const char *console = NULL;
	char cfg_path[4200];
	int sv[2] = { -1, -1 };
	pid_t middle = -1, init = -1;
	bool fifo_made = false;
	struct sync_msg m;

	for (int t = 0; t < NS_COUNT; t++)
		x.ns_fds[t] = -1;
	x.state_dir = argv[0];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--console-socket") == 0 && i + 1 < argc)
			console = argv[++i];
		else {
			fail_errno(EINVAL, "create: unexpected argument \"%s\"", argv[i]);
			goto fail;
		}
	}
	snprintf(cfg_path, sizeof cfg_path, "%s/config", x.state_dir);
	snprintf(x.fifo_path, sizeof x.fifo_path, "%s/exec.fifo", x.state_dir);
	snprintf(x.pid_path, sizeof x.pid_path, "%s/pid", x.state_dir);
	if (config_load(cfg_path, CONFIG_CONTAINER, &x.config) < 0)
		goto fail;
	/* Built (or read from the cache) here, in the host's mount namespace,
	 * before anything is forked: the init inherits the program. */
	if (seccomp_prepare(&x.config.seccomp) < 0)
		goto fail;
	if (x.config.process.terminal && !console) {
		fail_errno(EINVAL, "terminal: the config asks for a terminal but no --console-socket was given");
		goto fail;
	}
	/* The init is forked by the middle process; as a subreaper we
	 * inherit it when the middle exits, so we can kill and reap it on
	 * failure. Once we exit it passes to our own subreaper (the
	 * monitor). */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		fail("prctl PR_SET_CHILD_SUBREAPER");
		goto fail;
	}
	if (mkfifo(x.fifo_path, 0600) < 0) {
		fail("%s: mkfifo%s", x.fifo_path, errno == EEXIST ? " (container already created?)" : "");
		goto fail;
	}
	fifo_made = true;
	x.fifo_fd = open(x.fifo_path, O_RDWR | O_CLOEXEC);
	if (x.fifo_fd < 0) {
		fail("%s: open", x.fifo_path);
		goto fail;
	}
	if (console && (x.console_fd = connect_unix(console)) < 0)
		goto fail;
	/* Namespace paths are opened here, in the host's mount namespace,
	 * where they were named. */
	for (int t = 0; t < NS_COUNT; t++) {
		const char *p = x.config.ns[t].path;
		if (!p)
			continue;
		x.ns_fds[t] = open(p, O_RDONLY | O_CLOEXEC);
		if (x.ns_fds[t] < 0) {
			fail("namespace %s %s: open", ns_infos[t].name, p);
			goto fail;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		fail("socketpair");
		goto fail;
	}
	x.sync_fd = sv[1];
	x.parent = getpid();
	middle = fork();
	if (middle < 0) {
		fail("fork");
		goto fail;
	}
	if (middle == 0) {
		close(sv[0]);
		run_middle(&x);
	}
	close(sv[1]);
	sv[1] = -1;
	for (int t = 0; t < NS_COUNT; t++)
		if (x.ns_fds[t] >= 0)
			close(x.ns_fds[t]);
	if (x.console_fd >= 0)
		close(x.console_fd);

	for (;;) {
		if (sync_recv(sv[0], &m) < 0) {
			if (errno)
				fail("read from container setup");
			else
				fail_errno(ECHILD, "container setup process exited without reporting");
			goto fail;
		}
		switch (m.type) {
		case SYNC_MAPS_REQ:
			/* As host root we may map any ids, so setgroups is left
			 * allowed (additionalGids keep working). */
			if (write_idmap(middle, "uid_map", x.config.uid_maps, x.config.nuid_maps) < 0)
				goto fail;
			if (write_idmap(middle, "gid_map", x.config.gid_maps, x.config.ngid_maps) < 0) {
				/* Without CAP_SETGID over the parent namespace (a
				 * shim itself in a user namespace), the kernel
				 * only takes gid_map after setgroups is denied;
				 * additional gids then cannot be set. */
				char sg[64];
				snprintf(sg, sizeof sg, "/proc/%d/setgroups", middle);
				if (errno != EPERM || write_file(sg, "deny", 4) < 0 ||
				    write_idmap(middle, "gid_map", x.config.gid_maps, x.config.ngid_maps) < 0)
					goto fail;
			}
			if (sync_send(sv[0], SYNC_MAPS_DONE, 0) < 0) {
				fail("write to container setup");
				goto fail;
			}
			break;
		case SYNC_PID:
			init = m.value;
			reap(middle);
			middle = -1;
			if (place_in_cgroups(&x.config, init) < 0 || set_oom_score_adj(init, &x.config.process) < 0)
				goto fail;
			if (sync_send(sv[0], SYNC_GO, 0) < 0) {
				fail("write to container init");
				goto fail;
			}
			break;
		case SYNC_READY: {
			char buf[32], st_path[4200];
			unsigned long long start;
			int rc;
			/* Lets `exec` check that the pid still names this init. */
			snprintf(st_path, sizeof st_path, "%s/init.start", x.state_dir);
			if (read_start_time(init, &start) < 0) {
				fail("/proc/%d/stat: read the init's start time", init);
				goto fail;
			}
			snprintf(buf, sizeof buf, "%llu\n", start);
			/*
			 * Not fsync'd (nor is the pid file below): they describe a
			 * process, which a machine crash takes with it, and the state
			 * dir lives under the run dir, meant to be cleared at boot.
			 * The rename keeps them whole for readers; two fsyncs were
			 * 10-25 ms of every create on an ext4 run dir.
			 */
			if ((rc = atomic_write_file(st_path, buf, strlen(buf), 0644, 0)) < 0) {
				errno = -rc;
				fail("%s: write", st_path);
				goto fail;
			}
			snprintf(buf, sizeof buf, "%d\n", init);
			if ((rc = atomic_write_file(x.pid_path, buf, strlen(buf), 0644, 0)) < 0) {
				errno = -rc;
				fail("%s: write", x.pid_path);
				goto fail;
			}
			if (sync_send(sv[0], SYNC_DONE, 0) < 0) {
				fail("write to container init");
				unlink(x.pid_path);
				goto fail;
			}
			return 0;
		}
		case SYNC_ERROR:
			snprintf(shim_err, sizeof shim_err, "%s", m.text);
			goto fail;
		default:
			fail_errno(EPROTO, "unexpected message %d from container setup", m.type);
			goto fail;
		}
	}
fail:
	report();
	if (middle > 0) {
		kill(middle, SIGKILL);
		reap(middle);
	}
	if (init > 0) {
		kill(init, SIGKILL);
		reap(init);
	}
	if (fifo_made) {
		char st_path[4200];
		unlink(x.fifo_path);
		snprintf(st_path, sizeof st_path, "%s/init.start", x.state_dir);
		unlink(st_path);
	}
	return 1;
}
