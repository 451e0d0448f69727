/*
 * OOM kills, from the cgroup's own counter: "oom_kill N" in memory.events
 * (cgroup v2) or memory.oom_control (v1, kernel >= 4.13). The driver names
 * the files (--oom-file, from the cgroups the container joins); the monitor
 * reads the counters when a process starts and when it exits, and reports
 * oomKilled = the count went up. With no files it stays unknown (null).
 * Counting, not eventfd notification: nothing to watch while idle, and a
 * kill that happened while nobody listened is still seen.
 */
#include "process.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *oom_files[OOM_FILES_MAX];
int n_oom_files;

/* "oom_kill N" in one file; -1 if the file or the line is missing. */
static long read_oom_kill(const char *path) {
  char buf[1024];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (strncmp(line, "oom_kill ", 9) == 0) return strtol(line + 9, NULL, 10);
  }
  return -1;
}

long oom_kill_count(void) {
  long sum = -1;
  for (int i = 0; i < n_oom_files; i++) {
    long v = read_oom_kill(oom_files[i]);
    if (v >= 0) sum = (sum < 0 ? 0 : sum) + v;
  }
  return sum;
}

void mark_exited(struct proc *p, int status, const struct timespec *at) {
  p->exited = true;
  p->status = status;
  p->exited_at = *at;
  long now = oom_kill_count();
  p->oom_killed = p->oom_base < 0 || now < 0 ? -1 : now > p->oom_base;
  clock_gettime(CLOCK_MONOTONIC, &p->drain_deadline);
  p->drain_deadline.tv_sec += DRAIN_TIMEOUT_MS / 1000;
}
