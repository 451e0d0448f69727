/*
 * The processes the monitor parents (process.h): their stdio (pipes or the
 * pty master from the console socket), spawning the shim, reaping, reading
 * their output into the log, and recording their exits. The layers above
 * hear of output, stdin and exits through proc_hooks.
 */
#include "process.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

struct proc_hooks proc_hooks;
const char *state_dir;
char **shim_argv;
struct proc *procs;
struct proc *init_proc;
struct crilog logw;
bool logging;
bool container_done;
struct timespec done_deadline;

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

bool orphan_take(pid_t pid, int *status, struct timespec *at) {
  for (unsigned i = 0; i < ORPHAN_SLOTS; i++)
    if (orphans[i].pid == pid) {
      orphans[i].pid = 0;
      *status = orphans[i].status;
      *at = orphans[i].at;
      return true;
    }
  return false;
}

/* The oom_score_adj the monitor's children (shims, hence containers) get: protect_from_oom(). */
static char oom_adj_orig[16] = "0";

static void on_output(struct proc *p, bool is_err);

/* epoll handlers of a process's fds; output EOF may free the process, so those end the batch. */
static bool on_out_ready(struct ev *ev, uint32_t events) {
  (void)events;
  struct proc *p = ev->obj;
  if (p->out_fd >= 0) on_output(p, false);
  return true;
}

static bool on_err_ready(struct ev *ev, uint32_t events) {
  (void)events;
  struct proc *p = ev->obj;
  if (p->err_fd >= 0) on_output(p, true);
  return true;
}

static bool on_stdin_writable(struct ev *ev, uint32_t events) {
  (void)events;
  struct proc *p = ev->obj;
  if (p->in_fd < 0) return false;
  ep_del(p->in_fd);
  p->in_wait_out = false;
  if (proc_hooks.stdin_ready) proc_hooks.stdin_ready(p, false);
  return false;
}

struct proc *proc_new(const char *id) {
  struct proc *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  snprintf(p->id, sizeof p->id, "%s", id);
  p->out_fd = p->err_fd = p->in_fd = p->shim_err_fd = p->console_fd = -1;
  p->oom_base = -1;
  p->oom_killed = -1;
  p->ev_out = (struct ev){on_out_ready, p};
  p->ev_err = (struct ev){on_err_ready, p};
  p->ev_in = (struct ev){on_stdin_writable, p};
  return p;
}

struct proc *find_proc(const char *id) {
  for (struct proc *p = procs; p; p = p->next)
    if (strcmp(p->id, id) == 0) return p;
  return NULL;
}

void proc_unlink(struct proc *p) {
  for (struct proc **pp = &procs; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
}

void exec_dir(char *out, size_t cap, const char *id, const char *file) {
  if (file)
    snprintf(out, cap, "%s/exec/%s/%s", state_dir, id, file);
  else
    snprintf(out, cap, "%s/exec/%s", state_dir, id);
}

/* ---- exit records ------------------------------------------------------- */

static size_t exit_json(const struct proc *p, char *out, size_t cap) {
  int code = 0, sig = 0;
  if (WIFEXITED(p->status))
    code = WEXITSTATUS(p->status);
  else if (WIFSIGNALED(p->status))
    sig = WTERMSIG(p->status), code = 128 + sig;
  char ts[CRILOG_TIMESTAMP_LEN + 1];
  format_rfc3339nano(ts, &p->exited_at);
  const char *oom = p->oom_killed < 0 ? "null" : p->oom_killed ? "true" : "false";
  int n =
      snprintf(out, cap, "{\"exitCode\":%d,\"signal\":%d,\"exitedAt\":\"%s\",\"oomKilled\":%s}\n", code, sig, ts, oom);
  return n < 0 ? 0 : (size_t)n;
}

static bool write_oom_score_adj(const char *value) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, value, strlen(value)) >= 0;
  close(fd);
  return ok;
}

/*
 * Like conmon, the monitor asks the OOM killer to spare it: it is tiny, and
 * killing it orphans the container and loses its exit code and output.
 * Children inherit the value, so spawn() sets theirs (monitor.md, "OOM
 * score"): with the monitor at -999 (the services at -500), a container
 * gets the value the monitor was started with, but never below 0 (Docker's
 * default). Lowering needs CAP_SYS_RESOURCE; where it is refused the
 * monitor and the services stay at 0, and the container is raised by 500
 * instead (raising needs no privilege), so the kernel still picks an
 * unlimited container before berth's own processes.
 */
