/*
 * Attach clients on <state-dir>/attach.sock: the frame protocol (frame.h),
 * output broadcast with backpressure, stdin with per-client stalls, resize.
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

static void client_process(struct client *c);

/* ---- clients ------------------------------------------------------------ */

void client_update_events(struct client *c) {
  uint32_t ev = (c->lingering || !(c->stalled || c->flush_then_close) ? EPOLLIN : 0) | (c->pend_off < c->pend_len ? EPOLLOUT : 0);
  ep_mod(c->fd, ev, &c->ev);
}

/* Stops/starts reading p's output: the pipe (or pty) then fills and the
 * process blocks in write(), as it would with a slow terminal. */
static void set_output_paused(struct proc *p, bool paused) {
  if (p->out_paused == paused) return;
  p->out_paused = paused;
  if (p->out_fd >= 0) ep_mod(p->out_fd, paused ? 0 : EPOLLIN, &p->ev_out);
  if (p->err_fd >= 0) ep_mod(p->err_fd, paused ? 0 : EPOLLIN, &p->ev_err);
}

static void client_unblock(struct client *c) {
  free(c->pend);
  c->pend = NULL;
  c->pend_len = c->pend_off = 0;
  struct proc *p = c->blocked_proc;
  c->blocked_proc = NULL;
  if (p && --p->blocked == 0) set_output_paused(p, false);
}

/*
 * Sends a frame without blocking. What the socket does not take is kept and
 * the client's process stops being read until the client catches up (Docker's
 * attach semantics: a slow reader slows the container, nothing is lost). A
 * client that makes no progress for ATTACH_STALL_TIMEOUT_MS is dropped, so a
 * wedged client cannot wedge the container (the CRI log has everything).
 */
int send_frame(struct client *c, uint8_t type, const void *data, size_t len) {
  if (c->closing) return -1;
  uint8_t hdr[FRAME_HEADER_LEN];
  frame_header(hdr, type, (uint32_t)len);
  size_t total = sizeof hdr + len, sent = 0;
  if (c->pend_off == c->pend_len) {
    struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)data, len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      c->closing = true;
      return -1;
    }
    if (n == (ssize_t)total) return 0;
    sent = n > 0 ? (size_t)n : 0;
  }
  if (c->pend_off) {
    memmove(c->pend, c->pend + c->pend_off, c->pend_len - c->pend_off);
    c->pend_len -= c->pend_off;
    c->pend_off = 0;
  }
  uint8_t *np = realloc(c->pend, c->pend_len + total - sent);
  if (!np) {
    c->closing = true;
    return -1;
  }
  c->pend = np;
  for (size_t i = sent; i < total; i++) /* the unsent tail of header + payload */
    c->pend[c->pend_len++] = i < sizeof hdr ? hdr[i] : ((const uint8_t *)data)[i - sizeof hdr];
  if (c->pend_len == total - sent) clock_gettime(CLOCK_MONOTONIC, &c->blocked_since); /* newly behind */
  if (!c->blocked_proc && c->target) {
    c->blocked_proc = c->target;
    if (c->target->blocked++ == 0) set_output_paused(c->target, true);
  }
  client_update_events(c);
  return 0;
}

static void client_flush(struct client *c) {
  ssize_t n = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0 && errno != EAGAIN && errno != EINTR) {
    c->closing = true;
    return;
  }
  if (n > 0) {
    c->pend_off += (size_t)n;
    clock_gettime(CLOCK_MONOTONIC, &c->blocked_since);
  }
  if (c->pend_off < c->pend_len) return;
  client_unblock(c);
  if (c->flush_then_close) client_linger(c);
  else client_update_events(c);
}

/*
 * The client has all it will get (its EXIT): shut our side down (it reads
 * EOF after EXIT) and drop what it still sends until it closes its own.
 * Closing at once instead would make its pending stdin writes fail with
 * EPIPE, and a client may then tear the connection down before reading EXIT.
 */
void client_linger(struct client *c) {
  if (c->closing || c->lingering) return;
  if (shutdown(c->fd, SHUT_WR) < 0) {
    c->closing = true;
    return;
  }
  c->lingering = true;
  c->flush_then_close = false;
  c->stalled = false;
  c->inlen = 0;
  clock_gettime(CLOCK_MONOTONIC, &c->blocked_since);
  client_update_events(c);
}

