/*
 * Exec'd processes (exec.h): FRAME_EXEC starts `<shim> exec` without blocking
 * the loop; its exit (reaped in process.c, the shim_exited hook) completes
 * the request, reported to the requester through exec_hooks.
 */
#include "exec.h"
#include "frame.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct exec_hooks exec_hooks;

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

struct proc *start_exec(void *requester, const uint8_t *payload, size_t len, char *err, size_t cap) {
  if (len < 2) {
    errf(err, cap, "berth-monitor: exec request too short");
    return NULL;
  }
  uint8_t flags = payload[0];
  const char *id = (const char *)payload + 1;
  const char *nul = memchr(id, 0, len - 1);
  if (!nul || !valid_exec_id(id, (size_t)(nul - id))) {
    errf(err, cap, "berth-monitor: exec id must be 1-64 of [A-Za-z0-9_.-]");
    return NULL;
  }
  size_t cfglen = len - 1 - (size_t)(nul - id) - 1;
  char cfg[PATH_MAX];
  if (cfglen == 0 || cfglen >= sizeof cfg) {
    errf(err, cap, "berth-monitor: exec request has no exec-config path");
    return NULL;
  }
  memcpy(cfg, nul + 1, cfglen);
  cfg[cfglen] = 0;
  if (init_proc->exited) {
    errf(err, cap, "berth-monitor: the container has exited");
    return NULL;
  }
  if (find_proc(id)) {
    errf(err, cap, "berth-monitor: exec id %s is in use", id);
    return NULL;
  }
  char dir[PATH_MAX], pidfile[PATH_MAX], console[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/exec", state_dir);
  mkdir(dir, 0700);
  exec_dir(dir, sizeof dir, id, NULL);
  if (mkdir(dir, 0700) < 0) {
    errf(err, cap, "berth-monitor: mkdir %s: %s (exec ids cannot be reused)", dir, strerror(errno));
    return NULL;
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
    errf(err, cap, "berth-monitor: exec %s stdio: %s", id, strerror(-r));
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
    errf(err, cap, "berth-monitor: fork: %s", strerror(errno));
    goto fail;
  }
  p->next = procs->next; /* after init */
  procs->next = p;
  p->requester = requester;
  return p;
fail:
  if (p) {
    proc_release(p);
    unlink(console);
    free(p);
  }
  exec_cleanup_dir(id);
  return NULL;
}

/* A `shim exec` exited (the shim_exited hook): the exec'd process runs (status 0) or never will. */
static void exec_shim_done(struct proc *p, int status) {
  char err[512], pidfile[PATH_MAX], console[PATH_MAX];
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
  if (exec_hooks.started) exec_hooks.started(p->requester, p);
  if (p->exited) finish_proc(p);
  return;
fail_running:
  /* The process exists: let it be reaped as an unknown child. */
fail:
  if (exec_hooks.failed) exec_hooks.failed(p->requester, p, err);
  proc_unlink(p);
  proc_release(p);
  unlink(console);
  exec_cleanup_dir(p->id);
  free(p);
}

void exec_init(void) {
  proc_hooks.shim_exited = exec_shim_done;
}
