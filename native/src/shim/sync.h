/*
 * Messages between the shim parent and its children during `create`, over a
 * SOCK_SEQPACKET socketpair (one message per send, never split). The
 * parent holds one end; the middle process and then the init hold the
 * other. Sequence (docs/design/shim.md has the full diagram):
 *
 *   middle -> parent  MAPS_REQ   (only with a new user namespace)
 *   parent -> middle  MAPS_DONE  uid_map/gid_map written
 *   middle -> parent  PID        value = init's pid in the parent's pid ns
 *   parent -> init    GO         init is in its cgroups, oom_score_adj set
 *   init   -> parent  READY      rootfs and process set up, waiting on fifo
 *   parent -> init    DONE       pid file written; init may block on fifo
 *   any    -> parent  ERROR      text = what failed; the sender exits 1
 *
 * EOF on either side means the peer died: the parent cleans up, a child
 * exits (so a killed shim never leaves a half-made container behind).
 */
#ifndef BERTH_SHIM_SYNC_H
#define BERTH_SHIM_SYNC_H

enum sync_type { SYNC_MAPS_REQ = 1, SYNC_MAPS_DONE, SYNC_PID, SYNC_GO, SYNC_READY, SYNC_DONE, SYNC_ERROR };

struct sync_msg {
	int type;
	int value;
	char text[1024];
};

/* Returns 0, or -1 (errno; EPIPE/ECONNRESET when the peer is gone). */
int sync_send(int fd, int type, int value);
/* Sends SYNC_ERROR carrying shim_err. */
void sync_send_error(int fd);
/* Receives one message; returns 0, or -1 with errno (0 at EOF). */
int sync_recv(int fd, struct sync_msg *m);
/* Receives and checks the type; on anything else (EOF, ERROR) the caller
 * should exit: returns -1. */
int sync_expect(int fd, int type);

#endif
