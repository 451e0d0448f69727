/* berth-monitor: see monitor.h for the interface, docs/design/monitor.md for the protocol. */
#include "crilog.h"
#include "frame.h"
#include "monitor.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- state ------------------------------------------------------------- */

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
  bool terminal;
  int out_fd;      /* stdout pipe or pty master; -1 once drained */
  int err_fd;      /* stderr pipe; -1 with a terminal or once drained */
  int in_fd;       /* stdin pipe, or a dup of the pty master; -1 if none */
  int shim_err_fd; /* where the shim writes its error line (terminal: own pipe) */
  int console_fd;  /* console socket listener while the shim runs */
  bool in_wait_out; /* in_fd registered for EPOLLOUT (a client is stalled) */
  int blocked;      /* clients whose socket is full: output reading paused */
  bool out_paused;
  bool exited;
  int status;
  struct timespec exited_at;
  struct timespec drain_deadline; /* CLOCK_MONOTONIC */
  struct client *requester;       /* exec: the client waiting for FRAME_RESULT */
  struct ev ev_out, ev_err, ev_in;
};

struct client {
  struct client *next;
  struct ev ev;
  int fd;
  struct proc *target; /* NULL until HELLO/EXEC */
  uint8_t flags;
  bool stalled;       /* a STDIN frame waits for the target's stdin to drain */
  bool closing;
  size_t stdin_off;   /* bytes of the front STDIN frame already written */
  /* Output the socket did not take yet (the rest of one frame, plus maybe an
   * EXIT or RESULT): while it is there, this client blocks its process's
   * output (blocked_proc->blocked counts it). */
  uint8_t *pend;
  size_t pend_len, pend_off;
  struct proc *blocked_proc;
  struct timespec blocked_since; /* CLOCK_MONOTONIC of the last progress */
  bool flush_then_close;         /* EXIT was queued: close once it is out */
  size_t inlen;
  uint8_t in[FRAME_HEADER_LEN + FRAME_MAX_CLIENT_PAYLOAD];
};

static const char *state_dir;
static char **shim_argv;
static int epfd = -1;
static struct proc *procs;     /* init first */
static struct proc *init_proc;
static struct client *clients;
static struct crilog logw;
static bool logging;
static int listen_fd = -1;
static char attach_path[PATH_MAX];
static struct ev ev_signal = {EV_SIGNAL, NULL}, ev_listen = {EV_LISTEN, NULL};

/* Output is read in chunks of this size and sent on as one frame each; the
 * buffer is static so an idle monitor touches no heap for it. */
static uint8_t iobuf[8192];

/* Children the monitor reaped before it knew who they were: an exec'd process
 * that exits before its `shim exec` does is reparented and reaped in the same
 * sweep as the shim, before the pid file is read. */
#define ORPHAN_SLOTS 16
static struct {
  pid_t pid;
  int status;
  struct timespec at;
} orphans[ORPHAN_SLOTS];
static unsigned orphan_next;

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...) {
  char buf[512];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  format_rfc3339nano(buf, &ts);
  size_t n = strlen(buf);
  buf[n++] = ' ';
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  n += (size_t)m < sizeof buf - n - 1 ? (size_t)m : sizeof buf - n - 2;
  buf[n++] = '\n';
  if (write(2, buf, n) < 0) { /* nowhere else to say it */
  }
}

/* Formats an error line (vsnprintf: truncation of long paths is fine here). */
static void errf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, cap, fmt, ap);
  va_end(ap);
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static int ep_add(int fd, uint32_t events, struct ev *ev) {
  struct epoll_event e = {.events = events, .data.ptr = ev};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}
static void ep_mod(int fd, uint32_t events, struct ev *ev) {
  struct epoll_event e = {.events = events, .data.ptr = ev};
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e);
}
static void close_fd(int *fd) {
  if (*fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
  }
  *fd = -1;
}

static struct proc *proc_new(const char *id) {
  struct proc *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  snprintf(p->id, sizeof p->id, "%s", id);
  p->out_fd = p->err_fd = p->in_fd = p->shim_err_fd = p->console_fd = -1;
  p->ev_out = (struct ev){EV_OUT, p};
  p->ev_err = (struct ev){EV_ERR, p};
  p->ev_in = (struct ev){EV_IN, p};
  return p;
}

/* ---- exit records ------------------------------------------------------- */

static size_t exit_json(const struct proc *p, char *out, size_t cap) {
  int code = 0, sig = 0;
  if (WIFEXITED(p->status)) code = WEXITSTATUS(p->status);
  else if (WIFSIGNALED(p->status)) sig = WTERMSIG(p->status), code = 128 + sig;
  char ts[CRILOG_TIMESTAMP_LEN + 1];
  format_rfc3339nano(ts, &p->exited_at);
  int n = snprintf(out, cap, "{\"exitCode\":%d,\"signal\":%d,\"exitedAt\":\"%s\",\"oomKilled\":null}\n", code, sig, ts);
  return n < 0 ? 0 : (size_t)n;
}

/* ---- the sync channel and spawning the shim ---------------------------- */

/* Reports the create outcome on stdout (the caller's pipe) and closes it. */
static void sync_report(const char *json) {
  size_t len = strlen(json), done = 0;
  while (done < len) {
    ssize_t n = write(1, json + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += (size_t)n;
  }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 1);
    close(null);
  }
}

static void sync_error(const char *msg) {
  char out[1024];
  size_t len = 0;
  memcpy(out, "{\"error\":\"", 10);
  len = 10;
  json_escape(out, sizeof out - 4, &len, msg, strlen(msg));
  memcpy(out + len, "\"}\n", 4);
  sync_report(out);
}

