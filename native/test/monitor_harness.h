/*
 * monitor_harness.h - drives berth-monitor's layers (all of src/monitor but
 * main.c) inside a test process, for the tests of attach and exec: a state
 * dir under /tmp, the hooks installed as main.c installs them, clients
 * connected through socketpairs, and one turn of main's loop at a time
 * (reaping by polling instead of main's SIGCHLD signalfd).
 */
#ifndef BERTH_TEST_MONITOR_HARNESS_H
#define BERTH_TEST_MONITOR_HARNESS_H

#include "../src/monitor/monitor.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The test's end of a client connection the monitor serves. */
struct peer {
  int fd;
  struct client *c;
  size_t len;
  uint8_t buf[1 << 16];
};

/* mkdtemp(dir) as the state dir, the loop and the hooks; false on failure. */
static inline bool harness_setup(char *dir) {
  if (!mkdtemp(dir)) return perror("mkdtemp"), false;
  state_dir = dir;
  if (loop_init() < 0) return perror("epoll"), false;
  exec_init();
  attach_init();
  return true;
}

/* A client served by the monitor; sndbuf > 0 caps the monitor side's send buffer. */
static inline struct peer *peer_connect(int sndbuf) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) return NULL;
  if (sndbuf > 0) {
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf);
  }
  struct peer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->fd = sv[1];
  p->c = client_add(sv[0]);
  return p->c ? p : NULL;
}

static inline void peer_send(struct peer *p, uint8_t type, const void *data, size_t len) {
  uint8_t hdr[FRAME_HEADER_LEN];
  frame_header(hdr, type, (uint32_t)len);
  if (write(p->fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr || (len && write(p->fd, data, len) != (ssize_t)len))
    perror("peer_send");
}

/*
 * The next frame the monitor sent to p, if whole: 1 (type, payload copied
 * NUL-terminated into out, *len), 0 when none is complete yet, -1 at EOF.
 */
static inline int peer_frame(struct peer *p, uint8_t *type, char *out, size_t cap, size_t *len) {
  for (;;) {
    struct frame f;
    ssize_t used = frame_parse(p->buf, p->len, FRAME_MAX_PAYLOAD, &f);
    if (used > 0) {
      size_t n = f.len < cap - 1 ? f.len : cap - 1;
      *type = f.type;
      memcpy(out, f.payload, n);
      out[n] = 0;
      *len = f.len;
      memmove(p->buf, p->buf + used, p->len - (size_t)used);
      p->len -= (size_t)used;
      return 1;
    }
    if (used < 0) return -1;
    ssize_t n = read(p->fd, p->buf + p->len, sizeof p->buf - p->len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n <= 0) return -1;
    p->len += (size_t)n;
  }
}

/* One turn of main's loop: deadlines, at most max_ms of waiting, reaping, freeing, finishing. */
static inline void turn(int max_ms) {
  long t = proc_timeout_ms(), c = attach_timeout_ms();
  if (c >= 0 && (t < 0 || c < t)) t = c;
  if (t < 0 || t > max_ms) t = max_ms;
  loop_wait((int)t);
  reap_children();
  reap_clients();
  finish_drained();
}

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path) < 0 ? -1 : 0;
}

/* Removes the state dir and everything in it. */
static inline void harness_cleanup(const char *dir) {
  nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int count_clients(void) {
  int n = 0;
  for (struct client *c = clients; c; c = c->next) n++;
  return n;
}

#endif
