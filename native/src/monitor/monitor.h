/*
 * berth-monitor: the per-container parent process (Podman's conmon).
 *
 *   berth-monitor <state-dir> [--log-path P] [--log-max-size BYTES]
 *                 [--log-max-files N] [--oom-file F]... [--terminal] [--stdin]
 *                 -- <shim argv...>
 *
 * Lifecycle (docs/design/monitor.md has the protocol and the reasons):
 *  1. Checks its arguments (exit 2 and a line on stderr when they are wrong),
 *     then daemonizes: fork, setsid, fork; the first process exits at once.
 *     The daemon keeps the caller's stdout as the sync channel, sends stderr
 *     to <state-dir>/monitor.log, chdirs to /, and becomes a child subreaper.
 *  2. Runs `<shim argv> [--console-socket <state-dir>/tty.sock]` with
 *     stdio pipes it owns (or, with --terminal, receives the pty master over
 *     the console socket). The shim forks the container's init, writes its pid
 *     to <state-dir>/pid and exits; init reparents to the monitor.
 *  3. Writes one JSON line to the sync channel and closes it:
 *       {"pid":<init pid>}          init exists and waits for `shim start`
 *       {"error":"berth-shim: ..."} create failed; the monitor exits 1
 *     Before the line it has written <state-dir>/monitor.pid and is serving
 *     <state-dir>/attach.sock, so the caller can attach before starting.
 *  4. Event loop: logs output (CRI format), serves attach clients, runs
 *     `<shim> exec` on request, reaps everything that reparents to it.
 *  5. When init has exited and its output is drained (or 5 s passed), writes
 *     <state-dir>/exit atomically, sends the exit record to every client,
 *     removes attach.sock and monitor.pid and exits 0.
 *
 * Exit record (exit file, FRAME_EXIT payload), one JSON object:
 *   {"exitCode":N,"signal":S,"exitedAt":"<RFC3339Nano>","oomKilled":null|true|false}
 * exitCode is 128+S when the process died by signal S (S is 0 otherwise);
 * oomKilled is true/false from the --oom-file counters, null without them.
 */
#ifndef BERTH_MONITOR_MONITOR_H
#define BERTH_MONITOR_MONITOR_H

#include "crilog.h"
#include "frame.h"
#include "util.h"

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define EXEC_ID_MAX 64
/* How long output may keep flowing after a process exited before the monitor
 * stops waiting for EOF (a descendant that escaped the pid namespace could
 * otherwise hold the pipe open forever). */
#define DRAIN_TIMEOUT_MS 5000
/* An attach client whose socket takes nothing for this long is dropped (its
 * process's output is paused while it lags; see send_frame). */
#define ATTACH_STALL_TIMEOUT_MS 10000
/* How long a client that got its EXIT may take to close its side. */
#define ATTACH_LINGER_MS 1000
/* How long `shim create` / `shim exec` may take before the monitor kills it
 * and fails the request. */
#define CREATE_TIMEOUT_S 60


/* ---- shared state (one monitor, one event loop, one thread) ------------- */

enum ev_kind { EV_SIGNAL, EV_LISTEN, EV_CLIENT, EV_OUT, EV_ERR, EV_IN };

/* What an epoll registration points at. */
struct ev {
  enum ev_kind kind;
  void *obj;
};

struct client;

/* A process the monitor runs: the container's init, or an exec'd process. */
struct proc {
  struct proc *next;
  char id[EXEC_ID_MAX + 1]; /* "" for init */
  pid_t pid;                /* 0 until the shim reported it */
  pid_t shim_pid;           /* exec: the `shim exec` still running, else 0 */
  struct timespec shim_deadline; /* CLOCK_MONOTONIC: killed if still running then */
  bool terminal;
  int out_fd;       /* stdout pipe or pty master; -1 once drained */
  int err_fd;       /* stderr pipe; -1 with a terminal or once drained */
  int in_fd;        /* stdin pipe, or a dup of the pty master; -1 if none */
  int shim_err_fd;  /* where the shim writes its error line (terminal: own pipe) */
  int console_fd;   /* console socket listener while the shim runs */
  unsigned console_seq; /* exec: its console socket is <state>/e<seq>.sock */
  unsigned long long out_bytes, err_bytes; /* output read so far (what a HELLO_ACK reports) */
  bool in_wait_out; /* in_fd registered for EPOLLOUT (a client is stalled) */
  int blocked;      /* clients whose socket is full: output reading paused */
  bool out_paused;
  bool exited;
  int status;
  long oom_base;  /* oom_kill_count() when it started; -1 unknown */
  int oom_killed; /* at exit: 1 if the cgroup's OOM kill count went up, 0 if not, -1 unknown */
  struct timespec exited_at;
  struct timespec drain_deadline; /* CLOCK_MONOTONIC */
  struct client *requester;       /* exec: the client waiting for FRAME_RESULT */
  struct ev ev_out, ev_err, ev_in;
};

