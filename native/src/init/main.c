/*
 * berth-init: a minimal pid 1 for containers (like tini, `docker run
 * --init`). The kernel gives pid 1 of a pid namespace two jobs a normal
 * program does not do: orphans are reparented to it and must be reaped,
 * and signals without a handler are ignored for it (so SIGTERM from
 * `berth stop` would do nothing to an application that runs as pid 1).
 *
 *   berth-init [--] cmd [args...]
 *   berth-init --pause
 *
 * Spawns cmd in its own process group (in the foreground of the terminal
 * when stdin is one), forwards every catchable signal to it, reaps every
 * child, and exits with cmd's status: its exit code, or 128+signal when a
 * signal killed it. If cmd cannot be executed: 127 when not found, 126
 * otherwise. Also a child subreaper, so it does its job when not pid 1.
 *
 * --pause is a pod sandbox's process (Kubernetes' pause): it runs nothing,
 * reaps whatever is reparented to it and exits 0 on SIGINT or SIGTERM. A
 * pod's containers that share its PID namespace see it by this name, not as
 * a `sleep` that their own checks (critest's `pgrep sleep`) would find.
 *
 * Statically linked: it is bind-mounted into images that may have no libc.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Synchronous signals are about the faulting thread itself: never block or
 * forward them. */
static bool is_synchronous(int sig)
{
	return sig == SIGFPE || sig == SIGILL || sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGTRAP || sig == SIGSYS;
}

static void __attribute__((noreturn)) run_child(char **argv, const sigset_t *orig)
{
	int code;

	/* Own process group, so a terminal's ^C reaches cmd's group and
	 * forwarding to the group is possible for callers that want it. */
	setpgid(0, 0);
	if (isatty(STDIN_FILENO)) {
		/* tcsetpgrp from a background group raises SIGTTOU: ignore it
		 * for the call. */
		signal(SIGTTOU, SIG_IGN);
		tcsetpgrp(STDIN_FILENO, getpgrp());
		signal(SIGTTOU, SIG_DFL);
	}
	sigprocmask(SIG_SETMASK, orig, NULL);
	execvp(argv[0], argv);
	code = errno == ENOENT || errno == ENOTDIR ? 127 : 126;
	fprintf(stderr, "berth-init: exec \"%s\": %s\n", argv[0], strerror(errno));
	_exit(code);
}

static int pause_until_stopped(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	for (;;) {
		int sig = sigwaitinfo(&set, NULL);

		if (sig == SIGINT || sig == SIGTERM)
			return 0;
		if (sig < 0 && errno != EINTR) {
			fprintf(stderr, "berth-init: sigwaitinfo: %s\n", strerror(errno));
			return 1;
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

int main(int argc, char **argv)
{
	sigset_t all, orig;
	pid_t child;
	int first = 1;

	if (argc == 2 && strcmp(argv[1], "--pause") == 0)
		return pause_until_stopped();
	if (argc > 1 && strcmp(argv[1], "--") == 0)
		first = 2;
	if (first >= argc) {
		fputs("usage: berth-init [--] cmd [args...] | --pause\n", stderr);
		return 2;
	}
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigfillset(&all);
	for (int s = 1; s < NSIG; s++)
		if (is_synchronous(s))
			sigdelset(&all, s);
	/* Blocked before the fork so no signal is lost between fork and the
	 * wait loop; the child restores the original mask before exec. */
	sigprocmask(SIG_SETMASK, &all, &orig);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "berth-init: fork: %s\n", strerror(errno));
		return 1;
	}
	if (child == 0)
		run_child(argv + first, &orig);
	for (;;) {
		siginfo_t info;
		struct timespec tick = { .tv_sec = 1 };
		int sig = sigtimedwait(&all, &info, &tick);

		if (sig > 0 && sig != SIGCHLD) {
			/* Forward; ESRCH just means it is already gone. */
			kill(child, sig);
			continue;
		}
		if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "berth-init: sigtimedwait: %s\n", strerror(errno));
			return 1;
		}
		/* SIGCHLD or the periodic tick (SIGCHLDs coalesce): reap all. */
		for (;;) {
			int status;
			pid_t p = waitpid(-1, &status, WNOHANG);
			if (p <= 0)
				break;
			if (p != child)
				continue;
			/* Reap whatever else is already dead, then leave; when
			 * pid 1 exits the kernel kills the rest of the
			 * namespace. */
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
	}
}