/* The oom_score_adj the monitor was started with: its children get it back. */
static char oom_adj_orig[16] = "0";

static void write_oom_score_adj(const char *value) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, value, strlen(value)) < 0) { /* best effort */
  }
  close(fd);
}

/*
 * Like conmon, the monitor asks the OOM killer to spare it: it is tiny, and
 * killing it orphans the container and loses its exit code and output.
 * Children inherit the value, so spawn() restores the original for them.
 */
static void protect_from_oom(void) {
  int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, oom_adj_orig, sizeof oom_adj_orig - 1);
    oom_adj_orig[n > 0 ? n : 0] = 0;
    if (n <= 0) strcpy(oom_adj_orig, "0");
    close(fd);
  }
  write_oom_score_adj("-999");
}

/*
 * Forks and execs argv with fds[0..2] as stdio. The child gets a clean signal
 * state (the monitor blocks SIGCHLD and ignores SIGPIPE; both are inherited
 * across execve and would break the container's shell pipelines).
 */
static pid_t spawn(char *const argv[], int fds[3]) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  write_oom_score_adj(oom_adj_orig); /* raising it needs no privilege */
  for (int i = 0; i < 3; i++) {
    /* fds are CLOEXEC; dup2 clears it on the copy. When fds[i] == i already
     * the flag must be cleared by hand. */
    if (fds[i] == i) fcntl(i, F_SETFD, 0);
    else if (dup2(fds[i], i) < 0) _exit(127);
  }
  execv(argv[0], argv);
  dprintf(2, "berth-monitor: exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* The shim's error line: the first line it wrote on stderr, or a status. */
static void shim_failure(int err_fd, int status, const char *what, char *out, size_t cap) {
  /* Non-blocking: if the shim broke its promise and left a process holding
   * the pipe, an empty pipe must not hang the monitor. */
  if (err_fd >= 0) set_nonblock(err_fd);
  ssize_t n = err_fd >= 0 ? read(err_fd, out, cap - 1) : -1;
  if (n > 0) {
    out[n] = 0;
    char *nl = strchr(out, '\n');
    if (nl) *nl = 0;
    if (out[0]) return;
  }
  if (WIFSIGNALED(status)) snprintf(out, cap, "berth-monitor: %s killed by signal %d", what, WTERMSIG(status));
  else snprintf(out, cap, "berth-monitor: %s exited %d without a message", what, WEXITSTATUS(status));
}

static int listen_unix(const char *path, int backlog) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return -ENAMETOOLONG;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  unlink(path);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

/* Receives the pty master the shim sent over the console socket (runc's
 * --console-socket protocol: any payload, one fd in SCM_RIGHTS). */
static int recv_console(int listen) {
  int conn = accept4(listen, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) return -errno;
  char data[256];
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } cm;
  struct iovec iov = {data, sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf, .msg_controllen = sizeof cm.buf};
  ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  int e = errno;
  close(conn);
  if (n < 0) return -e;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -EBADMSG;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

/*
 * Makes p's stdio and the three fds its shim gets. Pipes are CLOEXEC on both
 * ends; the child's ends are closed by the caller after the fork.
 */
static int prepare_stdio(struct proc *p, bool terminal, bool want_stdin, const char *console_path, int child[3]) {
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return -errno;
  int pe[2], po[2], pi[2];
  child[0] = child[1] = child[2] = -1;
  if (pipe2(pe, O_CLOEXEC) < 0) goto fail;
  child[2] = pe[1];
  p->shim_err_fd = pe[0];
  p->terminal = terminal;
  if (terminal) {
    int l = listen_unix(console_path, 1);
    if (l < 0) {
      errno = -l;
      goto fail;
    }
    p->console_fd = l;
    child[0] = dup(null), child[1] = dup(null);
    fcntl(child[0], F_SETFD, FD_CLOEXEC), fcntl(child[1], F_SETFD, FD_CLOEXEC);
  } else {
    if (pipe2(po, O_CLOEXEC) < 0) goto fail;
    child[1] = po[1];
    p->out_fd = po[0];
    p->err_fd = pe[0]; /* the shim's stderr is the process's stderr */
    if (want_stdin) {
      if (pipe2(pi, O_CLOEXEC) < 0) goto fail;
      child[0] = pi[0];
      p->in_fd = pi[1];
    } else {
      child[0] = dup(null);
      fcntl(child[0], F_SETFD, FD_CLOEXEC);
    }
  }
  close(null);
  return 0;
fail:;
  int e = errno;
  close(null);
  for (int i = 0; i < 3; i++)
    if (child[i] >= 0) close(child[i]);
  return -e;
}

static void close_child_fds(int child[3]) {
  for (int i = 0; i < 3; i++)
    if (child[i] >= 0) close(child[i]);
}

/* After the shim succeeded: take the pty master, register p's fds. */
static int activate(struct proc *p, const char *console_path) {
  if (p->terminal) {
    int m = recv_console(p->console_fd);
    close(p->console_fd);
    p->console_fd = -1;
    unlink(console_path);
    if (m < 0) return m;
    p->out_fd = m;
    p->in_fd = dup(m);
    fcntl(p->in_fd, F_SETFD, FD_CLOEXEC);
    close(p->shim_err_fd); /* only the shim wrote there */
    p->shim_err_fd = -1;
  } else {
    p->shim_err_fd = -1; /* it is err_fd, owned there now */
  }
  set_nonblock(p->out_fd);
  if (ep_add(p->out_fd, EPOLLIN, &p->ev_out) < 0) return -errno;
  if (p->err_fd >= 0) {
    set_nonblock(p->err_fd);
    if (ep_add(p->err_fd, EPOLLIN, &p->ev_err) < 0) return -errno;
  }
  if (p->in_fd >= 0) set_nonblock(p->in_fd);
  return 0;
}

static void proc_release(struct proc *p) {
  if (p->shim_err_fd >= 0 && p->shim_err_fd != p->err_fd) close(p->shim_err_fd);
  p->shim_err_fd = -1;
  close_fd(&p->out_fd);
  close_fd(&p->err_fd);
  close_fd(&p->in_fd);
  if (p->console_fd >= 0) close(p->console_fd);
  p->console_fd = -1;
}

/* ---- clients ------------------------------------------------------------ */

static void client_update_events(struct client *c) {
  uint32_t ev = (c->stalled || c->flush_then_close ? 0 : EPOLLIN) | (c->pend_off < c->pend_len ? EPOLLOUT : 0);
  ep_mod(c->fd, ev, &c->ev);
}

/* Stops/starts reading p's output: the pipe (or pty) then fills and the
 * process blocks in write(), as it would with a slow terminal. */
static void set_output_paused(struct proc *p, bool paused) {
  if (p->out_paused == paused) return;
  p->out_paused = paused;
  if (p->out_fd >= 0) ep_mod(p->out_fd, paused ? 0 : EPOLLIN, &p->ev_out);
  if (p->err_fd >= 0) ep_mod(p->err_fd, paused ? 0 : EPOLLIN, &p->ev_err);
}

static void client_unblock(struct client *c) {
  free(c->pend);
  c->pend = NULL;
  c->pend_len = c->pend_off = 0;
  struct proc *p = c->blocked_proc;
  c->blocked_proc = NULL;
  if (p && --p->blocked == 0) set_output_paused(p, false);
}

/*
 * Sends a frame without blocking. What the socket does not take is kept and
 * the client's process stops being read until the client catches up (Docker's
 * attach semantics: a slow reader slows the container, nothing is lost). A
 * client that makes no progress for ATTACH_STALL_TIMEOUT_MS is dropped, so a
 * wedged client cannot wedge the container (the CRI log has everything).
 */
static int send_frame(struct client *c, uint8_t type, const void *data, size_t len) {
  if (c->closing) return -1;
  uint8_t hdr[FRAME_HEADER_LEN];
  frame_header(hdr, type, (uint32_t)len);
  size_t total = sizeof hdr + len, sent = 0;
  if (c->pend_off == c->pend_len) {
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      c->closing = true;
      return -1;
    }
    if (n == (ssize_t)total) return 0;
    sent = n > 0 ? (size_t)n : 0;
  }
  if (c->pend_off) {
    memmove(c->pend, c->pend + c->pend_off, c->pend_len - c->pend_off);
    c->pend_len -= c->pend_off;
    c->pend_off = 0;
  }
  uint8_t *np = realloc(c->pend, c->pend_len + total - sent);
  if (!np) {
    c->closing = true;
    return -1;
  }
  c->pend = np;
  for (size_t i = sent; i < total; i++) /* the unsent tail of header + payload */
    c->pend[c->pend_len++] = i < sizeof hdr ? hdr[i] : ((const uint8_t *)data)[i - sizeof hdr];
  if (!c->blocked_proc && c->target) {
    c->blocked_proc = c->target;
    if (c->target->blocked++ == 0) set_output_paused(c->target, true);
    clock_gettime(CLOCK_MONOTONIC, &c->blocked_since);
  }
  client_update_events(c);
  return 0;
}

