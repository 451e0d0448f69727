#include "crilog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static char *put_digits(char *out, unsigned long v, int width) {
  for (int i = width - 1; i >= 0; i--) {
    out[i] = (char)('0' + v % 10);
    v /= 10;
  }
  return out + width;
}

void format_rfc3339nano(char *out, const struct timespec *ts) {
  struct tm tm;
  gmtime_r(&ts->tv_sec, &tm);
  /* Fixed width (9 digits, always Z) so records sort as text; Go's
   * time.Parse(RFC3339Nano) accepts it, which is what kubelet uses. */
  char *o = put_digits(out, (unsigned long)tm.tm_year + 1900, 4);
  *o++ = '-';
  o = put_digits(o, (unsigned long)tm.tm_mon + 1, 2);
  *o++ = '-';
  o = put_digits(o, (unsigned long)tm.tm_mday, 2);
  *o++ = 'T';
  o = put_digits(o, (unsigned long)tm.tm_hour, 2);
  *o++ = ':';
  o = put_digits(o, (unsigned long)tm.tm_min, 2);
  *o++ = ':';
  o = put_digits(o, (unsigned long)tm.tm_sec, 2);
  *o++ = '.';
  o = put_digits(o, (unsigned long)ts->tv_nsec, 9);
  *o++ = 'Z';
  *o = 0;
}

/* <path>.<i>; crilog_open made sure it fits. */
static void numbered(char *out, const char *path, unsigned i) {
  size_t n = strlen(path);
  memcpy(out, path, n);
  out[n++] = '.';
  char digits[12];
  int d = 0;
  do {
    digits[d++] = (char)('0' + i % 10);
    i /= 10;
  } while (i);
  while (d) out[n++] = digits[--d];
  out[n] = 0;
}

static int open_current(struct crilog *l) {
  int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  l->fd = fd;
  l->size = (uint64_t)st.st_size;
  return 0;
}

int crilog_open(struct crilog *l, const char *path, uint64_t max_size, unsigned max_files) {
  l->fd = -1;
  if (max_files == 0) return -EINVAL;
  if (strlen(path) + 12 >= sizeof l->path) return -ENAMETOOLONG; /* room for ".<n>" */
  strcpy(l->path, path);
  l->max_size = max_size;
  l->max_files = max_files;
  return open_current(l);
}

static int rotate(struct crilog *l) {
  char from[PATH_MAX], to[PATH_MAX];
  close(l->fd);
  l->fd = -1;
  if (l->max_files == 1) {
    /* Nothing to keep: start the one file over. */
    if (truncate(l->path, 0) < 0 && errno != ENOENT) return -errno;
    return open_current(l);
  }
  numbered(to, l->path, l->max_files - 1);
  if (unlink(to) < 0 && errno != ENOENT) return -errno;
  for (unsigned i = l->max_files - 1; i > 1; i--) {
    numbered(from, l->path, i - 1);
    numbered(to, l->path, i);
    if (rename(from, to) < 0 && errno != ENOENT) return -errno;
  }
  numbered(to, l->path, 1);
  if (rename(l->path, to) < 0 && errno != ENOENT) return -errno;
  return open_current(l);
}

static int write_record(struct crilog *l, const char *prefix, size_t prefix_len, const char *content, size_t len) {
  size_t total = prefix_len + len + 1;
  if (l->max_size && l->size > 0 && l->size + total > l->max_size) {
    int r = rotate(l);
    if (r < 0) return r;
  }
  struct iovec iov[3] = {
      {(void *)prefix, prefix_len},
      {(void *)content, len},
      {(void *)"\n", 1},
  };
  size_t done = 0;
  while (done < total) {
    /* O_APPEND writes to a regular file are complete unless the disk is full;
     * the loop covers signals and short writes all the same. */
    ssize_t n = writev(l->fd, iov, 3);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    done += (size_t)n;
    l->size += (uint64_t)n;
    size_t skip = (size_t)n;
    for (int i = 0; i < 3; i++) {
      size_t take = skip < iov[i].iov_len ? skip : iov[i].iov_len;
      iov[i].iov_base = (char *)iov[i].iov_base + take;
      iov[i].iov_len -= take;
      skip -= take;
    }
  }
  return 0;
}

int crilog_write(struct crilog *l, const char *stream, const char *buf, size_t len, const struct timespec *ts) {
  if (l->fd < 0) return -EBADF;
  char prefix[CRILOG_TIMESTAMP_LEN + 16];
  format_rfc3339nano(prefix, ts);
  size_t slen = strlen(stream);
  if (slen > 8) return -EINVAL;
  size_t plen = CRILOG_TIMESTAMP_LEN;
  prefix[plen++] = ' ';
  memcpy(prefix + plen, stream, slen);
  plen += slen;
  prefix[plen++] = ' ';
  size_t tag = plen; /* where P/F goes */
  prefix[plen++] = 'F';
  prefix[plen++] = ' ';

  while (len > 0) {
    const char *nl = memchr(buf, '\n', len);
    size_t line = nl ? (size_t)(nl - buf) : len;
    prefix[tag] = nl ? 'F' : 'P';
    int r = write_record(l, prefix, plen, buf, line);
    if (r < 0) return r;
    if (!nl) break;
    buf += line + 1;
    len -= line + 1;
  }
  return 0;
}

void crilog_close(struct crilog *l) {
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
}
