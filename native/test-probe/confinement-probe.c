/*
 * confinement-probe: tries one thing a confined container must not be able
 * to do, and says whether the kernel let it. The end-to-end suites copy this
 * (static) binary into a container and run `confinement-probe <probe>`.
 *
 * Output: one line, "<probe>: ok" (exit 0) when the operation succeeded, or
 * "<probe>: <ERRNO NAME> (<strerror>)" (exit 1) when it was refused; exit 2
 * for a usage error. Each probe is one function in the table at the end:
 * add a probe by adding a function and a row.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *errno_name(int e)
{
	switch (e) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case ENOENT: return "ENOENT";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	case EEXIST: return "EEXIST";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	default: return "errno";
	}
}

/* Reports the outcome of the probe: r >= 0 is success. */
static int outcome(const char *probe, long r)
{
	if (r >= 0) {
		printf("%s: ok\n", probe);
		return 0;
	}
	printf("%s: %s (%s)\n", probe, errno_name(errno), strerror(errno));
	return 1;
}

/* add_key into the process keyring: the kernel keyring is not namespaced. */
static int probe_add_key(void)
{
	return outcome("add_key", syscall(SYS_add_key, "user", "berth-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING));
}

/* keyctl reading the user keyring's id: host root's keyring for uid 0. */
static int probe_keyctl(void)
{
	return outcome("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
}

/* A software counter on ourselves, user space only: allowed by
 * perf_event_paranoid <= 2 for anyone, so only seccomp stands in the way. */
static int probe_perf_event_open(void)
{
	struct perf_event_attr a;
	long fd;
	memset(&a, 0, sizeof a);
	a.type = PERF_TYPE_SOFTWARE;
	a.size = sizeof a;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.disabled = 1;
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (fd >= 0)
		close((int)fd);
	return outcome("perf_event_open", fd);
}

/* READ_IMPLIES_EXEC: every readable mapping becomes executable. */
static int probe_personality(void)
{
	return outcome("personality", personality(READ_IMPLIES_EXEC));
}

/* A new user namespace (with mount and cgroup namespaces it owns, which
 * mounting cgroup2 needs), then the cgroup2 hierarchy mounted inside it:
 * the new cgroup namespace is rooted where the process is, which for a
 * container without a cgroup namespace of its own on a v1 host is the root
 * of the host's cgroup2 hierarchy. */
static int probe_userns_cgroup2(void)
{
	char dir[] = "/tmp/berth-probe-XXXXXX";
	int r;
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) < 0)
		return outcome("unshare", -1);
	if (!mkdtemp(dir))
		return outcome("mkdtemp", -1);
	r = mount("none", dir, "cgroup2", 0, NULL);
	if (r == 0)
		umount2(dir, MNT_DETACH);
	rmdir(dir);
	return outcome("mount cgroup2", r);
}

static int probe_mkdir(void)
{
	char dir[] = "/tmp/berth-probe-mkdir";
	int r = mkdir(dir, 0700);
	if (r == 0)
		rmdir(dir);
	return outcome("mkdir", r);
}

static const struct {
	const char *name;
	int (*run)(void);
} probes[] = {
	{ "add_key", probe_add_key },
	{ "keyctl", probe_keyctl },
	{ "perf_event_open", probe_perf_event_open },
	{ "personality", probe_personality },
	{ "userns-cgroup2", probe_userns_cgroup2 },
	{ "mkdir", probe_mkdir },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2)
		for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
			if (strcmp(argv[1], probes[i].name) == 0)
				return probes[i].run();
	fprintf(stderr, "usage: confinement-probe <probe>; probes:");
	for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
		fprintf(stderr, " %s", probes[i].name);
	fprintf(stderr, "\n");
	return 2;
}
