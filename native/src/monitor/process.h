/*
 * The processes the monitor parents (process.c, oom.c): the container's init
 * and exec'd processes, their stdio, spawning the shim, reaping, reading
 * their output into the CRI log, recording their exits. Calls down to the
 * loop only; what the layers above must hear of goes through proc_hooks.
 */
#ifndef BERTH_MONITOR_PROCESS_H
#define BERTH_MONITOR_PROCESS_H

#include "crilog.h"
#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define EXEC_ID_MAX 64
/* How long output may keep flowing after a process exited before the monitor
 * stops waiting for EOF (a descendant that escaped the pid namespace could
 * otherwise hold the pipe open forever). */
#define DRAIN_TIMEOUT_MS 5000
/* How long `shim create` / `shim exec` may take before the monitor kills it
 * and fails the request. */
#define CREATE_TIMEOUT_S 60

/* A process the monitor runs: the container's init, or an exec'd process. */
struct proc {
  struct proc *next;
  char id[EXEC_ID_MAX + 1];      /* "" for init */
  pid_t pid;                     /* 0 until the shim reported it */
  pid_t shim_pid;                /* exec: the `shim exec` still running, else 0 */
  struct timespec shim_deadline; /* CLOCK_MONOTONIC: killed if still running then */
  bool terminal;
  int out_fd;                              /* stdout pipe or pty master; -1 once drained */
  int err_fd;                              /* stderr pipe; -1 with a terminal or once drained */
  int in_fd;                               /* stdin pipe, or a dup of the pty master; -1 if none */
  int shim_err_fd;                         /* where the shim writes its error line (terminal: own pipe) */
  int console_fd;                          /* console socket listener while the shim runs */
  unsigned console_seq;                    /* exec: its console socket is <state>/e<seq>.sock */
  unsigned long long out_bytes, err_bytes; /* output read so far (what a HELLO_ACK reports) */
  bool in_wait_out;                        /* in_fd registered for EPOLLOUT (a writer is stalled) */
  int blocked;                             /* readers that cannot keep up: output reading paused */
  bool out_paused;
  bool exited;
  int status;
  long oom_base;  /* oom_kill_count() when it started; -1 unknown */
  int oom_killed; /* at exit: 1 if the cgroup's OOM kill count went up, 0 if not, -1 unknown */
  struct timespec exited_at;
  struct timespec drain_deadline; /* CLOCK_MONOTONIC */
  void *requester;                /* exec: who waits for its start (exec.c's caller); NULL if gone */
  struct ev ev_out, ev_err, ev_in;
};

/*
 * Upward events, set by the layers above (exec.c, attach.c); each may be
 * NULL. Called from inside the loop's handlers, never re-entrantly for the
 * same process.
 */
struct proc_hooks {
  /* A chunk of p's output, after the CRI log (init only) has it. */
  void (*output)(struct proc *p, bool is_err, const void *data, size_t len);
  /* p's stdin takes writes again (closed false) or is gone for good (closed true). */
  void (*stdin_ready)(struct proc *p, bool closed);
  /* p's exit is recorded (exit_json is the exit file's line); p is released right after, and freed unless init. */
  void (*finished)(struct proc *p, const char *exit_json, size_t len);
  /* An exec's `shim exec` exited with status (p->shim_pid is 0 again). */
  void (*shim_exited)(struct proc *p, int status);
};
extern struct proc_hooks proc_hooks;

extern const char *state_dir;
extern char **shim_argv;   /* the create argv; [0] is the shim binary */
extern struct proc *procs; /* init first, then exec'd processes */
extern struct proc *init_proc;
extern struct crilog logw;
extern bool logging;
extern bool container_done;           /* init's exit is recorded */
extern struct timespec done_deadline; /* CLOCK_MONOTONIC: stop waiting for execs */

struct proc *proc_new(const char *id);
struct proc *find_proc(const char *id);
void proc_unlink(struct proc *p);
/* <state>/exec/<id>[/<file>]: where an exec'd process's files live. */
void exec_dir(char *out, size_t cap, const char *id, const char *file);
int prepare_stdio(struct proc *p, bool terminal, bool want_stdin, const char *console_path, int child[3]);
void close_child_fds(int child[3]);
pid_t spawn(char *const argv[], int fds[3]);
void shim_failure(int err_fd, int status, const char *what, char *out, size_t cap);
int listen_unix(const char *path, int backlog);
int activate(struct proc *p, const char *console_path);
void proc_release(struct proc *p);
/* Records p's exit and forgets it once it is exited and drained (or the drain deadline passed). */
void finish_proc(struct proc *p);
/* finish_proc for every exited process whose output is still open (its deadline may have passed). */
void finish_drained(void);
void reap_children(void);
void protect_from_oom(void);
/* Takes the exit of pid if it was reaped before anyone knew it. */
bool orphan_take(pid_t pid, int *status, struct timespec *at);
/* ms until the next process deadline (a hung `shim exec` is killed here), or -1. */
long proc_timeout_ms(void);

/* Readers of p's output that cannot keep up: while any is, p's output is not read (its pipe fills). */
void proc_block_output(struct proc *p);
void proc_unblock_output(struct proc *p);
/* A writer to p's stdin got EAGAIN: stdin_ready fires once it drains. */
void proc_wait_stdin(struct proc *p);
/* Closes p's stdin (EOF for a pipe; the pty's dup for a terminal); stdin_ready(p, true) follows. */
void proc_close_stdin(struct proc *p);
/* TIOCSWINSZ on p's pty (no-op without a terminal). */
void proc_resize(struct proc *p, unsigned short cols, unsigned short rows);

/* oom.c */
#define OOM_FILES_MAX 4
extern const char *oom_files[OOM_FILES_MAX];
extern int n_oom_files;
/* Sum of the "oom_kill N" counters of oom_files; -1 when none is readable. */
long oom_kill_count(void);
/* Records p's exit (status, time, OOM verdict) and starts its drain deadline. */
void mark_exited(struct proc *p, int status, const struct timespec *at);

#endif
