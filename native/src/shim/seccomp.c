/*
 * The container's seccomp filter (OCI linux.seccomp), built with libseccomp.
 *
 * Two steps, as runc and crun do it:
 *   seccomp_prepare()        builds the filter's BPF program in memory in the
 *                            shim's parent process, before it forks anything
 *                            into the container (so a profile the kernel or
 *                            libseccomp refuses fails `create` or `exec` with
 *                            a message naming the directive, and the children
 *                            inherit the program);
 *   seccomp_load_prepared()  installs it with seccomp(2). Installing a filter
 *                            needs no_new_privs or CAP_SYS_ADMIN: with
 *                            no_new_privs the callers load it right before
 *                            execve (the fewest shim syscalls run under the
 *                            filter); without, process_apply_creds loads it
 *                            before the capabilities are dropped. Everything
 *                            the shim does after loading (setgroups,
 *                            setres[ug]id, capset, prctl, read of exec.fifo,
 *                            close_range, sigaction, execve) must then be
 *                            allowed by the profile; Docker's default allows
 *                            all of it.
 *
 * Compiled programs are cached (the `seccomp-cache` directive names a
 * directory): building Docker's default profile with libseccomp costs
 * 10-15 ms of every create and exec on this class of machine (rule adds,
 * then BPF generation at load), the cached program a file read. A cache
 * file holds the full key it was built from (the profile as parsed, the
 * libseccomp version, the kernel release) and is used only when that key is
 * equal byte for byte, so a hash collision or a changed profile can only
 * miss. The directory and files must belong to the shim's euid and be
 * writable by no one else, else the cache is not used (never an error).
 *
 * Syscall names libseccomp does not know are skipped (runc's behaviour: a
 * profile written for a newer kernel still loads). libseccomp is told not
 * to set no_new_privs itself: that is the config's `no-new-privileges`.
 */
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The program seccomp_prepare made, for seccomp_load_prepared. */
static struct sock_filter *prepared;
static unsigned short prepared_len;
static unsigned int prepared_flags; /* SECCOMP_FILTER_FLAG_* */

#define CACHE_MAGIC "berth-seccomp-bpf\t1\n"
/* Files a cache directory may hold before misses stop adding to it (one per
 * distinct profile: Docker's default per capability set, custom profiles). */
#define CACHE_MAX_FILES 256
/* Bounds on what is read back: the key of Docker's default is ~15 KiB. */
#define CACHE_MAX_KEY (1u << 20)

