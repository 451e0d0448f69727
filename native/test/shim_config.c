/* Tests of berth-shim's config parser (src/shim/config.c). */
#include "../src/shim/config.c"
#include "../src/shim/util.c"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mount.h>

#include "tap.h"
#include "shim_parse.h"


int main(void)
{
	int r = parse(CONFIG_CONTAINER,
		      HDR
		      "arg\tsh\narg\t-c\narg\techo a\\tb\\nc \\\\ d\n"
		      "env\tPATH=/bin\nenv\tX=1=2\n"
		      "cwd\t/work\nuser\t1000\t1001\ngroup\t5\ngroup\t20\n"
		      "cap\tbounding\tCAP_CHOWN\tCAP_KILL\ncap\teffective\tCAP_KILL\ncap\tambient\n"
		      "rlimit\tRLIMIT_NOFILE\t1024\t4096\nrlimit\tRLIMIT_CORE\tunlimited\tunlimited\n"
		      "no-new-privileges\nterminal\noom-score-adj\t-17\n"
		      "namespace\tuser\nnamespace\tpid\nnamespace\tmount\nnamespace\tnetwork\t/run/netns/x\nnamespace\tuts\n"
		      "uid-map\t0\t100000\t65536\ngid-map\t0\t100000\t65536\n"
		      "root\t/var/lib/r oot\nroot-readonly\nrootfs-propagation\trslave\nhostname\th1\ndomainname\tex.org\n"
		      "mount\t/proc\tproc\tproc\tnosuid\tnoexec\n"
		      "mount\t/data\tbind\t/host/da\\tta\trbind\tro\n"
		      "masked-path\t/proc/kcore\nreadonly-path\t/proc/sys\n"
		      "sysctl\tnet.ipv4.ip_forward\t1\ncgroup\t/sys/fs/cgroup/memory/x\ninit\t/usr/lib/berth-init\n");
	CHECK(r == 0, "full config parses (%s)", shim_err);
	struct process_spec *p = &cfg.process;
	CHECK(p->nargs == 5 && strcmp(p->args[0], "/dev/init") == 0 && strcmp(p->args[1], "--") == 0 &&
		      strcmp(p->args[4], "echo a\tb\nc \\ d") == 0 && p->args[5] == NULL,
	      "init prepends /dev/init --; args unescaped and NULL-terminated");
	CHECK(p->nenv == 2 && strcmp(p->env[1], "X=1=2") == 0 && p->env[2] == NULL, "env");
	CHECK(strcmp(p->cwd, "/work") == 0 && p->uid == 1000 && p->gid == 1001 && p->ngroups == 2 && p->groups[1] == 20, "cwd, user, groups");
	CHECK(p->caps[CAP_SET_BOUNDING] == ((1ull << 0) | (1ull << 5)) && p->caps[CAP_SET_EFFECTIVE] == (1ull << 5) &&
		      p->caps[CAP_SET_AMBIENT] == 0 && p->caps[CAP_SET_PERMITTED] == 0,
	      "capability sets (absent = empty)");
	CHECK(p->nrlimits == 2 && p->rlimits[0].resource == RLIMIT_NOFILE && p->rlimits[0].soft == 1024 && p->rlimits[0].hard == 4096 &&
		      p->rlimits[1].soft == UINT64_MAX,
	      "rlimits, unlimited");
	CHECK(p->no_new_privs && p->terminal && p->has_oom_score_adj && p->oom_score_adj == -17, "flags and oom-score-adj");
	CHECK(cfg.ns[NS_USER].enabled && !cfg.ns[NS_USER].path && cfg.ns[NS_NET].enabled && strcmp(cfg.ns[NS_NET].path, "/run/netns/x") == 0 &&
		      !cfg.ns[NS_IPC].enabled,
	      "namespaces new and joined");
	CHECK(cfg.nuid_maps == 1 && cfg.uid_maps[0].host == 100000 && cfg.uid_maps[0].size == 65536, "uid map");
	CHECK(strcmp(cfg.root, "/var/lib/r oot") == 0 && cfg.root_readonly && cfg.rootfs_propagation == (MS_REC | MS_SLAVE), "root");
	CHECK(strcmp(cfg.hostname, "h1") == 0 && strcmp(cfg.domainname, "ex.org") == 0, "hostname and domainname");
	CHECK(cfg.nmounts == 2 && strcmp(cfg.mounts[1].source, "/host/da\tta") == 0 && cfg.mounts[1].noptions == 2 &&
		      strcmp(cfg.mounts[1].options[1], "ro") == 0,
	      "mounts with options");
	CHECK(cfg.nmasked == 1 && cfg.nreadonly == 1 && cfg.nsysctl == 1 && strcmp(cfg.sysctl_values[0], "1") == 0 && cfg.ncgroups == 1,
	      "masked, readonly, sysctl, cgroup");

	CHECK(parse(CONFIG_CONTAINER, MIN) == 0 && cfg.rootfs_propagation == (MS_REC | MS_PRIVATE) && strcmp(cfg.process.cwd, "/") == 0,
	      "minimal config; defaults rprivate and cwd /");

	CHECK(parse(CONFIG_CONTAINER, MIN "device\t/dev/net/tun\tc\t10\t200\t0620\t5\t7\t/dev/net/tun\ndevice\t/dev/f\tp\t0\t0\t0666\t0\t0\t/dev/f\n") == 0 &&
		      cfg.ndevices == 2 && strcmp(cfg.devices[0].path, "/dev/net/tun") == 0 && cfg.devices[0].type == S_IFCHR &&
		      cfg.devices[0].major == 10 && cfg.devices[0].minor == 200 && cfg.devices[0].mode == 0620 && cfg.devices[0].uid == 5 &&
		      cfg.devices[0].gid == 7 && cfg.devices[1].type == S_IFIFO,
	      "device: path, type, numbers, octal mode, owner (%s)", shim_err);

	const struct { const char *text, *want; } bad[] = {
		{ MIN "device\t/dev/x\tz\t1\t1\t0666\t0\t0\t/dev/x\n", "device /dev/x: type must be c, b or p" },
		{ MIN "device\t/dev/x\tc\t1\t1\t0999\t0\t0\t/dev/x\n", "device /dev/x: mode \"0999\" is not an octal permission" },
		{ MIN "device\tdev/x\tc\t1\t1\t0666\t0\t0\t/dev/x\n", "device: expected <absolute path>" },
		{ "", "empty" },
		{ "berth-shim-config\t2\n", "line 1: expected the header" },
		{ MIN "bogus\tx\n", "line 5: unknown directive \"bogus\"" },
		{ MIN "namespace\tfoo\n", "line 5: namespace: expected <type> [path] with type one of" },
		{ MIN "namespace\tmount\n", "namespace mount given twice" },
		{ MIN "rlimit\tRLIMIT_FOO\t1\t2\n", "rlimit: unknown resource \"RLIMIT_FOO\"" },
		{ MIN "rlimit\tRLIMIT_NOFILE\t10\t2\n", "soft limit 10 exceeds hard limit 2" },
		{ MIN "cap\teffective\tCAP_NOPE\n", "cap effective: unknown capability \"CAP_NOPE\"" },
		{ MIN "user\t-1\t0\n", "user: expected <uid> <gid>" },
		{ MIN "oom-score-adj\t-1001\n", "oom-score-adj: expected an integer" },
		{ MIN "env\tNOEQUALS\n", "env: expected one KEY=VALUE" },
		{ MIN "arg\tbad\\qescape\n", "cfg line 5: Invalid argument" },
		{ MIN "arg\tx", "truncated" },
		{ HDR "namespace\tmount\nroot\t/r\n", "no arg directive" },
		{ HDR "arg\tsh\nroot\t/r\n", "a new mount namespace is required" },
		{ MIN "namespace\tuser\n", "a new user namespace needs uid-map and gid-map" },
		{ MIN "uid-map\t0\t1\t1\n", "uid-map/gid-map given without a new user namespace" },
		{ MIN "hostname\tx\n", "hostname: needs a new uts namespace" },
		{ MIN "domainname\tx\n", "domainname: needs a new uts namespace" },
		{ MIN "sysctl\t../x\t1\n", "sysctl: expected <key> <value>" },
		{ MIN "sysctl\tkernel.panic\t1\n", "sysctl kernel.panic: not in a namespace the container has" },
		{ MIN "sysctl\tnet.ipv4.ip_forward\t1\n", "sysctl net.ipv4.ip_forward: not in a namespace" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		r = parse(CONFIG_CONTAINER, bad[i].text);
		CHECK(r < 0 && strstr(shim_err, bad[i].want), "rejects: %s (got: %s)", bad[i].want, shim_err);
	}

	r = parse(CONFIG_EXEC, "berth-exec-config\t1\narg\tls\nuser\t0\t0\n");
	CHECK(r == 0 && cfg.process.nargs == 1, "exec config parses (%s)", shim_err);
	r = parse(CONFIG_EXEC, "berth-exec-config\t1\narg\tls\nroot\t/r\n");
	CHECK(r < 0 && strstr(shim_err, "unknown directive \"root\""), "exec config refuses container directives (%s)", shim_err);
	r = parse(CONFIG_EXEC, MIN);
	CHECK(r < 0 && strstr(shim_err, "berth-exec-config"), "exec config needs its own header");

	CHECK(cap_from_name("CAP_CHECKPOINT_RESTORE") == 40 && cap_from_name("CAP_SYS_ADMIN") == 21 && cap_from_name("chown") == -1, "cap names");
	return tap_done();
}
