/* Config parsing: the directive table is documented in docs/design/shim.md. */
#include "shim.h"
#include "fields.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>

#define MAX_FIELDS 4096
#define MAX_CONFIG (16u << 20)

const struct ns_info ns_infos[NS_COUNT] = {
	[NS_USER] = { "user", "user", CLONE_NEWUSER },
	[NS_PID] = { "pid", "pid", CLONE_NEWPID },
	[NS_NET] = { "network", "net", CLONE_NEWNET },
	[NS_MNT] = { "mount", "mnt", CLONE_NEWNS },
	[NS_IPC] = { "ipc", "ipc", CLONE_NEWIPC },
	[NS_UTS] = { "uts", "uts", CLONE_NEWUTS },
	[NS_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
	[NS_TIME] = { "time", "time", CLONE_NEWTIME },
};

static const char *const cap_names[] = {
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
#define NCAPS ((int)(sizeof cap_names / sizeof cap_names[0]))

int cap_from_name(const char *name)
{
	for (int i = 0; i < NCAPS; i++)
		if (strcmp(cap_names[i], name) == 0)
			return i;
	return -1;
}

const char *cap_name(int cap)
{
	return cap >= 0 && cap < NCAPS ? cap_names[cap] : "CAP_?";
}

static const struct { const char *name; int res; } rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU }, { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static const struct { const char *name; unsigned long flags; } propagations[] = {
	{ "rprivate", MS_REC | MS_PRIVATE }, { "private", MS_PRIVATE },
	{ "rslave", MS_REC | MS_SLAVE }, { "slave", MS_SLAVE },
	{ "rshared", MS_REC | MS_SHARED }, { "shared", MS_SHARED },
	{ "runbindable", MS_REC | MS_UNBINDABLE }, { "unbindable", MS_UNBINDABLE },
};

/* Grows *arr by one element of size sz, zeroed; returns it. */
static void *push(void *arr, int *n, size_t sz)
{
	void **a = arr;
	char *p = realloc(*a, (size_t)(*n + 1) * sz);
	if (!p)
		return NULL;
	*a = p;
	memset(p + (size_t)*n * sz, 0, sz);
	return p + (size_t)(*n)++ * sz;
}

static int push_str(char ***arr, int *n, char *s)
{
	char **slot = push(arr, n, sizeof(char *));
	if (!slot)
		return -1;
	*slot = s;
	return 0;
}

/* Parses a decimal unsigned number up to max ("unlimited" = UINT64_MAX when
 * allow_unlimited). */
static int parse_u64(const char *s, uint64_t max, bool allow_unlimited, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (allow_unlimited && strcmp(s, "unlimited") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < INT_MIN || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

#define BAD(...) fail_errno(EINVAL, __VA_ARGS__)

static int parse_process_directive(struct process_spec *p, char **f, int n, const char *where, bool *handled)
{
	const char *d = f[0];
	uint64_t v;

	*handled = true;
	if (strcmp(d, "arg") == 0) {
		if (n != 2)
			return BAD("%s: arg: expected 1 value", where);
		return push_str(&p->args, &p->nargs, f[1]) ? fail("%s", where) : 0;
	}
	if (strcmp(d, "env") == 0) {
		if (n != 2 || !strchr(f[1], '='))
			return BAD("%s: env: expected one KEY=VALUE value", where);
		return push_str(&p->env, &p->nenv, f[1]) ? fail("%s", where) : 0;
	}
	if (strcmp(d, "cwd") == 0) {
		if (n != 2 || f[1][0] != '/')
			return BAD("%s: cwd: expected an absolute path", where);
		p->cwd = f[1];
		return 0;
	}
	if (strcmp(d, "user") == 0) {
		uint64_t g;
		if (n != 3 || parse_u64(f[1], UINT32_MAX - 1, false, &v) || parse_u64(f[2], UINT32_MAX - 1, false, &g))
			return BAD("%s: user: expected <uid> <gid>", where);
		p->uid = (uid_t)v;
		p->gid = (gid_t)g;
		return 0;
	}
	if (strcmp(d, "group") == 0) {
		gid_t *slot;
		if (n != 2 || parse_u64(f[1], UINT32_MAX - 1, false, &v))
			return BAD("%s: group: expected <gid>", where);
		slot = push(&p->groups, &p->ngroups, sizeof(gid_t));
		if (!slot)
			return fail("%s", where);
		*slot = (gid_t)v;
		return 0;
	}
	if (strcmp(d, "cap") == 0) {
		static const char *const sets[CAP_SET_COUNT] = { "bounding", "effective", "permitted", "inheritable", "ambient" };
		int set = -1;
		for (int i = 0; i < CAP_SET_COUNT; i++)
			if (n >= 2 && strcmp(f[1], sets[i]) == 0)
				set = i;
		if (set < 0)
			return BAD("%s: cap: expected a set (bounding, effective, permitted, inheritable, ambient)", where);
		p->caps[set] = 0;
		for (int i = 2; i < n; i++) {
			int c = cap_from_name(f[i]);
			if (c < 0)
				return BAD("%s: cap %s: unknown capability \"%s\"", where, f[1], f[i]);
			p->caps[set] |= 1ull << c;
		}
		return 0;
	}
	if (strcmp(d, "rlimit") == 0) {
		struct rlimit_spec *r;
		int res = -1;
		const char *name = NULL;
		if (n != 4)
			return BAD("%s: rlimit: expected <RLIMIT_NAME> <soft> <hard>", where);
		for (size_t i = 0; i < sizeof rlimit_names / sizeof rlimit_names[0]; i++)
			if (strcmp(rlimit_names[i].name, f[1]) == 0) {
				res = rlimit_names[i].res;
				name = rlimit_names[i].name;
			}
		if (res < 0)
			return BAD("%s: rlimit: unknown resource \"%s\"", where, f[1]);
		r = push(&p->rlimits, &p->nrlimits, sizeof *r);
		if (!r)
			return fail("%s", where);
		r->resource = res;
		r->name = name;
		if (parse_u64(f[2], UINT64_MAX, true, &r->soft) || parse_u64(f[3], UINT64_MAX, true, &r->hard))
			return BAD("%s: rlimit %s: soft and hard must be numbers or \"unlimited\"", where, f[1]);
		if (r->soft > r->hard)
			return BAD("%s: rlimit %s: soft limit %s exceeds hard limit %s", where, f[1], f[2], f[3]);
		return 0;
	}
	if (strcmp(d, "no-new-privileges") == 0 || strcmp(d, "terminal") == 0) {
		if (n != 1)
			return BAD("%s: %s takes no value", where, d);
		if (d[0] == 'n')
			p->no_new_privs = true;
		else
			p->terminal = true;
		return 0;
	}
	if (strcmp(d, "oom-score-adj") == 0) {
		if (n != 2 || parse_int(f[1], &p->oom_score_adj) || p->oom_score_adj < -1000 || p->oom_score_adj > 1000)
			return BAD("%s: oom-score-adj: expected an integer in [-1000, 1000]", where);
		p->has_oom_score_adj = true;
		return 0;
	}
	*handled = false;
	return 0;
}

static int parse_idmap(struct idmap **maps, int *n, char **f, int nf, const char *where)
{
	uint64_t c, h, s;
	struct idmap *m;
	if (nf != 4 || parse_u64(f[1], UINT32_MAX, false, &c) || parse_u64(f[2], UINT32_MAX, false, &h) ||
	    parse_u64(f[3], UINT32_MAX, false, &s) || s == 0)
		return BAD("%s: %s: expected <container-id> <host-id> <size>", where, f[0]);
	m = push(maps, n, sizeof *m);
	if (!m)
		return fail("%s", where);
	*m = (struct idmap){ (uint32_t)c, (uint32_t)h, (uint32_t)s };
	return 0;
}

static int parse_container_directive(struct shim_config *c, char **f, int n, const char *where, bool *handled)
{
	const char *d = f[0];

	*handled = true;
	if (strcmp(d, "namespace") == 0) {
		int t = -1;
		for (int i = 0; i < NS_COUNT; i++)
			if (n >= 2 && strcmp(f[1], ns_infos[i].name) == 0)
				t = i;
		if (t < 0 || n > 3)
			return BAD("%s: namespace: expected <type> [path] with type one of user, pid, network, mount, ipc, uts, cgroup, time", where);
		if (c->ns[t].enabled)
			return BAD("%s: namespace %s given twice", where, f[1]);
		c->ns[t].enabled = true;
		c->ns[t].path = n == 3 && f[2][0] ? f[2] : NULL;
		return 0;
	}
	if (strcmp(d, "uid-map") == 0)
		return parse_idmap(&c->uid_maps, &c->nuid_maps, f, n, where);
	if (strcmp(d, "gid-map") == 0)
		return parse_idmap(&c->gid_maps, &c->ngid_maps, f, n, where);
	if (strcmp(d, "root") == 0) {
		if (n != 2 || f[1][0] != '/')
			return BAD("%s: root: expected an absolute path", where);
		c->root = f[1];
		return 0;
	}
	if (strcmp(d, "root-readonly") == 0) {
		c->root_readonly = true;
		return 0;
	}
	if (strcmp(d, "rootfs-propagation") == 0) {
		for (size_t i = 0; n == 2 && i < sizeof propagations / sizeof propagations[0]; i++)
			if (strcmp(f[1], propagations[i].name) == 0) {
				c->rootfs_propagation = propagations[i].flags;
				return 0;
			}
		return BAD("%s: rootfs-propagation: expected one of rprivate, private, rslave, slave, rshared, shared, runbindable, unbindable", where);
	}
	if (strcmp(d, "hostname") == 0) {
		if (n != 2)
			return BAD("%s: hostname: expected 1 value", where);
		c->hostname = f[1];
		return 0;
	}
	if (strcmp(d, "domainname") == 0) {
		if (n != 2)
			return BAD("%s: domainname: expected 1 value", where);
		c->domainname = f[1];
		return 0;
	}
	if (strcmp(d, "mount") == 0) {
		struct mount_spec *m;
		if (n < 4 || f[1][0] != '/')
			return BAD("%s: mount: expected <absolute destination> <type> <source> [option...]", where);
		m = push(&c->mounts, &c->nmounts, sizeof *m);
		if (!m)
			return fail("%s", where);
		m->destination = f[1];
		m->type = f[2];
		m->source = f[3];
		m->options = f + 4;
		m->noptions = n - 4;
		return 0;
	}
	if (strcmp(d, "masked-path") == 0 || strcmp(d, "readonly-path") == 0 || strcmp(d, "cgroup") == 0) {
		bool masked = d[0] == 'm', cg = d[0] == 'c';
		if (n != 2 || f[1][0] != '/')
			return BAD("%s: %s: expected an absolute path", where, d);
		if (cg)
			return push_str(&c->cgroups, &c->ncgroups, f[1]) ? fail("%s", where) : 0;
		return push_str(masked ? &c->masked : &c->readonly, masked ? &c->nmasked : &c->nreadonly, f[1]) ? fail("%s", where) : 0;
	}
	if (strcmp(d, "sysctl") == 0) {
		if (n != 3 || !f[1][0] || strstr(f[1], "..") || strchr(f[1], '/'))
			return BAD("%s: sysctl: expected <key> <value> with a dotted key", where);
		if (push_str(&c->sysctl_keys, &c->nsysctl, f[1]))
			return fail("%s", where);
		c->nsysctl--;
		return push_str(&c->sysctl_values, &c->nsysctl, f[2]) ? fail("%s", where) : 0;
	}
	if (strcmp(d, "init") == 0) {
		if (n != 2 || f[1][0] != '/')
			return BAD("%s: init: expected the absolute host path of berth-init", where);
		c->init = f[1];
		return 0;
	}
	if (strcmp(d, "device") == 0) {
		struct device_spec *dev;
		uint64_t major, minor, mode, uid, gid;
		if (n != 9 || f[1][0] != '/' || f[8][0] != '/')
			return BAD("%s: device: expected <absolute path> <c|b|p> <major> <minor> <octal mode> <uid> <gid> <absolute host path>", where);
		if ((strcmp(f[2], "c") && strcmp(f[2], "b") && strcmp(f[2], "p")) || parse_u64(f[3], UINT32_MAX, false, &major) ||
		    parse_u64(f[4], UINT32_MAX, false, &minor) || parse_u64(f[6], UINT32_MAX - 1, false, &uid) ||
		    parse_u64(f[7], UINT32_MAX - 1, false, &gid))
			return BAD("%s: device %s: type must be c, b or p and major, minor, uid, gid decimal numbers", where, f[1]);
		{
			char *end;
			errno = 0;
			mode = strtoull(f[5], &end, 8);
			if (errno || *end || !f[5][0] || mode > 07777)
				return BAD("%s: device %s: mode \"%s\" is not an octal permission (0666)", where, f[1], f[5]);
		}
		dev = push(&c->devices, &c->ndevices, sizeof *dev);
		if (!dev)
			return fail("%s", where);
		*dev = (struct device_spec){ f[1], f[2][0] == 'c' ? S_IFCHR : f[2][0] == 'b' ? S_IFBLK : S_IFIFO,
					      (unsigned)major, (unsigned)minor, (mode_t)mode, (uid_t)uid, (gid_t)gid, f[8] };
		return 0;
	}
	*handled = false;
	return 0;
}

/* ---- seccomp (docs/design/shim.md, "seccomp") ----------------------- */

static const char *const seccomp_actions[] = {
	[SECCOMP_KILL_THREAD] = "SCMP_ACT_KILL", [SECCOMP_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
	[SECCOMP_TRAP] = "SCMP_ACT_TRAP", [SECCOMP_ERRNO] = "SCMP_ACT_ERRNO", [SECCOMP_TRACE] = "SCMP_ACT_TRACE",
	[SECCOMP_ALLOW] = "SCMP_ACT_ALLOW", [SECCOMP_LOG] = "SCMP_ACT_LOG",
};
static const char *const seccomp_ops[] = {
	[SECCOMP_OP_NE] = "SCMP_CMP_NE", [SECCOMP_OP_LT] = "SCMP_CMP_LT", [SECCOMP_OP_LE] = "SCMP_CMP_LE",
	[SECCOMP_OP_EQ] = "SCMP_CMP_EQ", [SECCOMP_OP_GE] = "SCMP_CMP_GE", [SECCOMP_OP_GT] = "SCMP_CMP_GT",
	[SECCOMP_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* <action> <ret>: ret is a number for SCMP_ACT_ERRNO/SCMP_ACT_TRACE and "-"
 * for the others (the writer resolves OCI's defaults: errnoRet absent =
 * defaultErrnoRet, else EPERM). */
static int parse_seccomp_action(const char *name, const char *ret, const char *where, const char *d,
				enum seccomp_action *act, uint32_t *out)
{
	uint64_t v;
	int a = -1;
	for (int i = 0; i < NELEM(seccomp_actions); i++)
		if (strcmp(name, seccomp_actions[i]) == 0)
			a = i;
	if (strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		a = SECCOMP_KILL_THREAD;
	if (a < 0)
		return BAD("%s: %s: unknown action \"%s\" (SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG)", where, d, name);
	*act = (enum seccomp_action)a;
	*out = 0;
	if (a == SECCOMP_ERRNO || a == SECCOMP_TRACE) {
		if (parse_u64(ret, 65535, false, &v))
			return BAD("%s: %s: %s needs a return value 0..65535, got \"%s\"", where, d, name, ret);
		*out = (uint32_t)v;
	} else if (strcmp(ret, "-") != 0) {
		return BAD("%s: %s: %s takes no return value (\"-\"), got \"%s\"", where, d, name, ret);
	}
	return 0;
}

static int parse_seccomp_directive(struct seccomp_spec *s, char **f, int n, const char *where, bool *handled)
{
	const char *d = f[0];

	*handled = true;
	if (strcmp(d, "seccomp") == 0) {
		if (n != 3)
			return BAD("%s: seccomp: expected <default action> <return value or ->", where);
		if (s->enabled)
			return BAD("%s: seccomp given twice", where);
		s->enabled = true;
		return parse_seccomp_action(f[1], f[2], where, d, &s->default_action, &s->default_ret);
	}
	if (strcmp(d, "seccomp-cache") == 0) {
		if (n != 2 || f[1][0] != '/')
			return BAD("%s: seccomp-cache: expected the absolute path of a directory", where);
		s->cache_dir = f[1];
		return 0;
	}
	if (strcmp(d, "seccomp-arch") == 0 || strcmp(d, "seccomp-flag") == 0) {
		bool arch = d[8] == 'a';
		if (n != 2 || !f[1][0])
			return BAD("%s: %s: expected 1 name", where, d);
		return push_str(arch ? &s->arches : &s->flags, arch ? &s->narches : &s->nflags, f[1]) ? fail("%s", where) : 0;
	}
	if (strcmp(d, "seccomp-syscall") == 0) {
		struct seccomp_rule_spec *r;
		if (n < 4 || (n - 4) % 4 != 0 || !f[1][0])
			return BAD("%s: seccomp-syscall: expected <name> <action> <return value or -> [<index> <op> <value> <valueTwo>]...", where);
		r = push(&s->rules, &s->nrules, sizeof *r);
		if (!r)
			return fail("%s", where);
		r->name = f[1];
		if (parse_seccomp_action(f[2], f[3], where, "seccomp-syscall", &r->action, &r->ret) < 0)
			return -1;
		for (int i = 4; i < n; i += 4) {
			struct seccomp_arg_spec *a = push(&r->args, &r->nargs, sizeof *a);
			uint64_t idx;
			int op = -1;
			if (!a)
				return fail("%s", where);
			if (parse_u64(f[i], 5, false, &idx))
				return BAD("%s: seccomp-syscall %s: argument index \"%s\" is not 0..5", where, f[1], f[i]);
			for (int k = 0; k < NELEM(seccomp_ops); k++)
				if (strcmp(f[i + 1], seccomp_ops[k]) == 0)
					op = k;
			if (op < 0)
				return BAD("%s: seccomp-syscall %s: unknown operator \"%s\" (SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT, _MASKED_EQ)", where, f[1], f[i + 1]);
			if (parse_u64(f[i + 2], UINT64_MAX, false, &a->value) || parse_u64(f[i + 3], UINT64_MAX, false, &a->value_two))
				return BAD("%s: seccomp-syscall %s: argument %s: value and valueTwo must be unsigned decimal numbers", where, f[1], f[i]);
			a->index = (unsigned)idx;
			a->op = (enum seccomp_op)op;
		}
		return 0;
	}
	*handled = false;
	return 0;
}

int config_parse(char *buf, size_t len, enum config_kind kind, const char *what, struct shim_config *c)
{
	const char *header = kind == CONFIG_EXEC ? "berth-exec-config" : "berth-shim-config";
	size_t pos = 0;
	int lineno = 0;
	char *line;
	bool seen_header = false;

	memset(c, 0, sizeof *c);
	c->rootfs_propagation = MS_REC | MS_PRIVATE;
	c->process.cwd = "/";
	while ((line = fields_next_line(buf, len, &pos, &lineno))) {
		char where[4200];
		/* Fields point into buf, which lives as long as the config.
		 * A single line may carry many options; the array is leaked
		 * by design (one config per process). */
		int max = 1, n;
		char **f;
		bool handled = false;

		for (const char *t = line; *t; t++)
			max += *t == '\t';
		if (max > MAX_FIELDS)
			return fail_errno(E2BIG, "%s line %d: more than %d fields", what, lineno, MAX_FIELDS);
		f = malloc((size_t)max * sizeof(char *));

		if (!f)
			return fail("%s", what);
		snprintf(where, sizeof where, "%s line %d", what, lineno);
		n = fields_split(line, f, max);
		if (n < 0)
			return fail("%s", where);
		if (!seen_header) {
			if (n != 2 || strcmp(f[0], header) || strcmp(f[1], "1"))
				return BAD("%s: expected the header \"%s<TAB>1\"", where, header);
			seen_header = true;
			continue;
		}
		if (parse_process_directive(&c->process, f, n, where, &handled) < 0)
			return -1;
		if (!handled && kind == CONFIG_CONTAINER && parse_container_directive(c, f, n, where, &handled) < 0)
			return -1;
		if (!handled && kind == CONFIG_CONTAINER && parse_seccomp_directive(&c->seccomp, f, n, where, &handled) < 0)
			return -1;
		if (!handled)
			return BAD("%s: unknown directive \"%s\"", where, f[0]);
	}
	if (errno)
		return fail("%s line %d: truncated (no final newline) or contains a NUL byte", what, lineno + 1);
	if (!seen_header)
		return BAD("%s: empty; expected the header \"%s<TAB>1\"", what, header);
	if (c->process.nargs == 0)
		return BAD("%s: no arg directive (the process needs at least args[0])", what);
	/* NULL-terminate argv and envp for execve. */
	if (push_str(&c->process.args, &c->process.nargs, NULL) || push_str(&c->process.env, &c->process.nenv, NULL))
		return fail("%s", what);
	c->process.nargs--;
	c->process.nenv--;
	if (kind == CONFIG_CONTAINER) {
		if (!c->root)
			return BAD("%s: no root directive", what);
		if (!c->ns[NS_MNT].enabled || c->ns[NS_MNT].path)
			return BAD("%s: namespace mount: a new mount namespace is required (berth-shim pivots the root)", what);
		if ((c->nuid_maps || c->ngid_maps) && !(c->ns[NS_USER].enabled && !c->ns[NS_USER].path))
			return BAD("%s: uid-map/gid-map given without a new user namespace", what);
		if (c->ns[NS_USER].enabled && !c->ns[NS_USER].path && (!c->nuid_maps || !c->ngid_maps))
			return BAD("%s: namespace user: a new user namespace needs uid-map and gid-map", what);
		if (!c->seccomp.enabled && (c->seccomp.narches || c->seccomp.nflags || c->seccomp.nrules))
			return BAD("%s: seccomp-arch/seccomp-flag/seccomp-syscall given without a seccomp directive (the default action)", what);
		if (c->hostname && !(c->ns[NS_UTS].enabled && !c->ns[NS_UTS].path))
			return BAD("%s: hostname: needs a new uts namespace", what);
		if (c->domainname && !(c->ns[NS_UTS].enabled && !c->ns[NS_UTS].path))
			return BAD("%s: domainname: needs a new uts namespace", what);
		/* A sysctl outside the container's namespaces would change the
		 * host: only the namespaced ones are accepted (runc's list). */
		for (int i = 0; i < c->nsysctl; i++) {
			const char *k = c->sysctl_keys[i];
			bool ipc = strncmp(k, "kernel.msg", 10) == 0 || strcmp(k, "kernel.sem") == 0 ||
				   strncmp(k, "kernel.shm", 10) == 0 || strncmp(k, "fs.mqueue.", 10) == 0;
			bool uts = strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0;
			bool net = strncmp(k, "net.", 4) == 0;
			if (!((ipc && c->ns[NS_IPC].enabled) || (uts && c->ns[NS_UTS].enabled) || (net && c->ns[NS_NET].enabled)))
				return BAD("%s: sysctl %s: not in a namespace the container has (ipc: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*; uts: kernel.hostname, kernel.domainname; network: net.*)", what, k);
		}
		if (c->init) {
			/* berth-init is bound at /dev/init and runs the command
			 * as its child: argv becomes /dev/init -- args... */
			char **argv = calloc((size_t)c->process.nargs + 3, sizeof(char *));
			if (!argv)
				return fail("%s", what);
			argv[0] = "/dev/init";
			argv[1] = "--";
			memcpy(argv + 2, c->process.args, ((size_t)c->process.nargs + 1) * sizeof(char *));
			c->process.args = argv;
			c->process.nargs += 2;
		}
	}
	return 0;
}

int config_load(const char *path, enum config_kind kind, struct shim_config *out)
{
	size_t len;
	char *buf = fields_read_file(path, MAX_CONFIG, &len);

	if (!buf)
		return fail("read config %s", path);
	return config_parse(buf, len, kind, path, out);
}
