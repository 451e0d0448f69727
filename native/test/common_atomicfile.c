/* Tests of common/atomicfile: whole replacement, the mode of a new file, and nothing left on failure. */
#include "atomicfile.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tap.h"

int main(void) {
  char dir[] = "/tmp/berth-atomicfile-XXXXXX", path[128], tmp[160], buf[16];
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  snprintf(path, sizeof path, "%s/pid", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  umask(022);
  CHECK(atomic_write_file(path, "12345\n", 6, 0644, 1) == 0, "write with fsync");
  struct stat st;
  CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644 && st.st_size == 6, "a new file has the mode asked for");
  CHECK(atomic_write_file(path, "7\n", 2, 0600, 0) == 0, "replace without fsync");
  FILE *f = fopen(path, "r");
  size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
  if (f) fclose(f);
  CHECK(n == 2 && memcmp(buf, "7\n", 2) == 0, "the reader sees the whole new content");
  CHECK(access(tmp, F_OK) != 0, "no temporary file left");
  char missing[160];
  snprintf(missing, sizeof missing, "%s/no/such/dir/f", dir);
  CHECK(atomic_write_file(missing, "x", 1, 0600, 0) == -ENOENT, "a missing directory is -ENOENT");
  unlink(path);
  rmdir(dir);
  return tap_done();
}