/* A connection on attach.sock. */
struct client {
  struct client *next;
  struct ev ev;
  int fd;
  struct proc *target; /* NULL until HELLO/EXEC */
  uint8_t flags;
  bool stalled;     /* a STDIN frame waits for the target's stdin to drain */
  bool closing;     /* freed by reap_clients() outside any list walk */
  size_t stdin_off; /* bytes of the front STDIN frame already written */
  /* Output the socket did not take yet (the rest of one frame, plus maybe an
   * EXIT or RESULT): while it is there, this client blocks its process's
   * output (blocked_proc->blocked counts it). */
  uint8_t *pend;
  size_t pend_len, pend_off;
  struct proc *blocked_proc;
  struct timespec blocked_since; /* CLOCK_MONOTONIC of the last progress */
  bool flush_then_close;         /* EXIT was queued: linger once it is out */
  /* EXIT is out and our side is shut down: what the client still sends
   * (stdin written before it saw EXIT) is read and dropped until it closes
   * its side, so its writes never fail with EPIPE and overtake EXIT. Bounded
   * by ATTACH_LINGER_MS from blocked_since. */
  bool lingering;
  size_t inlen;
  uint8_t in[FRAME_HEADER_LEN + FRAME_MAX_CLIENT_PAYLOAD];
};

extern const char *state_dir;
extern char **shim_argv; /* the create argv; [0] is the shim binary */
extern int epfd;
extern struct proc *procs; /* init first, then exec'd processes */
extern struct proc *init_proc;
extern struct client *clients;
extern struct crilog logw;
extern bool logging;
extern int listen_fd;
extern char attach_path[PATH_MAX];
extern bool container_done;          /* init's exit is recorded */
extern struct timespec done_deadline; /* CLOCK_MONOTONIC: stop waiting for execs */

/* main.c: diagnostics (to monitor.log) and epoll helpers */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Formats an error line (vsnprintf: truncating long paths is fine there). */
void errf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void set_nonblock(int fd);
int ep_add(int fd, uint32_t events, struct ev *ev);
void ep_mod(int fd, uint32_t events, struct ev *ev);
void close_fd(int *fd); /* epoll DEL + close; sets *fd = -1 */

/* process.c */
struct proc *proc_new(const char *id);
int prepare_stdio(struct proc *p, bool terminal, bool want_stdin, const char *console_path, int child[3]);
void close_child_fds(int child[3]);
pid_t spawn(char *const argv[], int fds[3]);
void shim_failure(int err_fd, int status, const char *what, char *out, size_t cap);
int listen_unix(const char *path, int backlog);
int activate(struct proc *p, const char *console_path);
void proc_release(struct proc *p);
void finish_proc(struct proc *p);
void reap_children(void);
void on_output(struct proc *p, bool is_err);
void protect_from_oom(void);
/* Takes the exit of pid if it was reaped before anyone knew it. */
bool orphan_take(pid_t pid, int *status, struct timespec *at);

/* oom.c */
#define OOM_FILES_MAX 4
extern const char *oom_files[OOM_FILES_MAX];
extern int n_oom_files;
/* Sum of the "oom_kill N" counters of oom_files; -1 when none is readable. */
long oom_kill_count(void);
/* Records p's exit (status, time, OOM verdict) and starts its drain deadline. */
void mark_exited(struct proc *p, int status, const struct timespec *at);

/* attach.c */
int send_frame(struct client *c, uint8_t type, const void *data, size_t len);
void send_result(struct client *c, const char *key, const char *value, long num);
void reap_clients(void);
void broadcast(struct proc *p, uint8_t type, const void *data, size_t len);
void on_stdin_writable(struct proc *p);
void close_stdin(struct proc *p);
void client_update_events(struct client *c); /* epoll events from the client's state */
void on_client(struct client *c, uint32_t events);
long expire_blocked_clients(void);
void client_linger(struct client *c);
void on_listen(void);

/* exec.c */
struct proc *find_proc(const char *id);
void exec_dir(char *out, size_t cap, const char *id, const char *file);
void exec_cleanup_dir(const char *id);
void proc_unlink(struct proc *p);
void start_exec(struct client *c, const uint8_t *payload, size_t len);
void exec_shim_done(struct proc *p, int status);

#endif
