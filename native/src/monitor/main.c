/*
 * berth-monitor's entry: arguments, daemonizing, the create/sync protocol and
 * the event loop. See monitor.h for the interface and the state shared by
 * process.c (children, stdio, exits), attach.c (clients) and exec.c.
 */
#include "monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
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

const char *state_dir;
char **shim_argv;
int epfd = -1;
struct proc *procs;
struct proc *init_proc;
struct client *clients;
struct crilog logw;
bool logging;
int listen_fd = -1;
char attach_path[PATH_MAX];
static struct ev ev_signal = {EV_SIGNAL, NULL}, ev_listen = {EV_LISTEN, NULL};

void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void logmsg(const char *fmt, ...) {
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

void errf(char *out, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out, cap, fmt, ap);
  va_end(ap);
}

int ep_add(int fd, uint32_t events, struct ev *ev) {
  struct epoll_event e = {.events = events, .data.ptr = ev};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

void ep_mod(int fd, uint32_t events, struct ev *ev) {
  struct epoll_event e = {.events = events, .data.ptr = ev};
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e);
}

void close_fd(int *fd) {
  if (*fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, *fd, NULL);
    close(*fd);
  }
  *fd = -1;
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

/* ---- main --------------------------------------------------------------- */

static void usage(void) {
  fputs("usage: berth-monitor <state-dir> [--log-path P] [--log-max-size BYTES] [--log-max-files N]\n"
        "                     [--oom-file <memory.events|memory.oom_control>]...\n"
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
    else if (i + 1 < argc && strcmp(a, "--oom-file") == 0) {
      if (n_oom_files == OOM_FILES_MAX) {
        fprintf(stderr, "berth-monitor: at most %d --oom-file\n", OOM_FILES_MAX);
        exit(2);
      }
      oom_files[n_oom_files++] = argv[++i];
    }
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
  /* Not longer than attach.sock: a unix socket path has 107 bytes. */
  path_join(console, sizeof console, state_dir, "tty.sock");
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
  int logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  dup2(null, 0);
  dup2(logfd >= 0 ? logfd : null, 2);
  close(null);
  if (logfd >= 0) close(logfd);
  if (chdir("/") < 0) _exit(1);
  /* The container inherits this umask (022, as Docker's); our own files are
   * created with explicit modes (0600: logs, exit records). */
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
  int r = atomic_write_file(monpid, buf, (size_t)n, 0600, 0);
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
        if ((c->flush_then_close || c->lingering) && !c->closing) flushing = true;
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