void protect_from_oom(void) {
  int fd = open("/proc/self/oom_score_adj", O_RDONLY | O_CLOEXEC);
  int orig = 0;
  if (fd >= 0) {
    char buf[16];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    orig = atoi(buf);
    close(fd);
  }
  int child = orig < 0 ? 0 : orig;
  if (!write_oom_score_adj("-999")) child = child + 500 > 1000 ? 1000 : child + 500;
  snprintf(oom_adj_orig, sizeof oom_adj_orig, "%d", child);
}

/*
 * Execs path from a sealed memfd copy of it (the seals berth-shim's
 * cloned_binary.c requires): the shim then finds itself cloned and does not
 * copy and re-exec itself, which cost every create and exec a second exec
 * and dynamic link (2-3 ms at load 3-5). The defence is the same: the
 * executable of every shim process a container can see is a memfd no one
 * can write. Returns only when that failed; the caller then execs the path
 * and the shim clones itself.
 */
static void exec_sealed_copy(char *const argv[]) {
  extern char **environ;
  int exe = open(argv[0], O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (exe < 0) return;
  /* MFD_CLOEXEC: execveat of an ELF from a close-on-exec fd works, and the
   * shim must not inherit a handle on its own image. */
  int mfd = fstat(exe, &st) == 0 ? memfd_create("berth-shim", MFD_ALLOW_SEALING | MFD_CLOEXEC) : -1;
  off_t off = 0;
  while (mfd >= 0 && off < st.st_size) {
    ssize_t n = sendfile(mfd, exe, NULL, (size_t)(st.st_size - off));
    if (n <= 0) break;
    off += n;
  }
  close(exe);
  if (mfd < 0) return;
  if (off == st.st_size && fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0)
    syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
  close(mfd);
}

/*
 * Forks and execs argv (the shim) with fds[0..2] as stdio. The child gets a clean signal
 * state (the monitor blocks SIGCHLD and ignores SIGPIPE; both are inherited
 * across execve and would break the container's shell pipelines).
 */
pid_t spawn(char *const argv[], int fds[3]) {
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
    if (fds[i] == i)
      fcntl(i, F_SETFD, 0);
    else if (dup2(fds[i], i) < 0)
      _exit(127);
  }
  exec_sealed_copy(argv);
  execv(argv[0], argv);
  dprintf(2, "berth-monitor: exec %s: %s\n", argv[0], strerror(errno));
  _exit(127);
}

/* The shim's error line: the first line it wrote on stderr, or a status. */
void shim_failure(int err_fd, int status, const char *what, char *out, size_t cap) {
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
  if (WIFSIGNALED(status))
    snprintf(out, cap, "berth-monitor: %s killed by signal %d", what, WTERMSIG(status));
  else
    snprintf(out, cap, "berth-monitor: %s exited %d without a message", what, WEXITSTATUS(status));
}

