/*
 * berth-monitor's entry: arguments, daemonizing, the create/sync protocol and
 * the event loop. The top of the layers monitor.h draws: it installs the
 * hooks that carry process and exec events up to the attach clients.
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

/* SIGCHLD, as a readable fd: every child that changed state is reaped. */
static int sigfd = -1;

static bool on_signal(struct ev *ev, uint32_t events) {
  (void)ev, (void)events;
  struct signalfd_siginfo si;
  while (read(sigfd, &si, sizeof si) > 0) {
  }
  reap_children();
  return true; /* reaping may free processes other events of the batch point at */
}

static struct ev ev_signal = {on_signal, NULL};

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
  long best = proc_timeout_ms(), clients_ms = attach_timeout_ms();
  if (clients_ms >= 0 && (best < 0 || clients_ms < best)) best = clients_ms;
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
    } else if (strcmp(a, "--terminal") == 0)
      terminal = true;
    else if (strcmp(a, "--stdin") == 0)
      want_stdin = true;
    else if (i + 1 < argc && strcmp(a, "--oom-file") == 0) {
      if (n_oom_files == OOM_FILES_MAX) {
        fprintf(stderr, "berth-monitor: at most %d --oom-file\n", OOM_FILES_MAX);
        exit(2);
      }
      oom_files[n_oom_files++] = argv[++i];
    } else if (i + 1 < argc && strcmp(a, "--log-path") == 0)
      log_path = argv[++i];
    else if (i + 1 < argc && strcmp(a, "--log-max-size") == 0)
      log_max_size = parse_num(a, argv[++i]);
    else if (i + 1 < argc && strcmp(a, "--log-max-files") == 0)
      log_max_files = parse_num(a, argv[++i]);
    else
      usage();
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
  sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sigfd < 0 || loop_init() < 0) {
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

  exec_init();
  attach_init();
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
  r = attach_listen();
  if (r < 0) {
    errf(err, sizeof err, "berth-monitor: listen %s: %s", attach_path, strerror(-r));
    kill(pid, SIGKILL);
    goto fail;
  }
  ep_add(sigfd, EPOLLIN, &ev_signal);
  n = snprintf(buf, sizeof buf, "{\"pid\":%d}\n", pid);
  sync_report(buf);
  reap_children();

  for (;;) {
    if (container_done) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      bool execs_done = !procs->next || now.tv_sec > done_deadline.tv_sec ||
                        (now.tv_sec == done_deadline.tv_sec && now.tv_nsec >= done_deadline.tv_nsec);
      /* Clients still taking their last output are bounded by the stall timeout. */
      if (execs_done && !attach_flushing()) break;
    }
    if (loop_wait(epoll_timeout()) < 0) {
      logmsg("epoll_wait: %s", strerror(errno));
      break;
    }
    reap_clients();
    finish_drained();
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
