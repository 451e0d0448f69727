#include "sync.h"
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int sync_send(int fd, int type, int value)
{
	struct sync_msg m = { .type = type, .value = value };
	ssize_t n;

	do
		n = send(fd, &m, sizeof m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof m ? 0 : -1;
}

void sync_send_error(int fd)
{
	struct sync_msg m = { .type = SYNC_ERROR };
	snprintf(m.text, sizeof m.text, "%s", shim_err);
	if (send(fd, &m, sizeof m, MSG_NOSIGNAL) < 0) {
		/* The parent is gone; nobody to tell. */
	}
}

int sync_recv(int fd, struct sync_msg *m)
{
	ssize_t n;

	do
		n = recv(fd, m, sizeof *m, 0);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof *m) {
		m->text[sizeof m->text - 1] = '\0';
		return 0;
	}
	if (n >= 0)
		errno = 0;
	return -1;
}

int sync_expect(int fd, int type)
{
	struct sync_msg m;
	if (sync_recv(fd, &m) < 0 || m.type != type)
		return -1;
	return 0;
}
