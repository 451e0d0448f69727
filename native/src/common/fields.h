/*
 * fields: berth's line-oriented text format for configs passed from the
 * TypeScript side to the C programs (berth-shim's config and exec config).
 *
 * A file is a sequence of lines, each ending in '\n'. A line is one or more
 * fields separated by a single TAB; the first field names the directive.
 * Inside a field every byte stands for itself except these escapes, so tabs,
 * newlines and any other byte survive:
 *
 *   \\  backslash      \t  tab        \n  newline     \r  carriage return
 *   \xHH  the byte 0xHH (two hex digits, either case; \x00 is rejected
 *         because C strings cannot hold NUL)
 *
 * Writers must escape '\\', '\t', '\n' and should escape every other control
 * byte as \xHH. Empty lines and lines starting with '#' are ignored. A file
 * whose last line lacks its '\n' is rejected as truncated.
 *
 * Nothing here allocates except fields_escape(); parsing works in place.
 */
#ifndef BERTH_FIELDS_H
#define BERTH_FIELDS_H

#include <stddef.h>

/* Unescapes s in place. Returns 0, or -1 with errno EINVAL on a bad escape
 * (unknown letter, short or non-hex \x, \x00, trailing lone backslash). */
int fields_unescape(char *s);

/* Splits one line (without its '\n') in place on TABs into at most max
 * fields, unescaping each. Returns the number of fields, or -1 with errno
 * EINVAL (bad escape) or E2BIG (more than max fields). */
int fields_split(char *line, char **out, int max);

/* Returns a malloc'd escaped copy of s (NULL with errno ENOMEM). */
char *fields_escape(const char *s);

/* Iterates the lines of buf (len bytes, modified in place: each '\n' becomes
 * NUL). *pos is the cursor, start at 0. Returns the next non-empty,
 * non-comment line, or NULL at the end; sets *lineno to its 1-based number.
 * Returns NULL with errno EINVAL when the last line has no '\n' or a line
 * contains a NUL byte; errno 0 at a clean end. */
char *fields_next_line(char *buf, size_t len, size_t *pos, int *lineno);

/* Reads a whole file (at most max bytes) into a malloc'd NUL-terminated
 * buffer. Returns it and sets *len, or NULL with errno (EFBIG when larger). */
char *fields_read_file(const char *path, size_t max, size_t *len);

#endif
