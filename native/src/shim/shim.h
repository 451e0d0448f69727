/*
 * berth-shim: creates a container's init process in its namespaces on its
 * root filesystem, stopped just before execve (create), releases it
 * (start), and runs extra processes inside a running container (exec).
 * The protocol, config format and ordering rules are in docs/design/shim.md.
 *
 * Process roles during `create` (names used throughout the code):
 *   parent  the berth-shim process itself; stays in the host namespaces,
 *           writes id maps, cgroup.procs, the pid file; a child subreaper so
 *           the init is reparented to it when the middle process exits.
 *   middle  forked by parent; joins namespaces given by path, unshares the
 *           user namespace (parent writes its maps), then the other new
 *           namespaces, forks the init (pid 1 of a new pid namespace) and
 *           exits.
 *   init    sets up the root filesystem and process attributes, waits on
 *           exec.fifo, execs the container's command.
 *
 * Errors: functions return -1 and leave one line in shim_err describing
 * what failed (naming the config field or path) and strerror(errno).
 */
#ifndef BERTH_SHIM_H
#define BERTH_SHIM_H

#include "atomicfile.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- errors ---------------------------------------------------------- */

extern char shim_err[1024];
/* Formats "<fmt...>: <strerror(errno)>" into shim_err; returns -1 with
 * errno preserved. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same with an explicit errno. */
