#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

pid_t read_pid_file(const char *path) {
  char buf[32];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  int e = errno;
  close(fd);
  if (n < 0) return -e;
  buf[n] = 0;
  char *end;
  long v = strtol(buf, &end, 10);
  while (*end == '\n' || *end == ' ') end++;
  if (end == buf || *end || v <= 0 || v > INT_MAX) return -EINVAL;
  return (pid_t)v;
}

void json_escape(char *out, size_t cap, size_t *len, const char *s, size_t slen) {
  static const char hex[] = "0123456789abcdef";
  size_t o = *len;
  for (size_t i = 0; i < slen; i++) {
    unsigned char ch = (unsigned char)s[i];
    char esc[7];
    size_t elen = 0;
    if (ch == '"' || ch == '\\') {
      esc[0] = '\\', esc[1] = (char)ch, elen = 2;
    } else if (ch == '\n') {
      esc[0] = '\\', esc[1] = 'n', elen = 2;
    } else if (ch < 0x20) {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[ch >> 4], esc[5] = hex[ch & 15], elen = 6;
    } else {
      esc[0] = (char)ch, elen = 1;
    }
    if (o + elen + 1 > cap) break;
    memcpy(out + o, esc, elen);
    o += elen;
  }
  if (o < cap) out[o] = 0;
  *len = o;
}

int path_join(char *out, size_t cap, const char *dir, const char *name) {
  int n = snprintf(out, cap, "%s/%s", dir, name);
  return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}
