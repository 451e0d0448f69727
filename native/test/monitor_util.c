/* Tests of the monitor's small helpers: atomic files, pid files, JSON escaping. */
#include "../src/monitor/util.c"

#include <stdio.h>

#include "tap.h"

int main(void) {
  char dir[] = "/tmp/berth-util-XXXXXX", path[128], tmp[160], buf[64];
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  snprintf(path, sizeof path, "%s/exit", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);

  CHECK(atomic_write_file(path, "one", 3, 0600, 0) == 0, "write a file");
  CHECK(atomic_write_file(path, "two!", 4, 0600, 0) == 0, "replace it");
  int fd = open(path, O_RDONLY);
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  CHECK(n == 4 && memcmp(buf, "two!", 4) == 0 && access(tmp, F_OK) != 0, "whole new content, no .tmp left");

  atomic_write_file(path, "1234\n", 5, 0600, 0);
  CHECK(read_pid_file(path) == 1234, "pid with newline");
  atomic_write_file(path, "12x", 3, 0600, 0);
  CHECK(read_pid_file(path) == -EINVAL, "garbage is EINVAL");
  atomic_write_file(path, "0", 1, 0600, 0);
  CHECK(read_pid_file(path) == -EINVAL, "pid 0 is EINVAL");
  unlink(path);
  CHECK(read_pid_file(path) == -ENOENT, "missing file is ENOENT");

  char out[64];
  size_t len = 0;
  const char *s = "a\"b\\c\nd\x01";
  json_escape(out, sizeof out, &len, s, strlen(s));
  CHECK(strcmp(out, "a\\\"b\\\\c\\nd\\u0001") == 0, "escapes quote, backslash, newline, control: %s", out);
  char small[8];
  len = 0;
  json_escape(small, sizeof small, &len, "\"\"\"\"\"", 5);
  CHECK(len == 6 && strcmp(small, "\\\"\\\"\\\"") == 0, "stops at a whole escape when out of room: %s", small);

  CHECK(path_join(buf, 8, "/abc", "defgh") == -ENAMETOOLONG, "path_join refuses to truncate");
  rmdir(dir);
  return tap_done();
}