void send_result(struct client *c, const char *key, const char *value, long num) {
  char out[1024];
  size_t len;
  if (value) {
    len = (size_t)snprintf(out, sizeof out, "{\"%s\":\"", key);
    json_escape(out, sizeof out - 4, &len, value, strlen(value));
    memcpy(out + len, "\"}", 3);
    len += 2;
  } else {
    len = (size_t)snprintf(out, sizeof out, "{\"%s\":%ld}", key, num);
  }
  send_frame(c, FRAME_RESULT, out, len);
}

static void client_free(struct client *c) {
  for (struct client **pp = &clients; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  for (struct proc *p = procs; p; p = p->next)
    if (p->requester == c) p->requester = NULL;
  client_unblock(c);
  /* Closing a unix socket that still holds unread input makes the kernel
   * report ECONNRESET to the peer, which can overtake the last frames sent
   * (EXIT): discard what the client sent first (bounded, non-blocking). */
  if (c->fd >= 0) {
    char sink[4096];
    for (int i = 0; i < 256; i++)
      if (read(c->fd, sink, sizeof sink) <= 0) break;
  }
  close_fd(&c->fd);
  free(c);
}

/* Frees clients marked closing; done outside loops that walk the list. */
void reap_clients(void) {
  struct client *c = clients, *next;
  for (; c; c = next) {
    next = c->next;
    if (c->closing) client_free(c);
  }
}

void broadcast(struct proc *p, uint8_t type, const void *data, size_t len) {
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p && (c->flags & HELLO_OUTPUT) && !c->closing) send_frame(c, type, data, len);
}

static void stall(struct client *c) {
  struct proc *p = c->target;
  c->stalled = true;
  client_update_events(c);
  if (!p->in_wait_out) {
    /* A pty master is also registered for EPOLLIN as out_fd; the dup in_fd is
     * a separate epoll registration (epoll keys on the open file, the dup
     * shares it), so use EPOLL_CTL_ADD on the dup only if it differs. */
    if (ep_add(p->in_fd, EPOLLOUT, &p->ev_in) == 0 || errno == EEXIST) p->in_wait_out = true;
  }
}

void on_stdin_writable(struct proc *p) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, p->in_fd, NULL);
  p->in_wait_out = false;
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p && c->stalled && !c->closing) {
      c->stalled = false;
      client_update_events(c);
      client_process(c);
    }
}

/*
 * Closes p's stdin (EOF for a pipe; the pty's dup for a terminal) and lets
 * clients stalled on it go on: their STDIN frames are dropped from now on,
 * as bytes written to a closed pipe would be.
 */
void close_stdin(struct proc *p) {
  close_fd(&p->in_fd);
  p->in_wait_out = false;
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p && c->stalled && !c->closing) {
      c->stalled = false;
      c->stdin_off = 0;
      client_update_events(c);
      client_process(c);
    }
}

/* Handles one complete frame; false when the client must wait (stalled). */
static bool client_frame(struct client *c, const struct frame *f) {
  struct proc *p = c->target;
  if (!p) {
    if (f->type == FRAME_HELLO && f->len >= 1) {
      char id[EXEC_ID_MAX + 1];
      size_t idlen = f->len - 1;
      if (idlen > EXEC_ID_MAX) idlen = EXEC_ID_MAX;
      memcpy(id, f->payload + 1, idlen);
      id[idlen] = 0;
      struct proc *t = find_proc(id);
      if (!t) {
        char err[128];
        errf(err, sizeof err, "berth-monitor: no process %s", id[0] ? id : "init");
        send_result(c, "error", err, 0);
        c->closing = true;
        return true;
      }
      c->target = t;
      c->flags = f->payload[0];
      if (c->flags & HELLO_ACK) {
        /* How much output came before this client: the bytes it will not
         * see live (a reader replays them from the log, then streams). */
        char ack[128];
        int len = snprintf(ack, sizeof ack, "{\"pid\":%ld,\"stdout\":%llu,\"stderr\":%llu}", (long)t->pid, t->out_bytes, t->err_bytes);
        send_frame(c, FRAME_RESULT, ack, (size_t)len);
      }
      return true;
    }
    if (f->type == FRAME_EXEC) {
      start_exec(c, f->payload, f->len);
      return true;
    }
    c->closing = true;
    return true;
  }
  switch (f->type) {
  case FRAME_STDIN:
    if (p->in_fd < 0) return true; /* no stdin: dropped, as a closed pipe would */
    while (c->stdin_off < f->len) {
      ssize_t n = write(p->in_fd, f->payload + c->stdin_off, f->len - c->stdin_off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        stall(c);
        return false;
      }
      if (n < 0) { /* EPIPE, EIO: the reader is gone */
        if (!p->terminal) close_stdin(p);
        break;
      }
      c->stdin_off += (size_t)n;
    }
    c->stdin_off = 0;
    return true;
  case FRAME_RESIZE:
    if (p->terminal && p->out_fd >= 0 && f->len == 4) {
      struct winsize ws = {.ws_col = (unsigned short)(f->payload[0] << 8 | f->payload[1]),
                           .ws_row = (unsigned short)(f->payload[2] << 8 | f->payload[3])};
      if (ioctl(p->out_fd, TIOCSWINSZ, &ws) < 0) logmsg("TIOCSWINSZ: %s", strerror(errno));
    }
    return true;
  case FRAME_CLOSE_STDIN:
    /* A pty has no separate stdin to close; the client sends ^D itself. */
    if (!p->terminal) close_stdin(p);
    return true;
  default:
    c->closing = true;
    return true;
  }
}

