/* Small helpers of berth-monitor: pid files, JSON strings, paths (files written whole: common/atomicfile.h). */
#ifndef BERTH_MONITOR_UTIL_H
#define BERTH_MONITOR_UTIL_H

#include "atomicfile.h"

#include <stddef.h>
#include <sys/types.h>

/* Reads a decimal pid (optionally followed by whitespace) from path. Returns the pid or -errno. */
pid_t read_pid_file(const char *path);

/*
 * Appends s, escaped as the inside of a JSON string, to out (size cap, used
 * *len); stops early rather than overflow and always NUL-terminates.
 */
void json_escape(char *out, size_t cap, size_t *len, const char *s, size_t slen);

/* snprintf into a PATH_MAX buffer, -ENAMETOOLONG when it does not fit. */
int path_join(char *out, size_t cap, const char *dir, const char *name);

#endif