static void client_flush(struct client *c) {
  ssize_t n = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && errno != EAGAIN && errno != EINTR) {
    c->closing = true;
    return;
  }
  if (n > 0) {
    c->pend_off += (size_t)n;
    clock_gettime(CLOCK_MONOTONIC, &c->blocked_since);
  }
  if (c->pend_off < c->pend_len) return;
  client_unblock(c);
  if (c->flush_then_close) c->closing = true;
  else client_update_events(c);
}

static void send_result(struct client *c, const char *key, const char *value, long num) {
  char out[1024];
  size_t len;
  if (value) {
    len = (size_t)snprintf(out, sizeof out, "{\"%s\":\"", key);
    json_escape(out, sizeof out - 4, &len, value, strlen(value));
    memcpy(out + len, "\"}", 3);
    len += 2;
  } else {
    len = (size_t)snprintf(out, sizeof out, "{\"%s\":%ld}", key, num);
  }
  send_frame(c, FRAME_RESULT, out, len);
}

static void client_free(struct client *c) {
  for (struct client **pp = &clients; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  for (struct proc *p = procs; p; p = p->next)
    if (p->requester == c) p->requester = NULL;
  client_unblock(c);
  close_fd(&c->fd);
  free(c);
}

/* Frees clients marked closing; done outside loops that walk the list. */
static void reap_clients(void) {
  struct client *c = clients, *next;
  for (; c; c = next) {
    next = c->next;
    if (c->closing) client_free(c);
  }
}

static void broadcast(struct proc *p, uint8_t type, const void *data, size_t len) {
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p && (c->flags & HELLO_OUTPUT) && !c->closing) send_frame(c, type, data, len);
}

/* ---- exec --------------------------------------------------------------- */

static bool valid_exec_id(const char *id, size_t len) {
  if (len == 0 || len > EXEC_ID_MAX) return false;
  if ((len == 1 && id[0] == '.') || (len == 2 && id[0] == '.' && id[1] == '.')) return false;
  for (size_t i = 0; i < len; i++) {
    char ch = id[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
          ch == '.'))
      return false;
  }
  return true;
}

