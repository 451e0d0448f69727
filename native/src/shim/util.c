/* Errors and small file/socket helpers shared by the subcommands. */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

char shim_err[1024];

static int vfail(int err, const char *fmt, va_list ap)
{
	int n = vsnprintf(shim_err, sizeof shim_err, fmt, ap);
	if (n >= 0 && (size_t)n < sizeof shim_err)
		snprintf(shim_err + n, sizeof shim_err - (size_t)n, ": %s", strerror(err));
	errno = err;
	return -1;
}

int fail(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	vfail(err, fmt, ap);
	va_end(ap);
	return -1;
}

int fail_errno(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(err, fmt, ap);
	va_end(ap);
	return -1;
}

void report(void)
{
	/* One write so concurrent writers to the same pipe don't interleave. */
	char line[sizeof shim_err + 32];
	int n = snprintf(line, sizeof line, "berth-shim: %s\n", shim_err);
	if (n > 0) {
		ssize_t r = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		(void)r;
	}
}

int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, data, len);
	if (n < 0 || (size_t)n != len) {
		int e = n < 0 ? errno : EIO;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

int read_int_file(const char *path, long *out)
{
	char buf[64], *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0) {
		errno = n == 0 ? EINVAL : errno;
		return -1;
	}
	buf[n] = '\0';
	errno = 0;
	*out = strtol(buf, &end, 10);
	if (errno || end == buf || (*end && *end != '\n')) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int send_fd(int sock, int fd, const char *payload)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = (void *)payload, .iov_len = strlen(payload) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm;

	memset(cbuf, 0, sizeof cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof addr.sun_path)
		return fail_errno(ENAMETOOLONG, "--console-socket %s", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("--console-socket %s: socket", path);
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		int e = errno;
		close(fd);
		return fail_errno(e, "--console-socket %s: connect", path);
	}
	return fd;
}

int read_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may contain spaces and parens: fields restart after the last ')'.
	 * starttime is field 22; after ')' come fields 3.. */
	p = strrchr(buf, ')');
	if (!p)
		goto bad;
	p++;
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			goto bad;
		if (field == 22) {
			*out = strtoull(p, NULL, 10);
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
bad:
	errno = EINVAL;
	return -1;
}
