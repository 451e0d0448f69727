/* Tests of the monitor's CRI log writer: record format, partial lines, rotation.
 * The Makefile links tests with common/ only, so the unit under test is
 * included as source. */
#include "../src/monitor/crilog.c"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tap.h"

static char dir[] = "/tmp/berth-crilog-XXXXXX";

static char *slurp(const char *path, size_t *len) {
  static char buf[1 << 16];
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  *len = fread(buf, 1, sizeof buf - 1, f);
  buf[*len] = 0;
  fclose(f);
  return buf;
}

static unsigned count_files(void) {
  DIR *d = opendir(dir);
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void test_timestamp(void) {
  char out[CRILOG_TIMESTAMP_LEN + 1];
  struct timespec ts = {.tv_sec = 1700000000, .tv_nsec = 1234};
  format_rfc3339nano(out, &ts);
  CHECK(strcmp(out, "2023-11-14T22:13:20.000001234Z") == 0, "RFC3339Nano timestamp, fixed width: %s", out);
}

static void test_lines(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/lines.log", dir);
  struct crilog l;
  CHECK(crilog_open(&l, path, 0, 1) == 0, "open");
  struct timespec ts = {.tv_sec = 1700000000, .tv_nsec = 5};
  const char *chunk1 = "hello\nwor";
  const char *chunk2 = "ld\n\nlast";
  CHECK(crilog_write(&l, "stdout", chunk1, strlen(chunk1), &ts) == 0, "write full + partial");
  CHECK(crilog_write(&l, "stderr", chunk2, strlen(chunk2), &ts) == 0, "write rest, empty line, partial");
  crilog_close(&l);
  size_t len;
  char *got = slurp(path, &len);
  const char *want = "2023-11-14T22:13:20.000000005Z stdout F hello\n"
                     "2023-11-14T22:13:20.000000005Z stdout P wor\n"
                     "2023-11-14T22:13:20.000000005Z stderr F ld\n"
                     "2023-11-14T22:13:20.000000005Z stderr F \n"
                     "2023-11-14T22:13:20.000000005Z stderr P last\n";
  CHECK(got && strcmp(got, want) == 0, "records: F per line, P for the unterminated rest\n%s", got ? got : "(none)");
  CHECK(l.size == strlen(want), "size tracked (%llu)", (unsigned long long)l.size);
}

static void test_rotation(void) {
  char path[256], p1[300], p2[300], p3[300];
  snprintf(path, sizeof path, "%s/rot.log", dir);
  snprintf(p1, sizeof p1, "%s.1", path);
  snprintf(p2, sizeof p2, "%s.2", path);
  snprintf(p3, sizeof p3, "%s.3", path);
  struct crilog l;
  /* Each record is 30 + " stdout F " (10) + 9 + "\n" = 50 bytes; two fit in 110. */
  CHECK(crilog_open(&l, path, 110, 3) == 0, "open with max 110 bytes x 3 files");
  struct timespec ts = {.tv_sec = 1700000000};
  char line[16];
  for (int i = 0; i < 9; i++) {
    snprintf(line, sizeof line, "line-%04d\n", i);
    crilog_write(&l, "stdout", line, 10, &ts);
  }
  crilog_close(&l);
  size_t len;
  char *cur = slurp(path, &len);
  CHECK(cur && len == 50 && strstr(cur, "line-0008"), "current file has the newest record (%zu bytes)", len);
  char *one = slurp(p1, &len);
  CHECK(one && len == 100 && strstr(one, "line-0006") && strstr(one, "line-0007"), ".1 has the two before it");
  char *two = slurp(p2, &len);
  CHECK(two && strstr(two, "line-0004") && strstr(two, "line-0005"), ".2 has the two before those");
  CHECK(access(p3, F_OK) != 0, "no .3: max_files counts the current file");
  CHECK(count_files() == 1 + 3, "lines.log + three rotation files, nothing else");
}

static void test_oversize_record(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/big.log", dir);
  struct crilog l;
  crilog_open(&l, path, 64, 1);
  struct timespec ts = {0};
  char big[200];
  memset(big, 'x', sizeof big);
  crilog_write(&l, "stdout", "small\n", 6, &ts);
  crilog_write(&l, "stdout", big, sizeof big, &ts);
  crilog_close(&l);
  size_t len;
  char *got = slurp(path, &len);
  CHECK(got && len == 30 + 10 + 200 + 1 && got[38] == 'P', "one file: an oversize record replaces the file whole (%zu)", len);
  unlink(path);
}

/* A line longer than CRILOG_MAX_CONTENT is split into P records of at most
 * that much content; a long line ending in the same read ends with its F. */
static void test_long_line_split(void) {
  char path[256];
  snprintf(path, sizeof path, "%s/long.log", dir);
  struct crilog l;
  crilog_open(&l, path, 0, 1);
  static char big[40000 + 6];
  memset(big, 'y', 40000);
  memcpy(big + 40000, "tail\n", 5);
  struct timespec ts = {0};
  CHECK(crilog_write(&l, "stdout", big, 40005, &ts) == 0, "write a 40004-byte line in one read");
  crilog_close(&l);
  size_t len;
  char *got = slurp(path, &len);
  size_t sizes[8], n = 0;
  char tags[8];
  bool ok = got != NULL;
  for (char *rec = got; ok && *rec && n < 8; n++) {
    char *nl = strchr(rec, '\n');
    if (!nl) { ok = false; break; }
    tags[n] = rec[38];
    sizes[n] = (size_t)(nl - rec) - 40;
    rec = nl + 1;
  }
  CHECK(ok && n == 3 && tags[0] == 'P' && sizes[0] == CRILOG_MAX_CONTENT && tags[1] == 'P' && sizes[1] == CRILOG_MAX_CONTENT && tags[2] == 'F' &&
            sizes[2] == 40004 - 2 * CRILOG_MAX_CONTENT,
        "three records: P %zu, P %zu, F %zu", n > 0 ? sizes[0] : 0, n > 1 ? sizes[1] : 0, n > 2 ? sizes[2] : 0);
  unlink(path);
}

/* One write of many lines: batched into few writev calls, rotating in the
 * middle of the batch, without losing or reordering a line. */
static void test_batched_rotation(void) {
  char path[256], name[300];
  snprintf(path, sizeof path, "%s/batch.log", dir);
  struct crilog l;
  crilog_open(&l, path, 5000, 100);
  static char buf[1000 * 10];
  size_t len = 0;
  for (int i = 0; i < 1000; i++) len += (size_t)sprintf(buf + len, "n%07d\n", i); /* 9 bytes + newline */
  struct timespec ts = {0};
  CHECK(crilog_write(&l, "stderr", buf, len, &ts) == 0, "write 1000 lines at once");
  crilog_close(&l);
  /* 49 bytes a record (30 + 10 + 8 + 1), 102 per 5000-byte file: 10 files. */
  int next = 0, files = 0;
  bool ok = true;
  for (int f = 99; f >= 0; f--) {
    if (f) snprintf(name, sizeof name, "%s.%d", path, f);
    else snprintf(name, sizeof name, "%s", path);
    size_t flen;
    char *got = slurp(name, &flen);
    if (!got) continue;
    files++;
    if (flen > 5000) ok = false;
    for (char *line = got; *line; line = strchr(line, '\n') + 1) {
      int v;
      if (sscanf(line + 40, "n%d", &v) != 1 || v != next++ || strncmp(line + 31, "stderr F ", 9) != 0) ok = false;
    }
    unlink(name);
  }
  CHECK(ok && next == 1000 && files == 10, "1000 lines in order over %d files of <= 5000 bytes (%d read)", files, next);
}

int main(void) {
  if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
  test_timestamp();
  test_lines();
  test_rotation();
  test_oversize_record();
  test_long_line_split();
  test_batched_rotation();
  struct crilog l;
  CHECK(crilog_open(&l, "/tmp/x", 1, 0) == -EINVAL, "max_files 0 is refused");
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) failures++;
  return tap_done();
}
