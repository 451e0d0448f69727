/*
 * berth-monitor: the per-container parent process (Podman's conmon).
 *
 *   berth-monitor <state-dir> [--log-path P] [--log-max-size BYTES]
 *                 [--log-max-files N] [--oom-file F]... [--terminal] [--stdin]
 *                 -- <shim argv...>
 *
 * Lifecycle (docs/design/monitor.md has the protocol and the reasons):
 *  1. Checks its arguments (exit 2 and a line on stderr when they are wrong),
 *     then daemonizes: fork, setsid, fork; the first process exits at once.
 *     The daemon keeps the caller's stdout as the sync channel, sends stderr
 *     to <state-dir>/monitor.log, chdirs to /, and becomes a child subreaper.
 *  2. Runs `<shim argv> [--console-socket <state-dir>/tty.sock]` with
 *     stdio pipes it owns (or, with --terminal, receives the pty master over
 *     the console socket). The shim forks the container's init, writes its pid
 *     to <state-dir>/pid and exits; init reparents to the monitor.
 *  3. Writes one JSON line to the sync channel and closes it:
 *       {"pid":<init pid>}          init exists and waits for `shim start`
 *       {"error":"berth-shim: ..."} create failed; the monitor exits 1
 *     Before the line it has written <state-dir>/monitor.pid and is serving
 *     <state-dir>/attach.sock, so the caller can attach before starting.
 *  4. Event loop: logs output (CRI format), serves attach clients, runs
 *     `<shim> exec` on request, reaps everything that reparents to it.
 *  5. When init has exited and its output is drained (or 5 s passed), writes
 *     <state-dir>/exit atomically, sends the exit record to every client,
 *     removes attach.sock and monitor.pid and exits 0.
 *
 * Exit record (exit file, FRAME_EXIT payload), one JSON object:
 *   {"exitCode":N,"signal":S,"exitedAt":"<RFC3339Nano>","oomKilled":null|true|false}
 * exitCode is 128+S when the process died by signal S (S is 0 otherwise);
 * oomKilled is true/false from the --oom-file counters, null without them.
 *
 * Layers (each file calls only the ones below it; what goes up is a hook the
 * upper layer installs):
 *   main.c     arguments, daemonizing, the create/sync protocol, the loop;
 *              installs the hooks (exec_init, attach_init)
 *   attach.c   clients on attach.sock: frames, output broadcast with
 *              backpressure, stdin stalls, resize, exec requests  (attach.h)
 *   exec.c     `shim exec` requests and their completion; exec_hooks tell
 *              the requester                                       (exec.h)
 *   process.c  init and exec'd processes: stdio, spawn, reaping, output into
 *   oom.c      the CRI log, exit records; proc_hooks tell the layers above
 *              (output, stdin ready, finished, shim exited)        (process.h)
 *   loop.c     the epoll set, fd helpers, log lines                (loop.h)
 * crilog.c (the CRI log writer), frame.c (the wire format) and util.c sit
 * beside them; common/ has what the shim shares (atomic_write_file).
 */
#ifndef BERTH_MONITOR_MONITOR_H
#define BERTH_MONITOR_MONITOR_H

#include "attach.h"
#include "exec.h"
#include "loop.h"
#include "process.h"
#include "util.h"

#endif
