/*
 * berth-shim entry point.
 *
 *   berth-shim create <state-dir> [--console-socket <path>]
 *   berth-shim start <state-dir>
 *   berth-shim exec <state-dir> <exec-config> [--console-socket <path>] [--pid-file <path>]
 *
 * See docs/design/shim.md for the state directory layout and protocol.
 */
#include "shim.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A closed stdin/stdout/stderr would be reused by the next fd we open
 * (a sync socket, the config) and could end up as the container's stdio:
 * put /dev/null there first. */
static void ensure_stdio(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(1);
}

static void usage(void)
{
	fputs("usage: berth-shim create <state-dir> [--console-socket <path>]\n"
	      "       berth-shim start <state-dir>\n"
	      "       berth-shim exec <state-dir> <exec-config> [--console-socket <path>] [--pid-file <path>]\n",
	      stderr);
}

int main(int argc, char **argv)
{
	ensure_stdio();
	if (argc < 3) {
		usage();
		return 2;
	}
	if (strcmp(argv[1], "start") == 0)
		return cmd_start(argc - 2, argv + 2);
	if (strcmp(argv[1], "create") == 0 || strcmp(argv[1], "exec") == 0) {
		/* Before anything else: no namespace has been entered yet. */
		if (ensure_cloned_binary(argv) < 0) {
			report();
			return 1;
		}
		return argv[1][0] == 'c' ? cmd_create(argc - 2, argv + 2) : cmd_exec(argc - 2, argv + 2);
	}
	usage();
	return 2;
}
