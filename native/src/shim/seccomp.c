/*
 * The container's seccomp filter (OCI linux.seccomp), built with libseccomp.
 *
 * Two steps, as runc and crun do it:
 *   seccomp_prepare()        builds the filter in memory while the process is
 *                            still being set up, so a profile the kernel or
 *                            libseccomp refuses fails `create` (or `exec`)
 *                            with a message naming the directive;
 *   seccomp_load_prepared()  installs it. Installing a filter needs
 *                            no_new_privs or CAP_SYS_ADMIN: with no_new_privs
 *                            the callers load it right before execve (the
 *                            fewest shim syscalls run under the filter);
 *                            without, process_apply_creds loads it before the
 *                            capabilities are dropped. Everything the shim
 *                            does after loading (setgroups, setres[ug]id,
 *                            capset, prctl, read of exec.fifo, close_range,
 *                            sigaction, execve) must then be allowed by the
 *                            profile; Docker's default allows all of it.
 *
 * Syscall names libseccomp does not know are skipped (runc's behaviour: a
 * profile written for a newer kernel still loads). libseccomp is told not
 * to set no_new_privs itself: that is the config's `no-new-privileges`.
 */
#include "shim.h"

#include <errno.h>
#include <seccomp.h>
#include <string.h>

static scmp_filter_ctx prepared;

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

int seccomp_prepare(const struct seccomp_spec *s)
{
	uint32_t def;
	scmp_filter_ctx ctx;
	int rc;

	if (!s->enabled)
		return 0;
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
		if (strcmp(f, "SECCOMP_FILTER_FLAG_LOG") == 0)
			rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
		else if (strcmp(f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
			rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
		else {
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
	if (prepared)
		seccomp_release(prepared);
	prepared = ctx;
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

int seccomp_load_prepared(void)
{
	int rc;

	if (!prepared)
		return 0;
	rc = seccomp_load(prepared);
	if (rc < 0)
		return fail_errno(-rc, "seccomp: load the filter%s", rc == -EACCES ? " (needs no_new_privs or CAP_SYS_ADMIN)" : "");
	seccomp_release(prepared);
	prepared = NULL;
	return 0;
}