int listen_unix(const char *path, int backlog) {
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
int prepare_stdio(struct proc *p, bool terminal, bool want_stdin, const char *console_path, int child[3]) {
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

void close_child_fds(int child[3]) {
  for (int i = 0; i < 3; i++)
    if (child[i] >= 0) close(child[i]);
}

/* After the shim succeeded: take the pty master, register p's fds. */
int activate(struct proc *p, const char *console_path) {
  p->oom_base = oom_kill_count();
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

void proc_release(struct proc *p) {
  if (p->shim_err_fd >= 0 && p->shim_err_fd != p->err_fd) close(p->shim_err_fd);
  p->shim_err_fd = -1;
  close_fd(&p->out_fd);
  close_fd(&p->err_fd);
  close_fd(&p->in_fd);
  if (p->console_fd >= 0) close(p->console_fd);
  p->console_fd = -1;
}

/*
 * Called whenever p may be finished: exited and its output drained (or the
 * drain deadline passed). Records the exit, tells the layers above
 * (proc_hooks.finished), forgets p.
 */
void finish_proc(struct proc *p) {
  if (!p->exited || p->shim_pid) return;
  if (p->out_fd >= 0 || p->err_fd >= 0) {
    /* Paused by a reader that cannot keep up: still draining (the stall timeout
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
  if (p == init_proc)
    path_join(path, sizeof path, state_dir, "exit");
  else
    exec_dir(path, sizeof path, p->id, "exit");
  int r = atomic_write_file(path, json, len, 0600, 0);
  if (r < 0) logmsg("write %s: %s", path, strerror(-r));
  /* p goes away: whoever points at it lets go here. */
  if (proc_hooks.finished) proc_hooks.finished(p, json, len);
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

void reap_children(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct proc *p;
    for (p = procs; p; p = p->next) {
      if (p->shim_pid == pid) {
        p->shim_pid = 0;
        if (proc_hooks.shim_exited) proc_hooks.shim_exited(p, status);
        break;
      }
      if (p->pid == pid && !p->exited) {
        mark_exited(p, status, &now);
        /* The process is gone: nothing will read its stdin any more. */
        if (!p->terminal) proc_close_stdin(p);
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

void finish_drained(void) {
  for (struct proc *p = procs, *next; p; p = next) {
    next = p->next;
    if (p->exited && (p->out_fd >= 0 || p->err_fd >= 0)) finish_proc(p);
  }
}

long proc_timeout_ms(void) {
  long best = -1;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  for (struct proc *p = procs; p; p = p->next) {
    if (p->shim_pid > 0) {
      long ms = (p->shim_deadline.tv_sec - now.tv_sec) * 1000 + (p->shim_deadline.tv_nsec - now.tv_nsec) / 1000000 + 1;
      if (ms <= 0) {
        /* A hung `shim exec`: kill it; its reaping fails the request. */
        logmsg("shim exec for %s did not finish in %d s; killing it", p->id, CREATE_TIMEOUT_S);
        kill(p->shim_pid, SIGKILL);
        p->shim_deadline.tv_sec += 3600; /* once */
        ms = 0;
      }
      if (best < 0 || ms < best) best = ms;
    }
    if (!p->exited || (p->out_fd < 0 && p->err_fd < 0)) continue;
    long ms = (p->drain_deadline.tv_sec - now.tv_sec) * 1000 + (p->drain_deadline.tv_nsec - now.tv_nsec) / 1000000 + 1;
    if (ms < 0) ms = 0;
    if (best < 0 || ms < best) best = ms;
  }
  if (container_done) {
    long ms = (done_deadline.tv_sec - now.tv_sec) * 1000 + (done_deadline.tv_nsec - now.tv_nsec) / 1000000 + 1;
    if (ms < 0) ms = 0;
    if (best < 0 || ms < best) best = ms;
  }
  return best;
}

/* ---- output and input --------------------------------------------------- */

/* Stops/starts reading p's output: the pipe (or pty) then fills and the
 * process blocks in write(), as it would with a slow terminal. */
static void set_output_paused(struct proc *p, bool paused) {
  if (p->out_paused == paused) return;
  p->out_paused = paused;
  if (p->out_fd >= 0) ep_mod(p->out_fd, paused ? 0 : EPOLLIN, &p->ev_out);
  if (p->err_fd >= 0) ep_mod(p->err_fd, paused ? 0 : EPOLLIN, &p->ev_err);
}

void proc_block_output(struct proc *p) {
  if (p->blocked++ == 0) set_output_paused(p, true);
}

void proc_unblock_output(struct proc *p) {
  if (--p->blocked == 0) set_output_paused(p, false);
}

void proc_wait_stdin(struct proc *p) {
  if (p->in_wait_out) return;
  /* A pty master is also registered for EPOLLIN as out_fd; the dup in_fd is
   * a separate epoll registration (epoll keys on the open file, the dup
   * shares it), so use EPOLL_CTL_ADD on the dup only if it differs. */
  if (ep_add(p->in_fd, EPOLLOUT, &p->ev_in) == 0 || errno == EEXIST) p->in_wait_out = true;
}

void proc_close_stdin(struct proc *p) {
  close_fd(&p->in_fd);
  p->in_wait_out = false;
  if (proc_hooks.stdin_ready) proc_hooks.stdin_ready(p, true);
}

void proc_resize(struct proc *p, unsigned short cols, unsigned short rows) {
  if (!p->terminal || p->out_fd < 0) return;
  struct winsize ws = {.ws_col = cols, .ws_row = rows};
  if (ioctl(p->out_fd, TIOCSWINSZ, &ws) < 0) logmsg("TIOCSWINSZ: %s", strerror(errno));
}

static void on_output(struct proc *p, bool is_err) {
  int *fd = is_err ? &p->err_fd : &p->out_fd;
  ssize_t n = read(*fd, iobuf, sizeof iobuf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    /* EOF on a pipe; EIO on a pty master once no one holds the slave. */
    if (p->terminal && p->in_fd >= 0) proc_close_stdin(p);
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
  if (is_err)
    p->err_bytes += (unsigned long long)n;
  else
    p->out_bytes += (unsigned long long)n;
  if (proc_hooks.output) proc_hooks.output(p, is_err, iobuf, (size_t)n);
}