int fail_errno(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "berth-shim: <shim_err>" to stderr. */
void report(void);

/* ---- config ---------------------------------------------------------- */

enum ns_type { NS_USER, NS_PID, NS_NET, NS_MNT, NS_IPC, NS_UTS, NS_CGROUP, NS_TIME, NS_COUNT };

struct ns_info {
	const char *name;     /* in the config: OCI names (network, mount...) */
	const char *procname; /* under /proc/<pid>/ns/ */
	int flag;             /* CLONE_NEW* */
};
extern const struct ns_info ns_infos[NS_COUNT];

enum cap_set { CAP_SET_BOUNDING, CAP_SET_EFFECTIVE, CAP_SET_PERMITTED, CAP_SET_INHERITABLE, CAP_SET_AMBIENT, CAP_SET_COUNT };

struct rlimit_spec {
	int resource;
	const char *name; /* RLIMIT_NOFILE... for messages */
	uint64_t soft, hard;
};

struct process_spec {
	char **args;
	int nargs;
	char **env;
	int nenv;
	char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	uint64_t caps[CAP_SET_COUNT]; /* bit n = capability n */
	struct rlimit_spec *rlimits;
	int nrlimits;
	bool no_new_privs;
	bool terminal;
	bool has_oom_score_adj;
	int oom_score_adj;
};

struct ns_spec {
	bool enabled;
	char *path; /* NULL: new namespace; else join this one */
};

struct idmap {
	uint32_t container, host, size;
};

struct mount_spec {
	char *destination, *type, *source;
	char **options;
	int noptions;
};

/* seccomp (OCI linux.seccomp), as the config gives it: names are kept as
 * text and resolved by seccomp.c with libseccomp, so this parser has no
 * libseccomp dependency. Actions and operators are checked while parsing. */
enum seccomp_action { SECCOMP_KILL_THREAD, SECCOMP_KILL_PROCESS, SECCOMP_TRAP, SECCOMP_ERRNO, SECCOMP_TRACE, SECCOMP_ALLOW, SECCOMP_LOG };
enum seccomp_op { SECCOMP_OP_NE, SECCOMP_OP_LT, SECCOMP_OP_LE, SECCOMP_OP_EQ, SECCOMP_OP_GE, SECCOMP_OP_GT, SECCOMP_OP_MASKED_EQ };

struct seccomp_arg_spec {
	unsigned index; /* 0..5 */
	enum seccomp_op op;
	uint64_t value, value_two;
};

struct seccomp_rule_spec {
	char *name;
	enum seccomp_action action;
	uint32_t ret; /* errno (ERRNO) or message (TRACE) */
	struct seccomp_arg_spec *args;
	int nargs;
};

struct seccomp_spec {
	bool enabled; /* a `seccomp` directive was given */
	enum seccomp_action default_action;
	uint32_t default_ret;
	char **arches, **flags;
	int narches, nflags;
	struct seccomp_rule_spec *rules;
	int nrules;
	char *cache_dir; /* `seccomp-cache`: compiled programs kept here, or NULL */
};

/* OCI linux.devices[]: a node made inside the root (mknod; in a user
 * namespace, where mknod is refused, the host node is bound instead). */
struct device_spec {
	char *path; /* absolute, inside the container */
	mode_t type; /* S_IFCHR, S_IFBLK or S_IFIFO */
	unsigned major, minor;
	mode_t mode; /* permission bits */
	uid_t uid;
	gid_t gid;
	char *host; /* host node to bind when mknod is not possible */
};

struct shim_config {
	struct process_spec process;
	struct ns_spec ns[NS_COUNT];
	struct idmap *uid_maps, *gid_maps;
	int nuid_maps, ngid_maps;
	char *root;
	bool root_readonly;
	unsigned long rootfs_propagation; /* MS_* flags for "/" */
	char *hostname;
	char *domainname; /* setdomainname(2), in the new uts namespace */
	struct mount_spec *mounts;
	int nmounts;
	char **masked, **readonly;
	int nmasked, nreadonly;
	char **sysctl_keys, **sysctl_values;
	int nsysctl;
	char **cgroups;
	int ncgroups;
	char *init; /* host path of berth-init to run as pid 1, or NULL */
	struct device_spec *devices; /* nodes made in the container's /dev */
	int ndevices;
	struct seccomp_spec seccomp; /* applied to the init and to every exec */
};

enum config_kind { CONFIG_CONTAINER, CONFIG_EXEC };

/* Parses a config file. CONFIG_EXEC accepts only the process directives.
 * Returns 0 or -1 (shim_err names the line and directive). */
int config_load(const char *path, enum config_kind kind, struct shim_config *out);
/* Parses config text already in memory (modified in place); for tests. */
int config_parse(char *buf, size_t len, enum config_kind kind, const char *what, struct shim_config *out);

/* Capability and rlimit names (CAP_CHOWN / RLIMIT_NOFILE); -1 if unknown. */
int cap_from_name(const char *name);
const char *cap_name(int cap);

/* ---- pieces of the init's setup -------------------------------------- */

/* Mounts, /dev, pivot_root; the process cwd is created inside the root. */
int rootfs_prepare(const struct shim_config *c);
/* After pivot_root: sysctls, readonly/masked paths, root remount ro. */
int rootfs_finalize(const struct shim_config *c);

/* Allocates a pty in the current mount namespace's /dev/pts, optionally
 * bind-mounts the slave on /dev/console, makes it the controlling terminal
 * and stdio, and sends the master over console_fd. */
int terminal_setup(int console_fd, bool bind_console);

/* Process attributes in the order the kernel needs them: rlimits, no new
 * privs, bounding set, groups/gid/uid keeping caps, cwd, capsets, ambient. */
int process_apply_early(const struct process_spec *p); /* rlimits */
int process_apply_creds(const struct process_spec *p); /* the rest */
/* Execs the process (args[0] resolved via PATH from p->env when it has no
 * slash). Returns only on failure, with errno set and shim_err filled as
 * `exec "<arg0>": <strerror>`. */
int process_exec(const struct process_spec *p);
/* 127 for ENOENT/ENOTDIR, 126 otherwise (Docker's convention). */
int exec_exit_code(int err);

/* seccomp.c. seccomp_prepare builds the filter's BPF program in memory, or
 * takes it from s->cache_dir (a profile the kernel or libseccomp refuses
 * fails here, naming the directive; syscall names unknown to libseccomp are
 * skipped, as runc does); the shim's parent calls it before forking, so the
 * children inherit the program and the cache is read in the host's mount
 * namespace. seccomp_load_prepared
 * loads it (0 when none was prepared). Loading needs no_new_privs or
 * CAP_SYS_ADMIN, hence runc's order: with no_new_privs right before execve,
 * otherwise before the capabilities are dropped (process_apply_creds). */
int seccomp_prepare(const struct seccomp_spec *s);
int seccomp_load_prepared(void);

/* Marks every fd >= 3 close-on-exec (close_range, or one by one). */
void close_fds_on_exec(void);
/* Writes /proc/<pid>/oom_score_adj when the process asks for it. */
int set_oom_score_adj(pid_t pid, const struct process_spec *p);

/* ---- small helpers ---------------------------------------------------- */
int write_file(const char *path, const char *data, size_t len);
int read_int_file(const char *path, long *out);
int send_fd(int sock, int fd, const char *payload);
/* The process's start time (clock ticks after boot, /proc/<pid>/stat
 * field 22): with the pid it names one process for ever (pids recycle). */
int read_start_time(pid_t pid, unsigned long long *out);
/* Connects a SOCK_STREAM unix socket (the console socket, as runc's). */
int connect_unix(const char *path);

/* The subcommands. */
int cmd_create(int argc, char **argv);
int cmd_start(int argc, char **argv);
int cmd_exec(int argc, char **argv);

/* Re-executes the running binary from a sealed memfd (CVE-2019-5736). */
int ensure_cloned_binary(char **argv);

#endif
