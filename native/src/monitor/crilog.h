/*
 * CRI log writer: the kubelet's container log format, one record per line:
 *
 *   <RFC3339Nano timestamp> <stdout|stderr> <P|F> <content>\n
 *
 * F marks a record that ends a line of the container's output (its '\n' is
 * the record's terminator), P a piece of a line that had no '\n' yet when the
 * monitor read it (a prompt, a line longer than the read buffer, or a write
 * split by the kernel). A record holds at most CRILOG_MAX_CONTENT bytes of
 * content: a longer line is written as several P records (Docker splits
 * its log messages at 16 KiB the same way), so a reader's memory per record
 * is bounded whatever the container prints. Readers join P records up to
 * the next F, or pass them on as pieces. Like conmon,
 * partial lines are not held back across reads: the log never lags the
 * container, and the writer needs no per-stream buffer.
 *
 * Rotation is by size and count: before a record would take the current file
 * past max_size, <path> becomes <path>.1, <path>.1 becomes <path>.2 ... and
 * <path>.<max_files-1> is dropped, so at most max_files files exist. A single
 * record is never split over two files (a record larger than max_size gets a
 * file to itself).
 *
 * Functions return 0 or a negative errno.
 */
#ifndef BERTH_MONITOR_CRILOG_H
#define BERTH_MONITOR_CRILOG_H

#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <time.h>

#define CRILOG_DEFAULT_MAX_SIZE (10u * 1024 * 1024)
#define CRILOG_DEFAULT_MAX_FILES 5u
/* "2026-11-29T07:08:49.123456789Z" */
#define CRILOG_TIMESTAMP_LEN 30
/* Content bytes per record at most (libs/cri-log's MAX_RECORD_CONTENT). */
#define CRILOG_MAX_CONTENT (16u * 1024)

struct crilog {
  int fd;             /* -1 when closed */
  uint64_t size;      /* bytes in the current file */
  uint64_t max_size;  /* 0: never rotate */
  unsigned max_files; /* >= 1, counting the current file */
  char path[PATH_MAX];
};

/* Opens (appending to) path; fails with -EINVAL for max_files 0. */
int crilog_open(struct crilog *l, const char *path, uint64_t max_size, unsigned max_files);

/*
 * Writes one read's worth of output from stream ("stdout"/"stderr") as records
 * stamped ts: a record per '\n'-terminated line (F), then the rest (P).
 */
int crilog_write(struct crilog *l, const char *stream, const char *buf, size_t len, const struct timespec *ts);

void crilog_close(struct crilog *l);

/* Formats ts as UTC RFC3339 with 9 fractional digits into out (>= 31 bytes). */
void format_rfc3339nano(char *out, const struct timespec *ts);

#endif