static const struct {
	const char *name;
	uint32_t token;
} arches[] = {
	{ "SCMP_ARCH_X86", SCMP_ARCH_X86 },
	{ "SCMP_ARCH_X86_64", SCMP_ARCH_X86_64 },
	{ "SCMP_ARCH_X32", SCMP_ARCH_X32 },
	{ "SCMP_ARCH_ARM", SCMP_ARCH_ARM },
	{ "SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64 },
	{ "SCMP_ARCH_MIPS", SCMP_ARCH_MIPS },
	{ "SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64 },
	{ "SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32 },
	{ "SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL },
	{ "SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64 },
	{ "SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32 },
	{ "SCMP_ARCH_PPC", SCMP_ARCH_PPC },
	{ "SCMP_ARCH_PPC64", SCMP_ARCH_PPC64 },
	{ "SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE },
	{ "SCMP_ARCH_S390", SCMP_ARCH_S390 },
	{ "SCMP_ARCH_S390X", SCMP_ARCH_S390X },
	{ "SCMP_ARCH_PARISC", SCMP_ARCH_PARISC },
	{ "SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64 },
	{ "SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64 },
};

static uint32_t action_of(enum seccomp_action a, uint32_t ret)
{
	switch (a) {
	case SECCOMP_KILL_THREAD:
		return SCMP_ACT_KILL_THREAD;
	case SECCOMP_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case SECCOMP_TRAP:
		return SCMP_ACT_TRAP;
	case SECCOMP_ERRNO:
		return SCMP_ACT_ERRNO(ret);
	case SECCOMP_TRACE:
		return SCMP_ACT_TRACE(ret);
	case SECCOMP_LOG:
		return SCMP_ACT_LOG;
	case SECCOMP_ALLOW:
		break;
	}
	return SCMP_ACT_ALLOW;
}

static const enum scmp_compare ops[] = {
	[SECCOMP_OP_NE] = SCMP_CMP_NE, [SECCOMP_OP_LT] = SCMP_CMP_LT, [SECCOMP_OP_LE] = SCMP_CMP_LE,
	[SECCOMP_OP_EQ] = SCMP_CMP_EQ, [SECCOMP_OP_GE] = SCMP_CMP_GE, [SECCOMP_OP_GT] = SCMP_CMP_GT,
	[SECCOMP_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
};

static int add_rule(scmp_filter_ctx ctx, const struct seccomp_rule_spec *r, int nr, uint32_t act)
{
	struct scmp_arg_cmp cmp[6 * 8];
	bool repeated = false;
	unsigned seen = 0;
	int rc;

	if (r->nargs > (int)(sizeof cmp / sizeof cmp[0]))
		return fail_errno(E2BIG, "seccomp-syscall %s: more than %zu argument conditions", r->name, sizeof cmp / sizeof cmp[0]);
	for (int i = 0; i < r->nargs; i++) {
		const struct seccomp_arg_spec *a = &r->args[i];
		repeated |= (seen & (1u << a->index)) != 0;
		seen |= 1u << a->index;
		/* MASKED_EQ: value is the mask, valueTwo what the masked
		 * argument must equal (OCI, runc; libseccomp's datum_a/_b). */
		cmp[i] = (struct scmp_arg_cmp){ .arg = a->index, .op = ops[a->op], .datum_a = a->value, .datum_b = a->value_two };
	}
	if (!repeated) {
		rc = seccomp_rule_add_array(ctx, act, nr, (unsigned)r->nargs, r->nargs ? cmp : NULL);
		return rc < 0 ? fail_errno(-rc, "seccomp-syscall %s: add the rule", r->name) : 0;
	}
	/* Several conditions on one argument cannot be one libseccomp rule;
	 * runc adds each condition as a rule of its own (their OR), and so do we. */
	for (int i = 0; i < r->nargs; i++) {
		rc = seccomp_rule_add_array(ctx, act, nr, 1, &cmp[i]);
		if (rc < 0)
			return fail_errno(-rc, "seccomp-syscall %s: add the rule on argument %u", r->name, cmp[i].arg);
	}
	return 0;
}

/* ---- the cache key ---------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void __attribute__((format(printf, 2, 3))) buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = true;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap <= b->len + (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* Everything the compiled program depends on, as text: the profile as
 * parsed, the libseccomp that compiles it (which names it knows, how it
 * generates) and the kernel it probes for supported actions. */
static int cache_key(const struct seccomp_spec *s, struct buf *k)
{
	const struct scmp_version *v = seccomp_version();
	struct utsname u;

	if (uname(&u) < 0)
		return -1;
	buf_printf(k, "berth-seccomp-key\t1\nlibseccomp\t%u.%u.%u\nkernel\t%s\t%s\t%s\n", v ? v->major : 0, v ? v->minor : 0,
		   v ? v->micro : 0, u.release, u.version, u.machine);
	buf_printf(k, "default\t%d\t%u\n", (int)s->default_action, s->default_ret);
	for (int i = 0; i < s->narches; i++)
		buf_printf(k, "arch\t%s\n", s->arches[i]);
	for (int i = 0; i < s->nflags; i++)
		buf_printf(k, "flag\t%s\n", s->flags[i]);
	for (int i = 0; i < s->nrules; i++) {
		const struct seccomp_rule_spec *r = &s->rules[i];
		buf_printf(k, "rule\t%s\t%d\t%u", r->name, (int)r->action, r->ret);
		for (int a = 0; a < r->nargs; a++)
			buf_printf(k, "\t%u\t%d\t%llu\t%llu", r->args[a].index, (int)r->args[a].op, (unsigned long long)r->args[a].value,
				   (unsigned long long)r->args[a].value_two);
		buf_printf(k, "\n");
	}
	return k->failed ? -1 : 0;
}

/* FNV-1a, 64 bits: only a file name; the key itself decides a hit. */
static unsigned long long fnv1a(const char *p, size_t n)
{
	unsigned long long h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* ---- the cache directory -------------------------------------------------- */

/* Ours alone: owned by our euid, writable by nobody else. */
static bool private_to_us(int fd, bool dir)
{
	struct stat st;
	return fstat(fd, &st) == 0 && (dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)) && st.st_uid == geteuid() &&
	       (st.st_mode & 022) == 0;
}

/* The cache directory, made 0700 if missing; -1 when it cannot be used. */
static int cache_dir_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mkdir(path, 0700) == 0)
		fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && !private_to_us(fd, true)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Reads the whole regular file `name` in dirfd (at most max bytes); NULL on any doubt. */
static char *read_cached(int dirfd, const char *name, size_t max, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	char *p = NULL;

	if (fd < 0)
		return NULL;
	if (private_to_us(fd, false) && fstat(fd, &st) == 0 && st.st_size > 0 && (size_t)st.st_size <= max &&
	    (p = malloc((size_t)st.st_size))) {
		size_t got = 0;
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got != (size_t)st.st_size) {
			free(p);
			p = NULL;
		}
		*len = got;
	}
	close(fd);
	return p;
}

/* A cache file: CACHE_MAGIC, "<key length>\n", the key, "<flags> <insns>\n", the program. */
static bool cache_lookup(int dirfd, const char *name, const struct buf *key)
{
	size_t len = 0, off = strlen(CACHE_MAGIC);
	char *p = read_cached(dirfd, name, off + 64 + CACHE_MAX_KEY + 64 + BPF_MAXINSNS * sizeof(struct sock_filter), &len);
	unsigned long long klen;
	unsigned int flags, insns;
	char *end;
	bool hit = false;

	if (!p)
		return false;
	if (len <= off || memcmp(p, CACHE_MAGIC, off) != 0)
		goto out;
	klen = strtoull(p + off, &end, 10);
	if (end >= p + len || *end != '\n' || klen != key->len)
		goto out;
	off = (size_t)(end + 1 - p);
	if (len - off < klen || memcmp(p + off, key->p, klen) != 0)
		goto out;
	off += klen;
	/* "<flags> <insns>\n" then exactly insns instructions. */
	{
		char line[64];
		size_t n = len - off < sizeof line - 1 ? len - off : sizeof line - 1;
		memcpy(line, p + off, n);
		line[n] = '\0';
		char *nl = strchr(line, '\n');
		if (!nl || sscanf(line, "%u %u", &flags, &insns) != 2)
			goto out;
		off += (size_t)(nl + 1 - line);
	}
	if (insns == 0 || insns > BPF_MAXINSNS || len - off != insns * sizeof(struct sock_filter) ||
	    (flags & ~(unsigned)(SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW)) != 0)
		goto out;
	prepared = malloc(len - off);
	if (!prepared)
		goto out;
	memcpy(prepared, p + off, len - off);
	prepared_len = (unsigned short)insns;
	prepared_flags = flags;
	hit = true;
out:
	free(p);
	return hit;
}

/* Adds the prepared program to the cache (tmp + rename: readers see all or nothing); failures are ignored. */
static void cache_store(int dirfd, const char *name, const struct buf *key)
{
	struct buf f = { 0 };
	char tmp[64];
	size_t done = 0;
	int files = 0, fd;
	DIR *d;
	struct dirent *e;

	fd = dup(dirfd);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)))
		files += e->d_name[0] != '.';
	closedir(d);
	if (files >= CACHE_MAX_FILES)
		return;
	buf_printf(&f, "%s%zu\n", CACHE_MAGIC, key->len);
	buf_printf(&f, "%.*s", (int)key->len, key->p);
	buf_printf(&f, "%u %u\n", prepared_flags, (unsigned)prepared_len);
	if (f.failed)
		goto out;
	{
		size_t need = f.len + prepared_len * sizeof(struct sock_filter);
		if (need > f.cap) {
			char *p = realloc(f.p, need);
			if (!p)
				goto out;
			f.p = p;
			f.cap = need;
		}
		memcpy(f.p + f.len, prepared, prepared_len * sizeof(struct sock_filter));
		f.len = need;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp-%d", name, (int)getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	while (done < f.len) {
		ssize_t n = write(fd, f.p + done, f.len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	/* Not fsync'd: the cache lives in the run dir and a lost file is a miss. */
	if (close(fd) < 0 || done != f.len || renameat(dirfd, tmp, dirfd, name) < 0)
		unlinkat(dirfd, tmp, 0);
out:
	free(f.p);
}

/* ---- building and loading ------------------------------------------------ */

/* Builds the program with libseccomp into prepared/prepared_len/prepared_flags. */
static int compile(const struct seccomp_spec *s)
{
	uint32_t def;
	scmp_filter_ctx ctx;
	unsigned int flags = 0;
	int rc, fd = -1;
	off_t size;

	def = action_of(s->default_action, s->default_ret);
	ctx = seccomp_init(def);
	if (!ctx)
		return fail_errno(EINVAL, "seccomp: create the filter (libseccomp refused the default action)");
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)) < 0) {
		fail_errno(-rc, "seccomp: leave no_new_privs to the config");
		goto fail;
	}
	for (int i = 0; i < s->narches; i++) {
		uint32_t token = 0;
		for (size_t k = 0; k < sizeof arches / sizeof arches[0]; k++)
			if (strcmp(arches[k].name, s->arches[i]) == 0)
				token = arches[k].token;
		if (!token) {
			fail_errno(EINVAL, "seccomp-arch %s: unknown architecture", s->arches[i]);
			goto fail;
		}
		/* The native one is in the filter already (EEXIST). */
		rc = seccomp_arch_add(ctx, token);
		if (rc < 0 && rc != -EEXIST) {
			fail_errno(-rc, "seccomp-arch %s: add", s->arches[i]);
			goto fail;
		}
	}
	for (int i = 0; i < s->nflags; i++) {
		const char *f = s->flags[i];
		if (strcmp(f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
			continue; /* the shim is single-threaded: every thread has it */
		if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0) {
			rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
			flags |= SECCOMP_FILTER_FLAG_LOG;
		} else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0) {
			rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
			flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
		} else {
			fail_errno(EINVAL, "seccomp-flag %s: unknown flag (SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW)", f);
			goto fail;
		}
		if (rc < 0) {
			fail_errno(-rc, "seccomp-flag %s: not supported here", f);
			goto fail;
		}
	}
	for (int i = 0; i < s->nrules; i++) {
		const struct seccomp_rule_spec *r = &s->rules[i];
		uint32_t act = action_of(r->action, r->ret);
		int nr = seccomp_syscall_resolve_name(r->name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* unknown to this libseccomp: skipped, as runc does */
		/* libseccomp refuses a rule whose action is the default one;
		 * such a rule changes nothing. */
		if (act == def)
			continue;
		if (add_rule(ctx, r, nr, act) < 0)
			goto fail;
	}
	/* The program seccomp_load would install (libseccomp 2.5 exports to an fd only). */
	fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		fail("seccomp: memfd_create");
		goto fail;
	}
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
		fail_errno(-rc, "seccomp: generate the filter");
		goto fail;
	}
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) != 0 || size > (off_t)(BPF_MAXINSNS * sizeof(struct sock_filter))) {
		fail_errno(E2BIG, "seccomp: the generated filter has %lld bytes (at most %d instructions fit)", (long long)size, BPF_MAXINSNS);
		goto fail;
	}
	prepared = malloc((size_t)size);
	if (!prepared || pread(fd, prepared, (size_t)size, 0) != size) {
		fail("seccomp: read the generated filter");
		free(prepared);
		prepared = NULL;
		goto fail;
	}
	prepared_len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	prepared_flags = flags;
	close(fd);
	seccomp_release(ctx);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
	return -1;
}

int seccomp_prepare(const struct seccomp_spec *s)
{
	struct buf key = { 0 };
	char name[32] = "";
	int dirfd = -1;

	free(prepared);
	prepared = NULL;
	prepared_len = 0;
	prepared_flags = 0;
	if (!s->enabled)
		return 0;
	if (s->cache_dir && cache_key(s, &key) == 0 && (dirfd = cache_dir_open(s->cache_dir)) >= 0) {
		snprintf(name, sizeof name, "%016llx", fnv1a(key.p, key.len));
		if (cache_lookup(dirfd, name, &key)) {
			close(dirfd);
			free(key.p);
			return 0;
		}
	}
	if (compile(s) < 0) {
		if (dirfd >= 0)
			close(dirfd);
		free(key.p);
		return -1;
	}
	if (dirfd >= 0) {
		cache_store(dirfd, name, &key);
		close(dirfd);
	}
	free(key.p);
	return 0;
}

int seccomp_load_prepared(void)
{
	struct sock_fprog prog;

	if (!prepared)
		return 0;
	prog.len = prepared_len;
	prog.filter = prepared;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, prepared_flags, &prog) < 0)
		return fail("seccomp: load the filter%s", errno == EACCES ? " (needs no_new_privs or CAP_SYS_ADMIN)" : "");
	free(prepared);
	prepared = NULL;
	return 0;
}
