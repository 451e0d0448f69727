/*
 * The monitor's event loop: one epoll set, one thread. The bottom layer of
 * berth-monitor (monitor.h has the picture): process.c, exec.c, attach.c and
 * main.c register fds here and get called back; nothing here knows what a
 * process or a client is.
 */
#ifndef BERTH_MONITOR_LOOP_H
#define BERTH_MONITOR_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What an epoll registration points at. handle() gets the ready events and
 * returns true when it may have freed an object another registration of the
 * same batch points at: the rest of the batch is then dropped (epoll is
 * level-triggered and reports those fds again on the next wait).
 */
struct ev {
  bool (*handle)(struct ev *ev, uint32_t events);
  void *obj;
};

/* Creates the epoll set; -errno on failure. */
int loop_init(void);
int ep_add(int fd, uint32_t events, struct ev *ev); /* -1 and errno, as epoll_ctl */
void ep_mod(int fd, uint32_t events, struct ev *ev);
void ep_del(int fd);
void close_fd(int *fd); /* ep_del + close; sets *fd = -1 */
void set_nonblock(int fd);

/* Waits up to timeout_ms (-1: until an event) and dispatches what is ready; -1 when epoll_wait fails. */
int loop_wait(int timeout_ms);

/* Diagnostics to stderr (monitor.log once daemonized), one timestamped line. */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Formats an error line (vsnprintf: truncating long paths is fine there). */
void errf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
