/*
 * CVE-2019-5736: a process inside the container can open /proc/<pid>/exe
 * of a berth-shim process that has joined the container's namespaces (the
 * init before its execve, or an exec'd process before its execve) and, once
 * the shim exits, reopen that fd for writing to overwrite the host binary
 * that the next `create` will run as root.
 *
 * Defence (as runc's cloned_binary.c): before touching any namespace the
 * shim copies itself into a memfd, seals it against every change, and
 * re-executes from it. /proc/<pid>/exe then names the sealed memfd, which
 * no one can write, and the host binary is never the executable of a
 * process a container can see.
 */
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define REQUIRED_SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

static bool is_cloned(void)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int seals;

	if (fd < 0)
		return false;
	seals = fcntl(fd, F_GET_SEALS);
	close(fd);
	return seals >= 0 && (seals & REQUIRED_SEALS) == REQUIRED_SEALS;
}

int ensure_cloned_binary(char **argv)
{
	int exe, mfd;
	struct stat st;
	off_t off = 0;

	if (is_cloned())
		return 0;
	exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0)
		return fail("cloned binary: open /proc/self/exe");
	if (fstat(exe, &st) < 0) {
		close(exe);
		return fail("cloned binary: stat /proc/self/exe");
	}
	/* MFD_CLOEXEC: execveat(AT_EMPTY_PATH) of a close-on-exec fd works
	 * for ELF binaries (only scripts need the fd to survive, for their
	 * interpreter), and the new image must not inherit the fd: the
	 * container would otherwise get a handle on it. */
	mfd = memfd_create("berth-shim", MFD_ALLOW_SEALING | MFD_CLOEXEC);
	if (mfd < 0) {
		close(exe);
		return fail("cloned binary: memfd_create");
	}
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, exe, NULL, (size_t)(st.st_size - off));
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(exe);
			close(mfd);
			return fail_errno(e, "cloned binary: copy /proc/self/exe to memfd");
		}
		off += n;
	}
	close(exe);
	if (fcntl(mfd, F_ADD_SEALS, REQUIRED_SEALS) < 0) {
		close(mfd);
		return fail("cloned binary: seal memfd");
	}
	syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
	close(mfd);
	return fail("cloned binary: execveat memfd");
}