static struct proc *find_proc(const char *id) {
  for (struct proc *p = procs; p; p = p->next)
    if (strcmp(p->id, id) == 0) return p;
  return NULL;
}

static void exec_dir(char *out, size_t cap, const char *id, const char *file) {
  if (file) snprintf(out, cap, "%s/exec/%s/%s", state_dir, id, file);
  else snprintf(out, cap, "%s/exec/%s", state_dir, id);
}

static void exec_cleanup_dir(const char *id) {
  char path[PATH_MAX];
  static const char *files[] = {"pid", "console.sock", "exit"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    exec_dir(path, sizeof path, id, files[i]);
    unlink(path);
  }
  exec_dir(path, sizeof path, id, NULL);
  rmdir(path);
}

static void proc_unlink(struct proc *p) {
  for (struct proc **pp = &procs; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
}

/* Handles FRAME_EXEC: u8 flags, exec id, NUL, exec-config path. */
static void start_exec(struct client *c, const uint8_t *payload, size_t len) {
  char err[512];
  if (len < 2) {
    send_result(c, "error", "berth-monitor: exec request too short", 0);
    c->closing = true;
    return;
  }
  uint8_t flags = payload[0];
  const char *id = (const char *)payload + 1;
  const char *nul = memchr(id, 0, len - 1);
  if (!nul || !valid_exec_id(id, (size_t)(nul - id))) {
    send_result(c, "error", "berth-monitor: exec id must be 1-64 of [A-Za-z0-9_.-]", 0);
    c->closing = true;
    return;
  }
  size_t cfglen = len - 1 - (size_t)(nul - id) - 1;
  char cfg[PATH_MAX];
  if (cfglen == 0 || cfglen >= sizeof cfg) {
    send_result(c, "error", "berth-monitor: exec request has no exec-config path", 0);
    c->closing = true;
    return;
  }
  memcpy(cfg, nul + 1, cfglen);
  cfg[cfglen] = 0;
  if (init_proc->exited) {
    send_result(c, "error", "berth-monitor: the container has exited", 0);
    c->closing = true;
    return;
  }
  if (find_proc(id)) {
    errf(err, sizeof err, "berth-monitor: exec id %s is in use", id);
    send_result(c, "error", err, 0);
    c->closing = true;
    return;
  }
  char dir[PATH_MAX], pidfile[PATH_MAX], console[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/exec", state_dir);
  mkdir(dir, 0700);
  exec_dir(dir, sizeof dir, id, NULL);
  if (mkdir(dir, 0700) < 0) {
    errf(err, sizeof err, "berth-monitor: mkdir %s: %s (exec ids cannot be reused)", dir, strerror(errno));
    send_result(c, "error", err, 0);
    c->closing = true;
    return;
  }
  exec_dir(pidfile, sizeof pidfile, id, "pid");
  exec_dir(console, sizeof console, id, "console.sock");
  struct proc *p = proc_new(id);
  int child[3];
  int r = p ? prepare_stdio(p, flags & EXEC_TERMINAL, flags & EXEC_STDIN, console, child) : -ENOMEM;
  if (r < 0) {
    errf(err, sizeof err, "berth-monitor: exec %s stdio: %s", id, strerror(-r));
    goto fail;
  }
  char *argv[10];
  int a = 0;
  argv[a++] = shim_argv[0];
  argv[a++] = "exec";
  argv[a++] = (char *)state_dir;
  argv[a++] = cfg;
  if (flags & EXEC_TERMINAL) argv[a++] = "--console-socket", argv[a++] = console;
  argv[a++] = "--pid-file";
  argv[a++] = pidfile;
  argv[a] = NULL;
  p->shim_pid = spawn(argv, child);
  close_child_fds(child);
  if (p->shim_pid < 0) {
    errf(err, sizeof err, "berth-monitor: fork: %s", strerror(errno));
    goto fail;
  }
  p->next = procs->next; /* after init */
  procs->next = p;
  p->requester = c;
  c->target = p;
  c->flags = HELLO_OUTPUT;
  return;
fail:
  if (p) {
    proc_release(p);
    free(p);
  }
  exec_cleanup_dir(id);
  send_result(c, "error", err, 0);
  c->closing = true;
}

static void finish_proc(struct proc *p);

/* A `shim exec` exited: the exec'd process runs (status 0) or never will. */
static void exec_shim_done(struct proc *p, int status) {
  char err[512], pidfile[PATH_MAX], console[PATH_MAX];
  p->shim_pid = 0;
  exec_dir(pidfile, sizeof pidfile, p->id, "pid");
  exec_dir(console, sizeof console, p->id, "console.sock");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    shim_failure(p->shim_err_fd, status, "shim exec", err, sizeof err);
    goto fail;
  }
  pid_t pid = read_pid_file(pidfile);
  if (pid < 0) {
    errf(err, sizeof err, "berth-monitor: read %s: %s", pidfile, strerror(-pid));
    goto fail;
  }
  p->pid = pid;
  int r = activate(p, console);
  if (r < 0) {
    errf(err, sizeof err, "berth-monitor: exec %s terminal: %s", p->id, strerror(-r));
    kill(pid, SIGKILL);
    goto fail_running;
  }
  for (unsigned i = 0; i < ORPHAN_SLOTS; i++)
    if (orphans[i].pid == pid) {
      orphans[i].pid = 0;
      p->exited = true;
      p->status = orphans[i].status;
      p->exited_at = orphans[i].at;
      clock_gettime(CLOCK_MONOTONIC, &p->drain_deadline);
      p->drain_deadline.tv_sec += DRAIN_TIMEOUT_MS / 1000;
    }
  if (p->requester) send_result(p->requester, "pid", NULL, pid);
  if (p->exited) finish_proc(p);
  return;
fail_running:
  /* The process exists: let it be reaped as an unknown child. */
fail:
  if (p->requester) {
    send_result(p->requester, "error", err, 0);
    p->requester->closing = true;
    p->requester->target = NULL;
  }
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p) c->target = NULL, c->closing = true;
  proc_unlink(p);
  proc_release(p);
  exec_cleanup_dir(p->id);
  free(p);
}

