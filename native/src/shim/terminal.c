/*
 * A pty for a container process, allocated inside the container (its
 * devpts instance, so the container sees it in /dev/pts and owns it), with
 * the master handed to the engine over the console socket (SCM_RIGHTS, as
 * runc's --console-socket). The message's data is the slave's name inside
 * the container, e.g. "/dev/pts/0".
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

int terminal_setup(int console_fd, bool bind_console)
{
	char name[64];
	int master, slave;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return fail("terminal: open /dev/ptmx (is devpts mounted on /dev/pts with ptmxmode?)");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof name) != 0) {
		int e = errno;
		close(master);
		return fail_errno(e, "terminal: unlock pty");
	}
	/* TIOCGPTPEER opens the slave through the master, immune to a
	 * swapped /dev/pts/N; fall back to the name on old kernels. */
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		int e = errno;
		close(master);
		return fail_errno(e, "terminal: open %s", name);
	}
	if (bind_console && mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0) {
		int e = errno;
		close(master);
		close(slave);
		return fail_errno(e, "terminal: bind %s onto /dev/console", name);
	}
	if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0) {
		int e = errno;
		close(master);
		close(slave);
		return fail_errno(e, "terminal: make %s the controlling terminal", name);
	}
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0) {
			int e = errno;
			close(master);
			return fail_errno(e, "terminal: dup %s onto stdio", name);
		}
	if (slave > 2)
		close(slave);
	if (send_fd(console_fd, master, name) < 0) {
		int e = errno;
		close(master);
		return fail_errno(e, "terminal: send pty master over --console-socket");
	}
	close(master);
	return 0;
}
