/*
 * Exec'd processes (exec.c): a request starts `<shim> exec` without blocking
 * the loop; the shim's exit (process.c's shim_exited hook) completes it.
 * Calls down to process.c and the loop; the requester (an opaque pointer:
 * attach.c's client) hears the outcome through exec_hooks.
 */
#ifndef BERTH_MONITOR_EXEC_H
#define BERTH_MONITOR_EXEC_H

#include "process.h"

#include <stddef.h>
#include <stdint.h>

struct exec_hooks {
  /* The exec'd process runs (p->pid is set); requester may be NULL (it went away). */
  void (*started)(void *requester, struct proc *p);
  /* The exec failed after it was accepted: err for the requester (may be NULL).
   * p is freed right after: whoever points at it must let go. */
  void (*failed)(void *requester, struct proc *p, const char *err);
};
extern struct exec_hooks exec_hooks;

/* Installs exec's process hook (shim_exited). */
void exec_init(void);

/*
 * Handles an exec request (FRAME_EXEC's payload: u8 flags, exec id, NUL,
 * exec-config path). Returns the new process, whose start is reported
 * through exec_hooks, or NULL with err filled when the request is refused
 * (nothing is left behind then).
 */
struct proc *start_exec(void *requester, const uint8_t *payload, size_t len, char *err, size_t cap);

/* Removes an exec's files and its dir (exec ids are not reused). */
void exec_cleanup_dir(const char *id);

#endif