static void client_process(struct client *c) {
  size_t off = 0;
  while (!c->closing && !c->stalled) {
    struct frame f;
    ssize_t n = frame_parse(c->in + off, c->inlen - off, FRAME_MAX_CLIENT_PAYLOAD, &f);
    if (n < 0) {
      c->closing = true;
      break;
    }
    if (n == 0) break;
    if (!client_frame(c, &f)) break;
    off += (size_t)n;
  }
  if (off) {
    memmove(c->in, c->in + off, c->inlen - off);
    c->inlen -= off;
  }
}

void on_client(struct client *c, uint32_t events) {
  if (c->closing) return;
  if (events & EPOLLOUT) client_flush(c);
  if (c->closing) return;
  if (c->lingering) {
    char sink[4096];
    for (int i = 0; i < 64; i++) {
      ssize_t n = read(c->fd, sink, sizeof sink);
      if (n > 0) continue;
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      c->closing = true; /* its EOF (or an error): done */
      return;
    }
    return;
  }
  if (events & EPOLLIN) {
    ssize_t n = read(c->fd, c->in + c->inlen, sizeof c->in - c->inlen);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      c->closing = true;
      return;
    }
    c->inlen += (size_t)n;
    client_process(c);
  } else if (events & (EPOLLHUP | EPOLLERR)) {
    c->closing = true;
  }
}

/*
 * Marks clients that made no progress for ATTACH_STALL_TIMEOUT_MS closing
 * (the caller frees them, which resumes their process's output) and returns
 * the ms until the next one would expire, or -1.
 */
long expire_blocked_clients(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long best = -1;
  for (struct client *c = clients; c; c = c->next) {
    if (c->closing) continue;
    long waited = (now.tv_sec - c->blocked_since.tv_sec) * 1000 + (now.tv_nsec - c->blocked_since.tv_nsec) / 1000000;
    if (c->lingering) {
      if (waited >= ATTACH_LINGER_MS) {
        c->closing = true;
        continue;
      }
      long left = ATTACH_LINGER_MS - waited + 1;
      if (best < 0 || left < best) best = left;
      continue;
    }
    if (c->pend_off == c->pend_len) continue;
    if (waited >= ATTACH_STALL_TIMEOUT_MS) {
      logmsg("attach client made no progress for %d ms: dropped", ATTACH_STALL_TIMEOUT_MS);
      c->closing = true;
      continue;
    }
    long left = ATTACH_STALL_TIMEOUT_MS - waited + 1;
    if (best < 0 || left < best) best = left;
  }
  return best;
}

void on_listen(void) {
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    struct client *c = calloc(1, sizeof *c);
    if (!c) {
      close(fd);
      return;
    }
    int sndbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    c->fd = fd;
    c->ev = (struct ev){EV_CLIENT, c};
    if (ep_add(fd, EPOLLIN, &c->ev) < 0) {
      close(fd);
      free(c);
      continue;
    }
    c->next = clients;
    clients = c;
  }
}
