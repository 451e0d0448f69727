/*
 * The exec lifecycle (exec.c over process.c, through attach.c): an EXEC
 * request starts `<shim> exec` (here a shell stand-in that runs the
 * exec-config as a script in the background and writes its pid), the
 * requester gets the pid, the process's stdout and stderr, then its exit
 * record, which is also the exec's exit file; the process is reaped and
 * forgotten. A shim that fails reports its error line and leaves no exec
 * dir; an exec id cannot be used twice.
 */
#include "monitor_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tap.h"

static const char fake_shim[] = "#!/bin/sh\n"
                                "# berth-shim exec <state> <exec-config> --pid-file <file>, for the test\n"
                                "case \"$3\" in *fail*) echo 'berth-shim: exec: no such file' >&2; exit 1;; esac\n"
                                "/bin/sh \"$3\" &\n"
                                "echo $! > \"$5\"\n";

static void write_file(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) perror(path);
  close(fd);
}

/* What a client saw of one exec: its RESULT, output and EXIT, and whether it then read EOF. */
struct seen {
  char result[256], out[256], err[256], exit[256];
  bool eof;
};

static void run_exec(const char *id, const char *cfg, struct seen *s) {
  memset(s, 0, sizeof *s);
  struct peer *p = peer_connect(0);
  uint8_t req[512];
  size_t idlen = strlen(id), cfglen = strlen(cfg);
  req[0] = 0; /* no terminal, no stdin */
  memcpy(req + 1, id, idlen + 1);
  memcpy(req + 2 + idlen, cfg, cfglen);
  peer_send(p, FRAME_EXEC, req, 2 + idlen + cfglen);
  for (int i = 0; i < 1000 && !s->eof; i++) {
    turn(20);
    uint8_t type;
    char frame[256];
    size_t len;
    int r;
    while ((r = peer_frame(p, &type, frame, sizeof frame, &len)) == 1) {
      char *into = type == FRAME_RESULT   ? s->result
                   : type == FRAME_STDOUT ? s->out
                   : type == FRAME_STDERR ? s->err
                                          : s->exit;
      strncat(into, frame, sizeof s->out - strlen(into) - 1);
    }
    if (r < 0) s->eof = true;
  }
  close(p->fd);
  free(p);
  for (int i = 0; i < 5; i++) turn(10); /* the monitor sees the close */
}

int main(void) {
  char dir[] = "/tmp/berth-exec-XXXXXX", shim[PATH_MAX], cfg[PATH_MAX], fail[PATH_MAX], path[PATH_MAX];
  if (!harness_setup(dir)) return 1;
  /* The exec'd process is the shim's child: it must be reparented to us, as to the monitor. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  path_join(shim, sizeof shim, dir, "shim");
  path_join(cfg, sizeof cfg, dir, "exec.sh");
  path_join(fail, sizeof fail, dir, "fail.sh");
  write_file(shim, fake_shim, 0700);
  write_file(cfg, "echo hello; echo oops >&2; exit 7\n", 0600);
  char *argv[] = {shim, NULL};
  shim_argv = argv;
  init_proc = procs = proc_new(""); /* a running container: exec needs init not exited */

  struct seen s;
  run_exec("e1", cfg, &s);
  long pid = 0;
  CHECK(sscanf(s.result, "{\"pid\":%ld}", &pid) == 1 && pid > 0, "the requester gets the exec'd pid (%s)", s.result);
  CHECK(strcmp(s.out, "hello\n") == 0 && strcmp(s.err, "oops\n") == 0, "its stdout and stderr arrive apart");
  CHECK(strstr(s.exit, "{\"exitCode\":7,\"signal\":0,") == s.exit, "the exit record has its exit code (%s)", s.exit);
  CHECK(s.eof, "the client reads EOF after the exit record");
  char exitfile[512] = "";
  exec_dir(path, sizeof path, "e1", "exit");
  int fd = open(path, O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, exitfile, sizeof exitfile - 1) : -1;
  if (fd >= 0) close(fd);
  CHECK(n > 0 && strncmp(exitfile, s.exit, strlen(s.exit)) == 0, "the exit file holds the same record");
  exec_dir(path, sizeof path, "e1", "pid");
  CHECK(access(path, F_OK) < 0 && errno == ENOENT, "the pid file is gone");
  CHECK(find_proc("e1") == NULL && procs == init_proc && !init_proc->next, "the monitor forgot the process");
  CHECK(kill((pid_t)pid, 0) < 0 && errno == ESRCH, "the process was reaped (no zombie left)");

  run_exec("e2", fail, &s);
  CHECK(strcmp(s.result, "{\"error\":\"berth-shim: exec: no such file\"}") == 0,
        "a failed shim's error line reaches the requester (%s)", s.result);
  CHECK(s.eof && s.exit[0] == 0, "then the connection closes, with no exit record");
  exec_dir(path, sizeof path, "e2", NULL);
  CHECK(access(path, F_OK) < 0 && find_proc("e2") == NULL, "a failed exec leaves no dir and no process");

  run_exec("e1", cfg, &s);
  CHECK(strstr(s.result, "cannot be reused") != NULL && s.eof, "an exec id cannot be used twice (%s)", s.result);
  CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "no child is left unreaped");

  harness_cleanup(dir);
  return tap_done();
}
