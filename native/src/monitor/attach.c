/*
 * Attach clients on <state-dir>/attach.sock (attach.h): the frame protocol
 * (frame.h), output broadcast with backpressure, stdin with per-client
 * stalls, resize, exec requests.
 */
#include "attach.h"
#include "exec.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct client *clients;
int listen_fd = -1;
char attach_path[PATH_MAX];
long attach_stall_timeout_ms = ATTACH_STALL_TIMEOUT_MS;

static void client_process(struct client *c);
static void client_update_events(struct client *c);
static void client_linger(struct client *c);

/* ---- clients ------------------------------------------------------------ */

/* epoll events from the client's state. */
static void client_update_events(struct client *c) {
  uint32_t ev =
      (c->lingering || !(c->stalled || c->flush_then_close) ? EPOLLIN : 0) | (c->pend_off < c->pend_len ? EPOLLOUT : 0);
  ep_mod(c->fd, ev, &c->ev);
}

static void client_unblock(struct client *c) {
  free(c->pend);
  c->pend = NULL;
  c->pend_len = c->pend_off = 0;
  struct proc *p = c->blocked_proc;
  c->blocked_proc = NULL;
  if (p) proc_unblock_output(p);
}

/*
 * Sends a frame without blocking. What the socket does not take is kept and
 * the client's process stops being read until the client catches up (Docker's
 * attach semantics: a slow reader slows the container, nothing is lost). A
 * client that makes no progress for attach_stall_timeout_ms is dropped, so a
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
    proc_block_output(c->target);
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
  if (c->flush_then_close)
    client_linger(c);
  else
    client_update_events(c);
}

/*
 * The client has all it will get (its EXIT): shut our side down (it reads
 * EOF after EXIT) and drop what it still sends until it closes its own.
 * Closing at once instead would make its pending stdin writes fail with
 * EPIPE, and a client may then tear the connection down before reading EXIT.
 */
static void client_linger(struct client *c) {
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

void reap_clients(void) {
  struct client *c = clients, *next;
  for (; c; c = next) {
    next = c->next;
    if (c->closing) client_free(c);
  }
}

/* proc_hooks.output: every client attached to p's output gets the chunk. */
static void broadcast(struct proc *p, bool is_err, const void *data, size_t len) {
  uint8_t type = is_err ? FRAME_STDERR : FRAME_STDOUT;
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p && (c->flags & HELLO_OUTPUT) && !c->closing) send_frame(c, type, data, len);
}

static void stall(struct client *c) {
  c->stalled = true;
  client_update_events(c);
  proc_wait_stdin(c->target);
}

/*
 * proc_hooks.stdin_ready: p's stdin drained, or closed (EOF for a pipe; the
 * pty's dup for a terminal). Clients stalled on it go on; once it is closed
 * their STDIN frames are dropped, as bytes written to a closed pipe would be.
 */
static void stdin_ready(struct proc *p, bool closed) {
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p && c->stalled && !c->closing) {
      c->stalled = false;
      if (closed) c->stdin_off = 0;
      client_update_events(c);
      client_process(c);
    }
}

/* proc_hooks.finished: p's exit goes to its clients as their last frame; nothing may point at p any more. */
static void proc_finished(struct proc *p, const char *exit_json, size_t len) {
  for (struct client *c = clients; c; c = c->next) {
    if (c->target == p && !c->closing) {
      send_frame(c, FRAME_EXIT, exit_json, len - 1);
      if (c->pend_off < c->pend_len)
        c->flush_then_close = true, client_update_events(c);
      else
        client_linger(c);
    }
    if (c->target == p) c->target = NULL;
    if (c->blocked_proc == p) c->blocked_proc = NULL;
  }
}

/* exec_hooks.started: the requester learns the exec'd process's pid. */
static void exec_started(void *requester, struct proc *p) {
  if (requester) send_result(requester, "pid", NULL, p->pid);
}

/* exec_hooks.failed: the requester gets the error; every client of p is closed. */
static void exec_failed(void *requester, struct proc *p, const char *err) {
  struct client *r = requester;
  if (r) {
    send_result(r, "error", err, 0);
    r->closing = true;
    r->target = NULL;
  }
  for (struct client *c = clients; c; c = c->next)
    if (c->target == p) c->target = NULL, c->closing = true;
}

void attach_init(void) {
  proc_hooks.output = broadcast;
  proc_hooks.stdin_ready = stdin_ready;
  proc_hooks.finished = proc_finished;
  exec_hooks.started = exec_started;
  exec_hooks.failed = exec_failed;
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
        int len = snprintf(ack, sizeof ack, "{\"pid\":%ld,\"stdout\":%llu,\"stderr\":%llu}", (long)t->pid, t->out_bytes,
                           t->err_bytes);
        send_frame(c, FRAME_RESULT, ack, (size_t)len);
      }
      return true;
    }
    if (f->type == FRAME_EXEC) {
      char err[512];
      struct proc *e = start_exec(c, f->payload, f->len, err, sizeof err);
      if (!e) {
        send_result(c, "error", err, 0);
        c->closing = true;
        return true;
      }
      c->target = e;
      c->flags = HELLO_OUTPUT;
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
        if (!p->terminal) proc_close_stdin(p);
        break;
      }
      c->stdin_off += (size_t)n;
    }
    c->stdin_off = 0;
    return true;
  case FRAME_RESIZE:
    if (f->len == 4)
      proc_resize(p, (unsigned short)(f->payload[0] << 8 | f->payload[1]),
                  (unsigned short)(f->payload[2] << 8 | f->payload[3]));
    return true;
  case FRAME_CLOSE_STDIN:
    /* A pty has no separate stdin to close; the client sends ^D itself. */
    if (!p->terminal) proc_close_stdin(p);
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

static void on_client(struct client *c, uint32_t events) {
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
 * Marks clients that made no progress for attach_stall_timeout_ms closing
 * (the caller frees them, which resumes their process's output) and returns
 * the ms until the next one would expire, or -1.
 */
static long expire_blocked_clients(void) {
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
    if (waited >= attach_stall_timeout_ms) {
      logmsg("attach client made no progress for %ld ms: dropped", attach_stall_timeout_ms);
      c->closing = true;
      continue;
    }
    long left = attach_stall_timeout_ms - waited + 1;
    if (best < 0 || left < best) best = left;
  }
  return best;
}

long attach_timeout_ms(void) {
  long best = expire_blocked_clients();
  /* Clients just marked closing must be freed before sleeping. */
  for (struct client *c = clients; c; c = c->next)
    if (c->closing) best = 0;
  return best;
}

bool attach_flushing(void) {
  for (struct client *c = clients; c; c = c->next)
    if ((c->flush_then_close || c->lingering) && !c->closing) return true;
  return false;
}

static bool on_client_ready(struct ev *ev, uint32_t events) {
  on_client(ev->obj, events);
  return false;
}

struct client *client_add(int fd) {
  struct client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->fd = fd;
  c->ev = (struct ev){on_client_ready, c};
  if (ep_add(fd, EPOLLIN, &c->ev) < 0) {
    free(c);
    return NULL;
  }
  c->next = clients;
  clients = c;
  return c;
}

static bool on_listen(struct ev *ev, uint32_t events) {
  (void)ev, (void)events;
  for (;;) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return false;
    int sndbuf = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (!client_add(fd)) close(fd);
  }
}

static struct ev ev_listen = {on_listen, NULL};

int attach_listen(void) {
  int fd = listen_unix(attach_path, 16);
  if (fd < 0) return fd;
  listen_fd = fd;
  ep_add(listen_fd, EPOLLIN, &ev_listen);
  return 0;
}