/* ---- processes ending --------------------------------------------------- */

static bool container_done;
static struct timespec done_deadline; /* CLOCK_MONOTONIC: stop waiting for execs */

/*
 * Called whenever p may be finished: exited and its output drained (or the
 * drain deadline passed). Records the exit, tells the clients, forgets p.
 */
static void finish_proc(struct proc *p) {
  if (!p->exited || p->shim_pid) return;
  if (p->out_fd >= 0 || p->err_fd >= 0) {
    /* Paused by a slow attach client: still draining (the stall timeout
     * bounds that). */
    if (p->out_paused) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec < p->drain_deadline.tv_sec ||
        (now.tv_sec == p->drain_deadline.tv_sec && now.tv_nsec < p->drain_deadline.tv_nsec))
      return;
    logmsg("%s: output still open %d ms after exit; closing it", p->id[0] ? p->id : "init", DRAIN_TIMEOUT_MS);
  }
  char json[256], path[PATH_MAX];
  size_t len = exit_json(p, json, sizeof json);
  if (p == init_proc) path_join(path, sizeof path, state_dir, "exit");
  else exec_dir(path, sizeof path, p->id, "exit");
  int r = write_file_atomic(path, json, len);
  if (r < 0) logmsg("write %s: %s", path, strerror(-r));
  for (struct client *c = clients; c; c = c->next) {
    if (c->target == p && !c->closing) {
      send_frame(c, FRAME_EXIT, json, len - 1);
      if (c->pend_off < c->pend_len) c->flush_then_close = true, client_update_events(c);
      else c->closing = true;
    }
    /* p goes away: nothing may point at it any more. */
    if (c->target == p) c->target = NULL;
    if (c->blocked_proc == p) c->blocked_proc = NULL;
  }
  proc_release(p);
  if (p == init_proc) {
    container_done = true;
    /* exec'd processes die with the container's pid namespace; give their
     * exits a moment to be reaped and recorded before the monitor goes. */
    clock_gettime(CLOCK_MONOTONIC, &done_deadline);
    done_deadline.tv_sec += 1;
    return;
  }
  char pidfile[PATH_MAX];
  exec_dir(pidfile, sizeof pidfile, p->id, "pid");
  unlink(pidfile);
  proc_unlink(p);
  free(p);
}

static void reap_children(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    struct timespec now, mono;
    clock_gettime(CLOCK_REALTIME, &now);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    mono.tv_sec += DRAIN_TIMEOUT_MS / 1000;
    struct proc *p;
    for (p = procs; p; p = p->next) {
      if (p->shim_pid == pid) {
        exec_shim_done(p, status);
        break;
      }
      if (p->pid == pid && !p->exited) {
        p->exited = true;
        p->status = status;
        p->exited_at = now;
        p->drain_deadline = mono;
        /* The process is gone: nothing will read its stdin any more. */
        if (!p->terminal) close_fd(&p->in_fd);
        finish_proc(p);
        break;
      }
    }
    if (!p) {
      orphans[orphan_next].pid = pid;
      orphans[orphan_next].status = status;
      orphans[orphan_next].at = now;
      orphan_next = (orphan_next + 1) % ORPHAN_SLOTS;
    }
  }
}

/* ---- output and input --------------------------------------------------- */

static void on_output(struct proc *p, bool is_err) {
  int *fd = is_err ? &p->err_fd : &p->out_fd;
  ssize_t n = read(*fd, iobuf, sizeof iobuf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    /* EOF on a pipe; EIO on a pty master once no one holds the slave. */
    if (p->terminal && p->in_fd >= 0) close_fd(&p->in_fd);
    close_fd(fd);
    finish_proc(p);
    return;
  }
  if (p->exited) { /* still flowing: the drain deadline counts from the last output */
    clock_gettime(CLOCK_MONOTONIC, &p->drain_deadline);
    p->drain_deadline.tv_sec += DRAIN_TIMEOUT_MS / 1000;
  }
  if (p == init_proc && logging) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int r = crilog_write(&logw, is_err ? "stderr" : "stdout", (char *)iobuf, (size_t)n, &ts);
    if (r < 0) logmsg("write log %s: %s", logw.path, strerror(-r));
  }
  broadcast(p, is_err ? FRAME_STDERR : FRAME_STDOUT, iobuf, (size_t)n);
}

static void client_process(struct client *c);

static void stall(struct client *c) {
  struct proc *p = c->target;
  c->stalled = true;
  client_update_events(c);
  if (!p->in_wait_out) {
    /* A pty master is also registered for EPOLLIN as out_fd; the dup in_fd is
     * a separate epoll registration (epoll keys on the open file, the dup
     * shares it), so use EPOLL_CTL_ADD on the dup only if it differs. */
    if (ep_add(p->in_fd, EPOLLOUT, &p->ev_in) == 0 || errno == EEXIST) p->in_wait_out = true;
  }
}

