/*
 * Exec'd processes: FRAME_EXEC starts `<shim> exec` without blocking the
 * loop; its exit (reaped in process.c) completes the request.
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

struct proc *find_proc(const char *id) {
  for (struct proc *p = procs; p; p = p->next)
    if (strcmp(p->id, id) == 0) return p;
  return NULL;
}

void exec_dir(char *out, size_t cap, const char *id, const char *file) {
  if (file) snprintf(out, cap, "%s/exec/%s/%s", state_dir, id, file);
  else snprintf(out, cap, "%s/exec/%s", state_dir, id);
}

/*
 * An exec's console socket sits in the state dir under a short name: its
 * exec dir (<state>/exec/<64-hex id>/) is far past the 107 bytes a unix
 * socket path may have. The name is no longer than attach.sock's.
 */
static void exec_console_path(char *out, size_t cap, const struct proc *p) {
  snprintf(out, cap, "%s/e%u.sock", state_dir, p->console_seq);
}

void exec_cleanup_dir(const char *id) {
  char path[PATH_MAX];
  static const char *files[] = {"pid", "exit"};
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    exec_dir(path, sizeof path, id, files[i]);
    unlink(path);
  }
  exec_dir(path, sizeof path, id, NULL);
  rmdir(path);
}

void proc_unlink(struct proc *p) {
  for (struct proc **pp = &procs; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
}

/* Handles FRAME_EXEC: u8 flags, exec id, NUL, exec-config path. */
void start_exec(struct client *c, const uint8_t *payload, size_t len) {
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
  static unsigned console_seq;
  struct proc *p = proc_new(id);
  if (p) {
    p->console_seq = console_seq++ % 100000;
    exec_console_path(console, sizeof console, p);
    unlink(console); /* a stale one from a crashed monitor */
  }
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
  clock_gettime(CLOCK_MONOTONIC, &p->shim_deadline);
  p->shim_deadline.tv_sec += CREATE_TIMEOUT_S;
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
    unlink(console);
    free(p);
  }
  exec_cleanup_dir(id);
  send_result(c, "error", err, 0);
  c->closing = true;
}

/* A `shim exec` exited: the exec'd process runs (status 0) or never will. */
void exec_shim_done(struct proc *p, int status) {
  char err[512], pidfile[PATH_MAX], console[PATH_MAX];
  p->shim_pid = 0;
  exec_dir(pidfile, sizeof pidfile, p->id, "pid");
  exec_console_path(console, sizeof console, p);
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
  int early_status;
  struct timespec early_at;
  if (orphan_take(pid, &early_status, &early_at)) mark_exited(p, early_status, &early_at);
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
  unlink(console);
  exec_cleanup_dir(p->id);
  free(p);
}
