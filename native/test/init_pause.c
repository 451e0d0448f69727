/*
 * berth-init --pause (a pod sandbox's process): it stays up until SIGTERM or
 * SIGINT, then exits 0. Runs build/berth-init (`make -C native test` runs
 * from native/).
 */
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether pid sleeps in sigtimedwait/sigwaitinfo (/proc/<pid>/wchan): --pause
 * is then past blocking its signals (the wait unblocks them for its length,
 * so SigBlk does not show them). */
static bool waiting(pid_t p) {
  char path[64], wchan[64] = "";
  snprintf(path, sizeof path, "/proc/%d/wchan", (int)p);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  if (!fgets(wchan, sizeof wchan, f)) wchan[0] = 0;
  fclose(f);
  return strstr(wchan, "sigtimedwait") != NULL;
}

int main(void) {
  for (int round = 0; round < 2; round++) {
    int sig = round == 0 ? SIGTERM : SIGINT;
    pid_t p = fork();
    if (p == 0) {
      execl("build/berth-init", "berth-init", "--pause", (char *)NULL);
      _exit(127);
    }
    /* A signal before it blocks them would kill it with the default action. */
    for (int i = 0; i < 10000 && !waiting(p); i++) usleep(1000);
    CHECK(waiting(p), "--pause waits for a signal (before %s)", strsignal(sig));
    int st = 0;
    CHECK(waitpid(p, &st, WNOHANG) == 0, "--pause stays up");
    kill(p, sig);
    pid_t w;
    while ((w = waitpid(p, &st, 0)) < 0 && errno == EINTR)
      ;
    CHECK(w == p && WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: exits 0 (status %#x)", strsignal(sig), st);
  }
  return tap_done();
}
