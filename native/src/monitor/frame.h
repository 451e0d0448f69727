/*
 * The attach socket's wire format (docs/design/monitor.md has the whole
 * protocol). Every message either way is a frame:
 *
 *   type: u8 | length: u32 big-endian | payload: length bytes
 *
 * Frames a client sends carry at most FRAME_MAX_CLIENT_PAYLOAD bytes (the
 * monitor reads a whole frame into a fixed per-client buffer); frames the
 * monitor sends carry at most one read of output (FRAME_MAX_PAYLOAD).
 */
#ifndef BERTH_MONITOR_FRAME_H
#define BERTH_MONITOR_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum frame_type {
  FRAME_STDIN = 1,       /* client -> monitor: bytes for the process's stdin */
  FRAME_STDOUT = 2,      /* monitor -> client: bytes the process wrote to stdout (or the pty) */
  FRAME_STDERR = 3,      /* monitor -> client: bytes the process wrote to stderr */
  FRAME_RESIZE = 4,      /* client -> monitor: u16 cols, u16 rows (big-endian); TIOCSWINSZ */
  FRAME_CLOSE_STDIN = 5, /* client -> monitor: close the process's stdin (EOF) */
  FRAME_EXIT = 6,        /* monitor -> client: the exit record (JSON, as in the exit file); then close */
  FRAME_HELLO = 7,       /* client -> monitor, first frame: u8 flags, target id ("" = init) */
  FRAME_EXEC = 8,        /* client -> monitor, first frame: u8 flags, exec id, NUL, exec-config path */
  FRAME_RESULT = 9,      /* monitor -> client: JSON {"pid":N} or {"error":"..."} */
};

/* FRAME_HELLO flags */
#define HELLO_OUTPUT 0x1 /* stream the target's output to this client */
/* HELLO_ACK: answer RESULT {"pid":N,"stdout":B,"stderr":B} once registered: output from then on is
 * this client's; B = bytes of each stream read before. */
#define HELLO_ACK 0x2
/* FRAME_EXEC flags */
#define EXEC_TERMINAL 0x1 /* run the exec'd process on a new pty */
#define EXEC_STDIN 0x2    /* give it a stdin pipe (fed by FRAME_STDIN) */

#define FRAME_HEADER_LEN 5
#define FRAME_MAX_CLIENT_PAYLOAD 4096
#define FRAME_MAX_PAYLOAD (1u << 20)

struct frame {
  uint8_t type;
  uint32_t len;
  const uint8_t *payload; /* points into the parsed buffer */
};

/* Writes a frame header into out. */
void frame_header(uint8_t out[FRAME_HEADER_LEN], uint8_t type, uint32_t len);

/*
 * Parses one frame from the front of buf. Returns the bytes it takes (header
 * plus payload), 0 when buf holds only part of a frame, or -1 when the frame
 * is malformed: an unknown type or a payload over max_payload.
 */
ssize_t frame_parse(const uint8_t *buf, size_t len, size_t max_payload, struct frame *out);

#endif
