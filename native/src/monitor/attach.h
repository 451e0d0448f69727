/*
 * Attach clients on <state-dir>/attach.sock (attach.c): the frame protocol
 * (frame.h), output broadcast with backpressure, stdin with per-client
 * stalls, resize, exec requests. The top layer under main.c: it calls down
 * to exec.c, process.c and the loop, and hears of their events through the
 * hooks attach_init() installs.
 */
#ifndef BERTH_MONITOR_ATTACH_H
#define BERTH_MONITOR_ATTACH_H

#include "frame.h"
#include "process.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* An attach client whose socket takes nothing for this long is dropped (its
 * process's output is paused while it lags; see send_frame). */
#define ATTACH_STALL_TIMEOUT_MS 10000
/* How long a client that got its EXIT may take to close its side. */
#define ATTACH_LINGER_MS 1000

/* A connection on attach.sock. */
struct client {
  struct client *next;
  struct ev ev;
  int fd;
  struct proc *target; /* NULL until HELLO/EXEC */
  uint8_t flags;
  bool stalled;     /* a STDIN frame waits for the target's stdin to drain */
  bool closing;     /* freed by reap_clients() outside any list walk */
  size_t stdin_off; /* bytes of the front STDIN frame already written */
  /* Output the socket did not take yet (the rest of one frame, plus maybe an
   * EXIT or RESULT): while it is there, this client blocks its process's
   * output (proc_block_output(blocked_proc)). */
  uint8_t *pend;
  size_t pend_len, pend_off;
  struct proc *blocked_proc;
  struct timespec blocked_since; /* CLOCK_MONOTONIC of the last progress */
  bool flush_then_close;         /* EXIT was queued: linger once it is out */
  /* EXIT is out and our side is shut down: what the client still sends
   * (stdin written before it saw EXIT) is read and dropped until it closes
   * its side, so its writes never fail with EPIPE and overtake EXIT. Bounded
   * by ATTACH_LINGER_MS from blocked_since. */
  bool lingering;
  size_t inlen;
  uint8_t in[FRAME_HEADER_LEN + FRAME_MAX_CLIENT_PAYLOAD];
};

extern struct client *clients;
extern int listen_fd;
extern char attach_path[PATH_MAX];
/* ATTACH_STALL_TIMEOUT_MS; the C tests shorten it. */
extern long attach_stall_timeout_ms;

/* Installs attach's process and exec hooks (output, stdin, exits, exec outcomes). */
void attach_init(void);
/* Starts serving attach.sock (listen_fd, attach_path set): -errno on failure. */
int attach_listen(void);
/* Serves one connected socket as a client (non-blocking, CLOEXEC); NULL when out of memory. */
struct client *client_add(int fd);
int send_frame(struct client *c, uint8_t type, const void *data, size_t len);
void send_result(struct client *c, const char *key, const char *value, long num);
/* Frees clients marked closing; done outside loops that walk the list. */
void reap_clients(void);
/* ms until the next client deadline (stall, linger; 0 when one must be freed), or -1. */
long attach_timeout_ms(void);
/* Clients still taking their last output (EXIT queued, or lingering). */
bool attach_flushing(void);

#endif
