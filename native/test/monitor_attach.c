/*
 * Attach backpressure (attach.c over process.c): two clients on the
 * container's output, one reading, one that never reads. The one that cannot
 * keep up pauses the output (Docker's semantics: a slow reader slows the
 * container, nothing is lost) while the monitor holds at most the rest of one
 * frame for it; once it has made no progress for the stall timeout it is
 * dropped and the output flows on, so the other client and the CRI log get
 * every byte, in order.
 */
#include "monitor_harness.h"

#include <fcntl.h>

#include "tap.h"

enum { LINES = 40000, LINE_LEN = 12 };

/* The CRI log's records joined back into the stream (P: part of a line; F: ends one). */
static size_t read_log(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = 0;
  char line[20000];
  while (fgets(line, sizeof line, f)) {
    char *tag = strchr(line, ' ');
    tag = tag ? strchr(tag + 1, ' ') : NULL;
    if (!tag) break;
    char *content = tag + 3;
    size_t len = strlen(content);
    if (len && content[len - 1] == '\n') len--;
    if (n + len + 1 > cap) break;
    memcpy(out + n, content, len);
    n += len;
    if (tag[1] == 'F') out[n++] = '\n';
  }
  fclose(f);
  return n;
}

int main(void) {
  char dir[] = "/tmp/berth-attach-XXXXXX", logpath[PATH_MAX];
  if (!harness_setup(dir)) return 1;
  path_join(logpath, sizeof logpath, dir, "ctr.log");
  CHECK(crilog_open(&logw, logpath, 64 << 20, 1) == 0, "open the CRI log");
  logging = true;
  attach_stall_timeout_ms = 300;

  /* init's stdout is a pipe whose write end the test holds. */
  int po[2];
  if (pipe2(po, O_CLOEXEC) < 0) return perror("pipe"), 1;
  init_proc = procs = proc_new("");
  init_proc->pid = 1;
  init_proc->out_fd = po[0];
  CHECK(activate(init_proc, NULL) == 0, "init's output is read by the loop");
  set_nonblock(po[1]);

  struct peer *fast = peer_connect(0), *slow = peer_connect(4096);
  if (!fast || !slow) return perror("socketpair"), 1;
  uint8_t hello = HELLO_OUTPUT;
  peer_send(fast, FRAME_HELLO, &hello, 1);
  peer_send(slow, FRAME_HELLO, &hello, 1);
  for (int i = 0; i < 50 && !(fast->c->target && slow->c->target); i++) turn(10);
  CHECK(fast->c->target == init_proc && slow->c->target == init_proc, "both clients stream init's output");

  size_t total = (size_t)LINES * LINE_LEN, written = 0, got = 0, max_pend = 0;
  char *all = malloc(total + 1), *log = malloc(total + 1), frame[FRAME_MAX_PAYLOAD / 64];
  for (int i = 0; i < LINES; i++) snprintf(all + (size_t)i * LINE_LEN, LINE_LEN + 1, "line %06d\n", i);
  bool paused = false, in_order = true;
  for (int i = 0; i < 100000 && got < total; i++) {
    if (written < total) {
      ssize_t n = write(po[1], all + written, total - written);
      if (n > 0) written += (size_t)n;
    }
    turn(20);
    for (struct client *c = clients; c; c = c->next)
      if (c->pend_len - c->pend_off > max_pend) max_pend = c->pend_len - c->pend_off;
    if (init_proc->out_paused) paused = true;
    uint8_t type;
    size_t len;
    while (peer_frame(fast, &type, frame, sizeof frame, &len) == 1) {
      if (type != FRAME_STDOUT || got + len > total || memcmp(all + got, frame, len) != 0) in_order = false;
      got += len;
    }
  }
  CHECK(paused, "a client that cannot keep up pauses the output");
  CHECK(max_pend > 0 && max_pend <= FRAME_HEADER_LEN + 8192,
        "the monitor holds at most the rest of one frame for a lagging client (held %zu bytes)", max_pend);
  CHECK(count_clients() == 1 && clients == fast->c,
        "the client that made no progress for the stall timeout is dropped");
  char sink[8192];
  ssize_t n;
  while ((n = read(slow->fd, sink, sizeof sink)) > 0) {
  }
  CHECK(n == 0, "the dropped client reads what was sent, then EOF");
  CHECK(got == total && in_order, "the other client got every byte in order (%zu of %zu)", got, total);
  crilog_close(&logw);
  size_t logged = read_log(logpath, log, total + 1);
  CHECK(logged == total && memcmp(log, all, total) == 0, "the CRI log got every line in order (%zu of %zu bytes)",
        logged, total);

  close(po[1]);
  harness_cleanup(dir);
  return tap_done();
}
