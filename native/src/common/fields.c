/* fields: see fields.h for the format. */
#include "fields.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int fields_unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (*r != '\\') {
			*w++ = *r;
			continue;
		}
		r++;
		switch (*r) {
		case '\\': *w++ = '\\'; break;
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 'x': {
			int hi = hexval(r[1]), lo = hi < 0 ? -1 : hexval(r[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				errno = EINVAL;
				return -1;
			}
			*w++ = (char)(hi << 4 | lo);
			r += 2;
			break;
		}
		default: /* includes the NUL after a trailing backslash */
			errno = EINVAL;
			return -1;
		}
	}
	*w = '\0';
	return 0;
}

int fields_split(char *line, char **out, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *tab = strchr(p, '\t');
		if (n == max) {
			errno = E2BIG;
			return -1;
		}
		if (tab)
			*tab = '\0';
		if (fields_unescape(p) < 0)
			return -1;
		out[n++] = p;
		if (!tab)
			return n;
		p = tab + 1;
	}
}

char *fields_escape(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s);
	char *out = malloc(n * 4 + 1), *w = out;

	if (!out)
		return NULL;
	for (const unsigned char *r = (const unsigned char *)s; *r; r++) {
		switch (*r) {
		case '\\': *w++ = '\\'; *w++ = '\\'; break;
		case '\t': *w++ = '\\'; *w++ = 't'; break;
		case '\n': *w++ = '\\'; *w++ = 'n'; break;
		case '\r': *w++ = '\\'; *w++ = 'r'; break;
		default:
			if (*r < 0x20 || *r == 0x7f) {
				*w++ = '\\'; *w++ = 'x';
				*w++ = hex[*r >> 4]; *w++ = hex[*r & 15];
			} else {
				*w++ = (char)*r;
			}
		}
	}
	*w = '\0';
	return out;
}

char *fields_next_line(char *buf, size_t len, size_t *pos, int *lineno)
{
	while (*pos < len) {
		char *line = buf + *pos;
		char *nl = memchr(line, '\n', len - *pos);
		if (!nl || memchr(line, '\0', (size_t)(nl - line))) {
			errno = EINVAL; /* truncated file, or a raw NUL byte */
			return NULL;
		}
		*nl = '\0';
		*pos = (size_t)(nl - buf) + 1;
		(*lineno)++;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		return line;
	}
	errno = 0;
	return NULL;
}

char *fields_read_file(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf = NULL;
	size_t n = 0;

	if (fd < 0)
		return NULL;
	buf = malloc(max + 1);
	if (!buf)
		goto fail;
	for (;;) {
		ssize_t r = read(fd, buf + n, max + 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			errno = EFBIG;
			goto fail;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
fail: {
	int e = errno;
	free(buf);
	close(fd);
	errno = e;
	return NULL;
}
}