static void on_stdin_writable(struct proc *p) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, p->in_fd, NULL);
  p->in_wait_out = false;
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p && c->stalled && !c->closing) {
      c->stalled = false;
      client_update_events(c);
      client_process(c);
    }
}

/* Handles one complete frame; false when the client must wait (stalled). */
static bool client_frame(struct client *c, const struct frame *f) {
  struct proc *p = c->target;
  if (!p) {
    if (f->type == FRAME_HELLO && f->len >= 1) {
      char id[EXEC_ID_MAX + 1];
      size_t idlen = f->len - 1;
      if (idlen > EXEC_ID_MAX) idlen = EXEC_ID_MAX;
      memcpy(id, f->payload + 1, idlen);
      id[idlen] = 0;
      struct proc *t = find_proc(id);
      if (!t) {
        char err[128];
        errf(err, sizeof err, "berth-monitor: no process %s", id[0] ? id : "init");
        send_result(c, "error", err, 0);
        c->closing = true;
        return true;
      }
      c->target = t;
      c->flags = f->payload[0];
      return true;
    }
    if (f->type == FRAME_EXEC) {
      start_exec(c, f->payload, f->len);
      return true;
    }
    c->closing = true;
    return true;
  }
  switch (f->type) {
  case FRAME_STDIN:
    if (p->in_fd < 0) return true; /* no stdin: dropped, as a closed pipe would */
    while (c->stdin_off < f->len) {
      ssize_t n = write(p->in_fd, f->payload + c->stdin_off, f->len - c->stdin_off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        stall(c);
        return false;
      }
      if (n < 0) { /* EPIPE, EIO: the reader is gone */
        if (!p->terminal) close_fd(&p->in_fd);
        break;
      }
      c->stdin_off += (size_t)n;
    }
    c->stdin_off = 0;
    return true;
  case FRAME_RESIZE:
    if (p->terminal && p->out_fd >= 0 && f->len == 4) {
      struct winsize ws = {.ws_col = (unsigned short)(f->payload[0] << 8 | f->payload[1]),
                           .ws_row = (unsigned short)(f->payload[2] << 8 | f->payload[3])};
      if (ioctl(p->out_fd, TIOCSWINSZ, &ws) < 0) logmsg("TIOCSWINSZ: %s", strerror(errno));
    }
    return true;
  case FRAME_CLOSE_STDIN:
    /* A pty has no separate stdin to close; the client sends ^D itself. */
    if (!p->terminal) close_fd(&p->in_fd);
    return true;
  default:
    c->closing = true;
    return true;
  }
}

static void client_process(struct client *c) {
  size_t off = 0;
  while (!c->closing && !c->stalled) {
    struct frame f;
    ssize_t n = frame_parse(c->in + off, c->inlen - off, FRAME_MAX_CLIENT_PAYLOAD, &f);
    if (n < 0) {
      c->closing = true;
      break;
    }
    if (n == 0) break;
    if (!client_frame(c, &f)) break;
    off += (size_t)n;
  }
  if (off) {
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
  }
}

static void on_client(struct client *c, uint32_t events) {
  if (c->closing) return;
  if (events & EPOLLOUT) client_flush(c);
  if (c->closing) return;
  if (events & EPOLLIN) {
    ssize_t n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      c->closing = true;
      return;
    }
    c->inlen += (size_t)n;
    client_process(c);
  } else if (events & (EPOLLHUP | EPOLLERR)) {
    c->closing = true;
  }
}

/*
 * Marks clients that made no progress for ATTACH_STALL_TIMEOUT_MS closing
 * (the caller frees them, which resumes their process's output) and returns
 * the ms until the next one would expire, or -1.
 */
static long expire_blocked_clients(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long best = -1;
  for (struct client *c = clients; c; c = c->next) {
    if (c->closing || c->pend_off == c->pend_len) continue;
    long waited = (now.tv_sec - c->blocked_since.tv_sec) * 1000 + (now.tv_nsec - c->blocked_since.tv_nsec) / 1000000;
    if (waited >= ATTACH_STALL_TIMEOUT_MS) {
      logmsg("attach client made no progress for %d ms: dropped", ATTACH_STALL_TIMEOUT_MS);
      c->closing = true;
      continue;
    }
    long left = ATTACH_STALL_TIMEOUT_MS - waited + 1;
    if (best < 0 || left < best) best = left;
  }
  return best;
}

static void on_listen(void) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      return;
    }
    int sndbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    c->fd = fd;
    c->ev = (struct ev){EV_CLIENT, c};
    if (ep_add(fd, EPOLLIN, &c->ev) < 0) {
      close(fd);
      free(c);
      continue;
    }
    c->next = clients;
    clients = c;
  }
}

/* ---- main --------------------------------------------------------------- */

static void usage(void) {
  fputs("usage: berth-monitor <state-dir> [--log-path P] [--log-max-size BYTES] [--log-max-files N]\n"
        "                     [--terminal] [--stdin] -- <shim argv...>\n",
        stderr);
  exit(2);
}

static unsigned long long parse_num(const char *flag, const char *v) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(v, &end, 10);
  if (errno || end == v || *end) {
    fprintf(stderr, "berth-monitor: %s wants a non-negative integer, got %s\n", flag, v);
    exit(2);
  }
  return n;
}

/*
 * Waits for the create shim with a deadline. SIGCHLD is blocked, so
 * sigtimedwait sleeps until some child changed state; the signal it takes may
 * also stand for a zombie init reparented to us, which is why the event loop
 * starts with a reaping sweep.
 */
