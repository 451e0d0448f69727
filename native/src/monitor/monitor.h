/*
 * berth-monitor: the per-container parent process (Podman's conmon).
 *
 *   berth-monitor <state-dir> [--log-path P] [--log-max-size BYTES]
 *                 [--log-max-files N] [--terminal] [--stdin] -- <shim argv...>
 *
 * Lifecycle (docs/design/monitor.md has the protocol and the reasons):
 *  1. Checks its arguments (exit 2 and a line on stderr when they are wrong),
 *     then daemonizes: fork, setsid, fork; the first process exits at once.
 *     The daemon keeps the caller's stdout as the sync channel, sends stderr
 *     to <state-dir>/monitor.log, chdirs to /, and becomes a child subreaper.
 *  2. Runs `<shim argv> [--console-socket <state-dir>/console.sock]` with
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
 *   {"exitCode":N,"signal":S,"exitedAt":"<RFC3339Nano>","oomKilled":null}
 * exitCode is 128+S when the process died by signal S (S is 0 otherwise);
 * oomKilled is null: the monitor does not know the container's cgroup.
 */
#ifndef BERTH_MONITOR_MONITOR_H
#define BERTH_MONITOR_MONITOR_H

#define EXEC_ID_MAX 64
/* How long output may keep flowing after a process exited before the monitor
 * stops waiting for EOF (a descendant that escaped the pid namespace could
 * otherwise hold the pipe open forever). */
#define DRAIN_TIMEOUT_MS 5000
/* An attach client whose socket takes nothing for this long is dropped (its
 * process's output is paused while it lags; see send_frame). */
#define ATTACH_STALL_TIMEOUT_MS 10000
/* How long `shim create` may take before the monitor kills it and fails. */
#define CREATE_TIMEOUT_S 60

#endif
