/* Tests of berth-shim's seccomp directives (src/shim/config.c) and filter
 * building/loading (src/shim/seccomp.c): parsing, rejections naming the part,
 * unknown syscalls skipped, and filters loaded into a child that then sees
 * the syscalls refused or allowed. */
#include "../src/shim/config.c"
#include "../src/shim/seccomp.c"
#include "../src/shim/util.c"

#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "tap.h"
#include "shim_parse.h"


static bool rejects(const char *extra, const char *needle)
{
	char text[4096];
	snprintf(text, sizeof text, MIN "%s", extra);
	return parse(CONFIG_CONTAINER, text) < 0 && strstr(shim_err, needle) != NULL;
}

/* Runs fn in a child under the filter the config text describes (with
 * no_new_privs, as an unprivileged container would); returns the child's
 * exit status, or -1 if the filter could not be prepared or loaded. */
static int under_filter(const char *extra, int (*fn)(void))
{
	char text[8192];
	pid_t pid;
	int st;

	snprintf(text, sizeof text, MIN "%s", extra);
	if (parse(CONFIG_CONTAINER, text) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_prepare(&cfg.seccomp) < 0 || seccomp_load_prepared() < 0) {
			fprintf(stderr, "# %s\n", shim_err);
			_exit(100);
		}
		_exit(fn());
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) == 100)
		return -1;
	return WEXITSTATUS(st);
}

/* Exit codes say which of the checks failed (0 = as expected). */
static int mkdir_refused(void)
{
	if (mkdir("/tmp/berth-seccomp-test-never", 0700) == 0 || errno != EPERM)
		return 1;
	return getpid() > 0 ? 0 : 2;
}

static int mkdir_enosys(void)
{
	return mkdir("/tmp/berth-seccomp-test-never", 0700) < 0 && errno == ENOSYS ? 0 : 1;
}

static int personality_args(void)
{
	/* 0xffffffff queries (allowed), READ_IMPLIES_EXEC is refused. */
	if (personality(0xffffffff) < 0)
		return 1;
	if (personality(READ_IMPLIES_EXEC) != -1 || errno != EPERM)
		return 2;
	return 0;
}

static int seccomp_mode(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int mode = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	if (f)
		fclose(f);
	return mode == 2 ? 0 : 1;
}

static int dup_either(void)
{
	/* 0 when dup(7), dup(8) pass and dup(9) is refused: what one rule
	 * with both conditions AND-ed would do. */
	int ok7 = syscall(SYS_dup, 7) >= 0 || errno == EBADF;
	int ok8 = syscall(SYS_dup, 8) >= 0 || errno == EBADF;
	int no9 = syscall(SYS_dup, 9) < 0 && errno == EPERM;
	return ok7 && ok8 && no9 ? 0 : 1;
}

/* Files in dir (the cache's programs; temporaries would show too). */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return d ? n : -1;
}

/* Puts the program compiled from `program_of` into dir under the key (and
 * name) of `key_of`: what a later prepare of `key_of` finds there. */
static int plant(const char *dir, const char *key_of, const char *program_of)
{
	char text[8192], name[32];
	struct buf key = { 0 };
	int dirfd;

	snprintf(text, sizeof text, MIN "%s", key_of);
	if (parse(CONFIG_CONTAINER, text) < 0 || cache_key(&cfg.seccomp, &key) < 0)
		return -1;
	snprintf(name, sizeof name, "%016llx", fnv1a(key.p, key.len));
	snprintf(text, sizeof text, MIN "%s", program_of);
	if (parse(CONFIG_CONTAINER, text) < 0 || (cfg.seccomp.cache_dir = NULL, seccomp_prepare(&cfg.seccomp)) < 0)
		return -1;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	cache_store(dirfd, name, &key);
	close(dirfd);
	free(key.p);
	free(prepared);
	prepared = NULL;
	return 0;
}

