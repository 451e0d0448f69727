#include "frame.h"

void frame_header(uint8_t out[FRAME_HEADER_LEN], uint8_t type, uint32_t len) {
  out[0] = type;
  out[1] = (uint8_t)(len >> 24);
  out[2] = (uint8_t)(len >> 16);
  out[3] = (uint8_t)(len >> 8);
  out[4] = (uint8_t)len;
}

ssize_t frame_parse(const uint8_t *buf, size_t len, size_t max_payload, struct frame *out) {
  if (len < 1) return 0;
  if (buf[0] < FRAME_STDIN || buf[0] > FRAME_RESULT) return -1;
  if (len < FRAME_HEADER_LEN) return 0;
  uint32_t plen = (uint32_t)buf[1] << 24 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 8 | buf[4];
  if (plen > max_payload) return -1;
  if (len < FRAME_HEADER_LEN + (size_t)plen) return 0;
  out->type = buf[0];
  out->len = plen;
  out->payload = buf + FRAME_HEADER_LEN;
  return (ssize_t)(FRAME_HEADER_LEN + plen);
}