static int wait_shim(pid_t shim, int *status, const sigset_t *mask) {
  struct timespec now, deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += CREATE_TIMEOUT_S;
  for (;;) {
    pid_t r = waitpid(shim, status, WNOHANG);
    if (r == shim) return 0;
    if (r < 0 && errno != EINTR) return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec left = {deadline.tv_sec - now.tv_sec, deadline.tv_nsec - now.tv_nsec};
    if (left.tv_nsec < 0) left.tv_sec--, left.tv_nsec += 1000000000L;
    if (left.tv_sec < 0) {
      kill(shim, SIGKILL);
      waitpid(shim, status, 0);
      return -1;
    }
    sigtimedwait(mask, NULL, &left);
  }
}

static int epoll_timeout(void) {
  long best = -1;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  for (struct proc *p = procs; p; p = p->next) {
    if (!p->exited || (p->out_fd < 0 && p->err_fd < 0)) continue;
    long ms = (p->drain_deadline.tv_sec - now.tv_sec) * 1000 + (p->drain_deadline.tv_nsec - now.tv_nsec) / 1000000 + 1;
    if (ms < 0) ms = 0;
    if (best < 0 || ms < best) best = ms;
  }
  long stall = expire_blocked_clients();
  if (stall >= 0 && (best < 0 || stall < best)) best = stall;
  /* Clients just marked closing must be freed before sleeping. */
  for (struct client *c = clients; c; c = c->next)
    if (c->closing) best = 0;
  if (container_done) {
    long ms = (done_deadline.tv_sec - now.tv_sec) * 1000 + (done_deadline.tv_nsec - now.tv_nsec) / 1000000 + 1;
    if (ms < 0) ms = 0;
    if (best < 0 || ms < best) best = ms;
  }
  return (int)best;
}