int main(void)
{
	struct seccomp_spec *s = &cfg.seccomp;
	int r = parse(CONFIG_CONTAINER, MIN
		      "seccomp\tSCMP_ACT_ERRNO\t1\nseccomp-arch\tSCMP_ARCH_X86_64\nseccomp-arch\tSCMP_ARCH_X86\n"
		      "seccomp-flag\tSECCOMP_FILTER_FLAG_LOG\n"
		      "seccomp-syscall\tread\tSCMP_ACT_ALLOW\t-\n"
		      "seccomp-syscall\tclone3\tSCMP_ACT_ERRNO\t38\n"
		      "seccomp-syscall\tclone\tSCMP_ACT_ALLOW\t-\t0\tSCMP_CMP_MASKED_EQ\t2114060288\t0\n"
		      "seccomp-syscall\tsocket\tSCMP_ACT_ALLOW\t-\t0\tSCMP_CMP_NE\t40\t0\t1\tSCMP_CMP_LT\t18446744073709551615\t0\n");
	CHECK(r == 0, "seccomp directives parse (%s)", shim_err);
	CHECK(s->enabled && s->default_action == SECCOMP_ERRNO && s->default_ret == 1, "default action and errno");
	CHECK(s->narches == 2 && strcmp(s->arches[1], "SCMP_ARCH_X86") == 0 && s->nflags == 1, "architectures and flags");
	CHECK(s->nrules == 4 && s->rules[1].action == SECCOMP_ERRNO && s->rules[1].ret == 38, "errnoRet per syscall");
	CHECK(s->rules[2].nargs == 1 && s->rules[2].args[0].op == SECCOMP_OP_MASKED_EQ && s->rules[2].args[0].value == 2114060288ull,
	      "argument condition");
	CHECK(s->rules[3].nargs == 2 && s->rules[3].args[1].index == 1 && s->rules[3].args[1].value == UINT64_MAX, "two conditions, full 64-bit value");
	CHECK(parse(CONFIG_CONTAINER, MIN) == 0 && !cfg.seccomp.enabled, "no seccomp directive: no filter");

	CHECK(rejects("seccomp\tSCMP_ACT_NOPE\t-\n", "seccomp: unknown action \"SCMP_ACT_NOPE\""), "unknown default action named");
	CHECK(rejects("seccomp\tSCMP_ACT_ERRNO\t-\n", "SCMP_ACT_ERRNO needs a return value"), "ERRNO without a return value");
	CHECK(rejects("seccomp\tSCMP_ACT_ALLOW\t1\n", "SCMP_ACT_ALLOW takes no return value"), "ALLOW with a return value");
	CHECK(rejects("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp\tSCMP_ACT_ALLOW\t-\n", "seccomp given twice"), "seccomp twice");
	CHECK(rejects("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t1\t6\tSCMP_CMP_EQ\t0\t0\n", "argument index \"6\""),
	      "argument index out of range named");
	CHECK(rejects("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t1\t0\tSCMP_CMP_XX\t0\t0\n", "seccomp-syscall mkdir: unknown operator \"SCMP_CMP_XX\""),
	      "unknown operator named with its syscall");
	CHECK(rejects("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t1\t0\tSCMP_CMP_EQ\n", "seccomp-syscall: expected"),
	      "incomplete argument condition");
	CHECK(rejects("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t1\t0\tSCMP_CMP_EQ\t-1\t0\n", "value and valueTwo must be"),
	      "negative value refused");
	CHECK(rejects("seccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t1\n", "without a seccomp directive"), "rules without a default action");
	CHECK(parse(CONFIG_EXEC, "berth-exec-config\t1\narg\tsh\nseccomp\tSCMP_ACT_ALLOW\t-\n") < 0 && strstr(shim_err, "unknown directive \"seccomp\""),
	      "exec configs take no seccomp (the container's applies)");

	/* Building: what the kernel/libseccomp side refuses is named. */
	CHECK(parse(CONFIG_CONTAINER, MIN "seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-arch\tSCMP_ARCH_VAX\n") == 0 && seccomp_prepare(&cfg.seccomp) < 0 &&
		      strstr(shim_err, "seccomp-arch SCMP_ARCH_VAX: unknown architecture"),
	      "unknown architecture named (%s)", shim_err);
	CHECK(parse(CONFIG_CONTAINER, MIN "seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-flag\tSECCOMP_FILTER_FLAG_NOPE\n") == 0 && seccomp_prepare(&cfg.seccomp) < 0 &&
		      strstr(shim_err, "seccomp-flag SECCOMP_FILTER_FLAG_NOPE"),
	      "unknown flag named (%s)", shim_err);
	CHECK(parse(CONFIG_CONTAINER, MIN "seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tno_such_syscall_anywhere\tSCMP_ACT_ERRNO\t1\nseccomp-syscall\tmkdir\tSCMP_ACT_ALLOW\t-\n") == 0 &&
		      seccomp_prepare(&cfg.seccomp) == 0,
	      "unknown syscall names skipped; a rule with the default action dropped (%s)", shim_err);
	free(prepared);
	prepared = NULL;

	/* Loaded: behaviour in a child. */
	CHECK(under_filter("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t1\nseccomp-syscall\tmkdirat\tSCMP_ACT_ERRNO\t1\n", mkdir_refused) == 0,
	      "mkdir refused EPERM, the rest allowed");
	CHECK(under_filter("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t38\nseccomp-syscall\tmkdirat\tSCMP_ACT_ERRNO\t38\n", mkdir_enosys) == 0,
	      "errnoRet 38 gives ENOSYS");
	CHECK(under_filter("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tpersonality\tSCMP_ACT_ERRNO\t1\t0\tSCMP_CMP_NE\t4294967295\t0\n", personality_args) == 0,
	      "argument conditions select calls");
	CHECK(under_filter("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-arch\tSCMP_ARCH_X86_64\nseccomp-arch\tSCMP_ARCH_X86\nseccomp-arch\tSCMP_ARCH_X32\n", seccomp_mode) == 0,
	      "filter mode 2 in /proc/self/status, with x86/x32 added");
	CHECK(under_filter("seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tdup\tSCMP_ACT_ERRNO\t1\t0\tSCMP_CMP_NE\t7\t0\t0\tSCMP_CMP_NE\t8\t0\n", dup_either) == 1,
	      "two conditions on one argument are separate rules: dup(7) hits the 'not 8' rule");

	/* The cache of compiled programs (seccomp-cache). */
	{
		char base[] = "/tmp/berth-seccomp-cache-XXXXXX", dir[4200], a[4600], b[512], tmp[5200];
		struct stat st;
		CHECK(mkdtemp(base) != NULL, "cache test dir");
		snprintf(dir, sizeof dir, "%s/c", base);
		snprintf(a, sizeof a, "seccomp-cache\t%s\nseccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t1\nseccomp-syscall\tmkdirat\tSCMP_ACT_ERRNO\t1\n", dir);
		snprintf(b, sizeof b, "seccomp\tSCMP_ACT_ALLOW\t-\nseccomp-syscall\tmkdir\tSCMP_ACT_ERRNO\t38\nseccomp-syscall\tmkdirat\tSCMP_ACT_ERRNO\t38\n");
		CHECK(parse(CONFIG_CONTAINER, MIN "seccomp-cache\trelative\n") < 0 && strstr(shim_err, "seccomp-cache: expected the absolute path"),
		      "seccomp-cache wants an absolute path");
		CHECK(under_filter(a, mkdir_refused) == 0, "with a cache: a miss compiles the filter, which works");
		CHECK(count_files(dir) == 1 && stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700,
		      "the miss left one program, in a 0700 directory it made (%d files)", count_files(dir));
		CHECK(under_filter(a, mkdir_refused) == 0 && count_files(dir) == 1, "a hit loads the same filter and adds nothing");
		/* What is loaded on a hit is the cached program: another one
		 * planted under this profile's key shows in the child. */
		CHECK(plant(dir, a, b) == 0 && count_files(dir) == 1 && under_filter(a, mkdir_enosys) == 0, "a hit loads the cached program");
		/* A file whose key is another profile's is never used. */
		snprintf(tmp, sizeof tmp, "seccomp-cache\t%s\n%s", dir, b);
		{
			/* b's key, stored under a's name: plant writes under key_of's
			 * name, so rename it over a's. */
			char text[16384], na[32], nb[32], pa[4300], pb[4300];
			struct buf ka = { 0 }, kb = { 0 };
			snprintf(text, sizeof text, MIN "%s", a);
			parse(CONFIG_CONTAINER, text);
			cache_key(&cfg.seccomp, &ka);
			snprintf(text, sizeof text, MIN "%s", tmp);
			parse(CONFIG_CONTAINER, text);
			cache_key(&cfg.seccomp, &kb);
			snprintf(na, sizeof na, "%016llx", fnv1a(ka.p, ka.len));
			snprintf(nb, sizeof nb, "%016llx", fnv1a(kb.p, kb.len));
			snprintf(pa, sizeof pa, "%s/%s", dir, na);
			snprintf(pb, sizeof pb, "%s/%s", dir, nb);
			CHECK(plant(dir, tmp, b) == 0 && rename(pb, pa) == 0 && under_filter(a, mkdir_refused) == 0,
			      "a cache file built from another profile is not used (a collision can only miss)");
			free(ka.p);
			free(kb.p);
		}
		/* A directory others may write to is not trusted. */
		CHECK(plant(dir, a, b) == 0 && chmod(dir, 0777) == 0 && under_filter(a, mkdir_refused) == 0,
		      "a cache directory writable by others is not used");
		snprintf(tmp, sizeof tmp, "rm -rf '%s'", base);
		CHECK(system(tmp) == 0, "cache test dir removed");
	}

	return tap_done();
}
