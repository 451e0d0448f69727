/* The event loop (loop.h): the epoll set, its helpers and the monitor's log lines. */
#include "loop.h"
#include "crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static int epfd = -1;

int loop_init(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  return epfd < 0 ? -errno : 0;
}

void set_nonblock(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int ep_add(int fd, uint32_t events, struct ev *ev) {
  struct epoll_event e = {.events = events, .data.ptr = ev};
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

void ep_mod(int fd, uint32_t events, struct ev *ev) {
  struct epoll_event e = {.events = events, .data.ptr = ev};
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &e);
}

void ep_del(int fd) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
}

void close_fd(int *fd) {
  if (*fd >= 0) {
    ep_del(*fd);
    close(*fd);
  }
  *fd = -1;
}

int loop_wait(int timeout_ms) {
  struct epoll_event evs[16];
  int nev = epoll_wait(epfd, evs, 16, timeout_ms);
  if (nev < 0) return errno == EINTR ? 0 : -1;
  for (int k = 0; k < nev; k++) {
    struct ev *ev = evs[k].data.ptr;
    if (ev->handle(ev, evs[k].events)) break;
  }
  return 0;
}

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
