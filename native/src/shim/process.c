/*
 * The container process's attributes and its execve. Order matters and
 * follows runc's finalizeNamespace: rlimits while still privileged, the
 * bounding set before dropping uid, PR_SET_KEEPCAPS across setresuid so
 * permitted survives it, cwd after the uid change (permission checks are
 * the user's), capsets and ambient last.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const char *limit_str(uint64_t v, char *buf)
{
	if (v == UINT64_MAX)
		return "unlimited";
	snprintf(buf, 24, "%llu", (unsigned long long)v);
	return buf;
}

int process_apply_early(const struct process_spec *p)
{
	for (int i = 0; i < p->nrlimits; i++) {
		const struct rlimit_spec *r = &p->rlimits[i];
		struct rlimit rl = { .rlim_cur = r->soft == UINT64_MAX ? RLIM_INFINITY : r->soft,
				     .rlim_max = r->hard == UINT64_MAX ? RLIM_INFINITY : r->hard };
		if (setrlimit(r->resource, &rl) < 0) {
			char s[24], h[24];
			struct rlimit cur = { 0 };
			getrlimit(r->resource, &cur);
			return fail("rlimit %s (soft %s, hard %s): setrlimit%s", r->name, limit_str(r->soft, s), limit_str(r->hard, h),
				    errno == EPERM && rl.rlim_max > cur.rlim_max ? " (raising the hard limit needs CAP_SYS_RESOURCE)" : "");
		}
	}
	return 0;
}

static int last_cap(void)
{
	/* PR_CAPBSET_READ fails EINVAL past the kernel's last capability;
	 * works without /proc. */
	int c = 0;
	while (c < 63 && prctl(PR_CAPBSET_READ, c + 1) >= 0)
		c++;
	return c;
}

int process_apply_creds(const struct process_spec *p)
{
	int last = last_cap();
	uint64_t known = last >= 63 ? UINT64_MAX : (1ull << (last + 1)) - 1;
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	uint64_t eff = p->caps[CAP_SET_EFFECTIVE] & known, perm = p->caps[CAP_SET_PERMITTED] & known,
		 inh = p->caps[CAP_SET_INHERITABLE] & known;

	if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail("no-new-privileges: prctl");
	/* Without no_new_privs, loading a seccomp filter needs CAP_SYS_ADMIN:
	 * now, before the capabilities go (runc's order). With it, the
	 * callers load it right before execve. */
	if (!p->no_new_privs && seccomp_load_prepared() < 0)
		return -1;
	for (int c = 0; c <= last; c++)
		if (!(p->caps[CAP_SET_BOUNDING] & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
			return fail("cap bounding: drop %s", cap_name(c));
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fail("prctl PR_SET_KEEPCAPS");
	if (setgroups((size_t)p->ngroups, p->groups) < 0)
		return fail("group: setgroups (%d additional gids)", p->ngroups);
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return fail("user: setresgid %u (is it mapped in the user namespace?)", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return fail("user: setresuid %u (is it mapped in the user namespace?)", p->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return fail("prctl PR_SET_KEEPCAPS");
	if (chdir(p->cwd) < 0)
		return fail("cwd %s: chdir", p->cwd);
	data[0].effective = (uint32_t)eff;
	data[1].effective = (uint32_t)(eff >> 32);
	data[0].permitted = (uint32_t)perm;
	data[1].permitted = (uint32_t)(perm >> 32);
	data[0].inheritable = (uint32_t)inh;
	data[1].inheritable = (uint32_t)(inh >> 32);
	if (syscall(SYS_capset, &hdr, data) < 0)
		return fail("cap effective/permitted/inheritable: capset (effective must be a subset of permitted)");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return fail("cap ambient: clear");
	for (int c = 0; c <= last; c++)
		if ((p->caps[CAP_SET_AMBIENT] & (1ull << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return fail("cap ambient: raise %s (must be permitted and inheritable)", cap_name(c));
	return 0;
}

void close_fds_on_exec(void)
{
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	/* Kernels before 5.11: mark each one. */
	for (int fd = 3; fd < 65536; fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl >= 0)
			fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
}

static const char *env_get(char *const *env, const char *key)
{
	size_t n = strlen(key);
	for (; env && *env; env++)
		if (strncmp(*env, key, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

int exec_exit_code(int err)
{
	return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

/* Ignored signals and the blocked mask survive execve: whatever the
 * monitor (or whoever ran us) ignored or blocked must not leak into the
 * container (a process that ignores SIGPIPE or SIGCHLD without knowing). */
static void reset_signals(void)
{
	sigset_t none;
	struct sigaction dfl = { .sa_handler = SIG_DFL };

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int process_exec(const struct process_spec *p)
{
	const char *arg0 = p->args[0];
	const char *path;
	bool saw_eacces = false;
	int err;

	reset_signals();

	if (strchr(arg0, '/')) {
		execve(arg0, p->args, p->env);
		return fail("exec \"%s\"", arg0);
	}
	/* Like execvpe, but with the container's PATH (not ours) and
	 * without its /bin/sh fallback for ENOEXEC (Docker reports 126). */
	path = env_get(p->env, "PATH");
	if (!path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	err = ENOENT;
	for (;;) {
		const char *colon = strchr(path, ':');
		size_t dlen = colon ? (size_t)(colon - path) : strlen(path);
		char full[4200];

		snprintf(full, sizeof full, "%.*s%s%s", (int)dlen, dlen ? path : ".", "/", arg0);
		execve(full, p->args, p->env);
		err = errno;
		if (err == EACCES)
			saw_eacces = true;
		else if (err != ENOENT && err != ENOTDIR && err != ENODEV && err != ESTALE && err != ETIMEDOUT)
			break;
		if (!colon)
			break;
		path = colon + 1;
	}
	if (err == ENOENT || err == ENOTDIR || err == ENODEV || err == ESTALE || err == ETIMEDOUT)
		err = saw_eacces ? EACCES : ENOENT;
	return fail_errno(err, "exec \"%s\"", arg0);
}