int main(int argc, char **argv) {
  const char *log_path = NULL;
  unsigned long long log_max_size = CRILOG_DEFAULT_MAX_SIZE, log_max_files = CRILOG_DEFAULT_MAX_FILES;
  bool terminal = false, want_stdin = false;
  int i = 1;
  if (argc < 2 || argv[1][0] == '-') usage();
  state_dir = argv[i++];
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    } else if (strcmp(a, "--terminal") == 0) terminal = true;
    else if (strcmp(a, "--stdin") == 0) want_stdin = true;
    else if (i + 1 < argc && strcmp(a, "--log-path") == 0) log_path = argv[++i];
    else if (i + 1 < argc && strcmp(a, "--log-max-size") == 0) log_max_size = parse_num(a, argv[++i]);
    else if (i + 1 < argc && strcmp(a, "--log-max-files") == 0) log_max_files = parse_num(a, argv[++i]);
    else usage();
  }
  if (i >= argc) usage();
  shim_argv = argv + i;
  if (shim_argv[0][0] != '/') {
    fprintf(stderr, "berth-monitor: the shim path must be absolute, got %s\n", shim_argv[0]);
    exit(2);
  }
  if (log_max_files < 1 || log_max_files > 1000) {
    fprintf(stderr, "berth-monitor: --log-max-files wants 1..1000, got %llu\n", log_max_files);
    exit(2);
  }
  struct stat st;
  if (state_dir[0] != '/' || stat(state_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "berth-monitor: state dir %s must be an existing absolute directory\n", state_dir);
    exit(2);
  }
  char path[PATH_MAX], console[PATH_MAX], pidfile[PATH_MAX], monpid[PATH_MAX];
  if (path_join(attach_path, sizeof attach_path, state_dir, "attach.sock") < 0 ||
      strlen(attach_path) >= sizeof((struct sockaddr_un *)0)->sun_path) {
    fprintf(stderr, "berth-monitor: state dir %s is too long for a unix socket path (max 95 bytes)\n", state_dir);
    exit(2);
  }
  path_join(console, sizeof console, state_dir, "console.sock");
  path_join(pidfile, sizeof pidfile, state_dir, "pid");
  path_join(monpid, sizeof monpid, state_dir, "monitor.pid");

  /* Whatever the caller leaked beyond stdio is not ours to hold open. */
  close_range(3, ~0U, 0);

  /* Daemonize: the first child leads a new session, the second can never
   * reacquire a controlling terminal; the caller's child exits at once so
   * the caller can reap it and go on reading the sync line from stdout. */
  pid_t pid = fork();
  if (pid < 0) {
    perror("berth-monitor: fork");
    exit(1);
  }
  if (pid > 0) _exit(0);
  setsid();
  pid = fork();
  if (pid < 0) _exit(1);
  if (pid > 0) _exit(0);
  path_join(path, sizeof path, state_dir, "monitor.log");
  int null = open("/dev/null", O_RDWR);
  int logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  dup2(null, 0);
  dup2(logfd >= 0 ? logfd : null, 2);
  close(null);
  if (logfd >= 0) close(logfd);
  if (chdir("/") < 0) _exit(1);
  umask(022);
  /* Before anything can write to the sync pipe: a caller that died must not
   * kill the monitor with SIGPIPE (EPIPE is enough). */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);

  char err[512];
  char buf[64];
  int n = snprintf(buf, sizeof buf, "%d\n", getpid());
  protect_from_oom();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
    errf(err, sizeof err, "berth-monitor: PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
    goto fail_early;
  }
  int r = write_file_atomic(monpid, buf, (size_t)n);
  if (r < 0) {
    errf(err, sizeof err, "berth-monitor: write %s: %s", monpid, strerror(-r));
    goto fail_early;
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (sigfd < 0 || epfd < 0) {
    errf(err, sizeof err, "berth-monitor: signalfd/epoll: %s", strerror(errno));
    goto fail;
  }

  if (log_path) {
    r = crilog_open(&logw, log_path, log_max_size, (unsigned)log_max_files);
    if (r < 0) {
      errf(err, sizeof err, "berth-monitor: open log %s: %s", log_path, strerror(-r));
      goto fail;
    }
    logging = true;
  }

  init_proc = procs = proc_new("");
  int child[3];
  r = init_proc ? prepare_stdio(init_proc, terminal, want_stdin, console, child) : -ENOMEM;
  if (r < 0) {
    errf(err, sizeof err, "berth-monitor: container stdio: %s", strerror(-r));
    goto fail;
  }
  /* The shim's argv plus the console socket it sends the pty master to. */
  int sargc = 0;
  while (shim_argv[sargc]) sargc++;
  char **sargv = calloc((size_t)sargc + 3, sizeof *sargv);
  if (!sargv) {
    close_child_fds(child);
    errf(err, sizeof err, "berth-monitor: out of memory");
    goto fail;
  }
  memcpy(sargv, shim_argv, (size_t)sargc * sizeof *sargv);
  if (terminal) sargv[sargc++] = "--console-socket", sargv[sargc++] = console;
  pid_t shim = spawn(sargv, child);
  free(sargv);
  close_child_fds(child);
  if (shim < 0) {
    errf(err, sizeof err, "berth-monitor: fork: %s", strerror(errno));
    goto fail;
  }
  /* The shim is quick (it returns once init waits before execve), and
   * nothing else is running yet, so a blocking wait is enough; bounded, so a
   * hung shim fails the create instead of hanging the driver. */
  int status;
  if (wait_shim(shim, &status, &mask) < 0) {
    errf(err, sizeof err, "berth-monitor: shim create did not finish in %d s; killed it", CREATE_TIMEOUT_S);
    goto fail;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    shim_failure(init_proc->shim_err_fd, status, "shim create", err, sizeof err);
    goto fail;
  }
  pid = read_pid_file(pidfile);
  if (pid < 0) {
    errf(err, sizeof err, "berth-monitor: read %s after shim create: %s", pidfile, strerror(-pid));
    goto fail;
  }
  init_proc->pid = pid;
  r = activate(init_proc, console);
  if (r < 0) {
    errf(err, sizeof err, "berth-monitor: container terminal: %s", strerror(-r));
    kill(pid, SIGKILL);
    goto fail;
  }
  listen_fd = listen_unix(attach_path, 16);
  if (listen_fd < 0) {
    errf(err, sizeof err, "berth-monitor: listen %s: %s", attach_path, strerror(-listen_fd));
    kill(pid, SIGKILL);
    goto fail;
  }
  ep_add(listen_fd, EPOLLIN, &ev_listen);
  ep_add(sigfd, EPOLLIN, &ev_signal);
  n = snprintf(buf, sizeof buf, "{\"pid\":%d}\n", pid);
  sync_report(buf);
  reap_children();

  for (;;) {
    if (container_done) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      bool flushing = false;
      for (struct client *c = clients; c; c = c->next)
        if (c->flush_then_close && !c->closing) flushing = true;
      bool execs_done = !procs->next || now.tv_sec > done_deadline.tv_sec ||
                        (now.tv_sec == done_deadline.tv_sec && now.tv_nsec >= done_deadline.tv_nsec);
      /* Clients still taking their last output are bounded by the stall timeout. */
      if (execs_done && !flushing) break;
    }
    struct epoll_event evs[16];
    int nev = epoll_wait(epfd, evs, 16, epoll_timeout());
    if (nev < 0 && errno != EINTR) {
      logmsg("epoll_wait: %s", strerror(errno));
      break;
    }
    for (int k = 0; k < nev; k++) {
      struct ev *ev = evs[k].data.ptr;
      switch (ev->kind) {
      case EV_SIGNAL: {
        struct signalfd_siginfo si;
        while (read(sigfd, &si, sizeof si) > 0) {
        }
        reap_children();
        break;
      }
      case EV_LISTEN: on_listen(); break;
      case EV_CLIENT: on_client(ev->obj, evs[k].events); break;
      case EV_OUT: if (((struct proc *)ev->obj)->out_fd >= 0) on_output(ev->obj, false); break;
      case EV_ERR: if (((struct proc *)ev->obj)->err_fd >= 0) on_output(ev->obj, true); break;
      case EV_IN: if (((struct proc *)ev->obj)->in_fd >= 0) on_stdin_writable(ev->obj); break;
      }
      /* An event handled earlier in this batch may have freed what a later
       * one points at (an exec finishing frees its proc); procs are only
       * freed in finish_proc/exec_shim_done, which run from EV_SIGNAL or from
       * output EOF of that same proc, so stop the batch after those. */
      if (ev->kind == EV_SIGNAL || ev->kind == EV_OUT || ev->kind == EV_ERR) {
        reap_clients();
        break;
      }
    }
    reap_clients();
    for (struct proc *p = procs, *next; p; p = next) {
      next = p->next;
      if (p->exited && (p->out_fd >= 0 || p->err_fd >= 0)) finish_proc(p);
    }
  }
  reap_clients();
  unlink(attach_path);
  unlink(monpid);
  if (logging) crilog_close(&logw);
  return 0;

fail:
  sync_error(err);
  logmsg("%s", err);
  if (listen_fd >= 0) unlink(attach_path);
  unlink(console);
  unlink(monpid);
  return 1;
fail_early:
  sync_error(err);
  logmsg("%s", err);
  return 1;
}
