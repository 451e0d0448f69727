/*
 * `berth-shim start <state-dir>`: releases the init waiting in exec.fifo.
 *
 * The init holds the fifo open O_RDWR and blocks reading one byte. Opening
 * it O_WRONLY|O_NONBLOCK succeeds only while some reader exists, so ENXIO
 * means the init is gone, and ENOENT that the container was never created
 * or was already started (we unlink the fifo after the write).
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int cmd_start(int argc, char **argv)
{
	char fifo[4200];
	int fd;

	if (argc != 1) {
		fail_errno(EINVAL, "start: expected exactly <state-dir>");
		report();
		return 2;
	}
	snprintf(fifo, sizeof fifo, "%s/exec.fifo", argv[0]);
	fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			fail("start: container is not waiting to start (no %s: never created, or already started)", fifo);
		else if (errno == ENXIO)
			fail("start: container is not waiting to start (its init exited; nothing reads %s)", fifo);
		else
			fail("start: open %s", fifo);
		report();
		return 1;
	}
	if (write(fd, "0", 1) != 1) {
		fail("start: write %s", fifo);
		close(fd);
		report();
		return 1;
	}
	close(fd);
	/* The init has its byte; the fifo's only job is done. */
	unlink(fifo);
	return 0;
}
