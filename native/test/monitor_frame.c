/* Tests of the attach socket framing (frame.h). */
#include "../src/monitor/frame.c"

#include <stdio.h>
#include <string.h>

#include "tap.h"

int main(void) {
  uint8_t buf[64];
  frame_header(buf, FRAME_STDOUT, 0x01020304);
  CHECK(buf[0] == 2 && buf[1] == 1 && buf[2] == 2 && buf[3] == 3 && buf[4] == 4, "header: type then big-endian length");

  frame_header(buf, FRAME_STDIN, 3);
  memcpy(buf + 5, "abc", 3);
  frame_header(buf + 8, FRAME_RESIZE, 4);
  memcpy(buf + 13, "\x00\x50\x00\x18", 4);
  struct frame f;
  for (size_t cut = 0; cut < 8; cut++)
    if (frame_parse(buf, cut, 4096, &f) != 0) CHECK(0, "a frame cut at %zu bytes is incomplete", cut);
  CHECK(frame_parse(buf, 7, 4096, &f) == 0, "incomplete payload waits for more");
  ssize_t n = frame_parse(buf, 17, 4096, &f);
  CHECK(n == 8 && f.type == FRAME_STDIN && f.len == 3 && memcmp(f.payload, "abc", 3) == 0, "first of two frames");
  n = frame_parse(buf + 8, 9, 4096, &f);
  CHECK(n == 9 && f.type == FRAME_RESIZE && f.len == 4 && f.payload[1] == 80 && f.payload[3] == 24, "second frame");

  frame_header(buf, FRAME_STDIN, 4097);
  CHECK(frame_parse(buf, 5, 4096, &f) == -1, "payload over the limit is malformed, not waited for");
  buf[0] = 0;
  CHECK(frame_parse(buf, 1, 4096, &f) == -1, "type 0 is malformed on the first byte");
  buf[0] = FRAME_RESULT + 1;
  CHECK(frame_parse(buf, 5, 4096, &f) == -1, "unknown type is malformed");
  frame_header(buf, FRAME_CLOSE_STDIN, 0);
  n = frame_parse(buf, 5, 4096, &f);
  CHECK(n == 5 && f.type == FRAME_CLOSE_STDIN && f.len == 0, "empty payload");
  return tap_done();
}
