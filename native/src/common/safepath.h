/*
 * safepath: open and create paths inside a directory tree (a container's
 * root filesystem) without letting symlinks, "..", or races lead outside it.
 *
 * The container image is untrusted: /etc/resolv.conf may be a symlink to
 * /etc/shadow on the host ("/" meaning the host's root when the engine
 * resolves it naively), /proc may be a symlink to /. Every path here is
 * resolved as if rootfd were "/": absolute symlinks restart at rootfd, ".."
 * never climbs above it, and the result is an O_PATH fd, so the caller
 * mounts on /proc/self/fd/N and never re-resolves a path string that could
 * have been swapped in between (CVE-2021-30465 class).
 *
 * Resolution uses openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) when the
 * kernel has it (5.6+) and otherwise walks component by component with
 * O_NOFOLLOW, following symlinks by hand (at most 40, like the kernel).
 */
#ifndef BERTH_SAFEPATH_H
#define BERTH_SAFEPATH_H

#include <sys/types.h>

/* Returns an O_PATH|O_CLOEXEC fd for path inside rootfd (a trailing symlink
 * is followed, inside the root), or -1 with errno. */
int safepath_open(int rootfd, const char *path);

/* The same, forcing the portable component-wise walk (for tests). */
int safepath_open_walk(int rootfd, const char *path);

/* Kinds of object safepath_mkpath creates for the last component. */
enum safepath_kind { SAFEPATH_DIR, SAFEPATH_FILE };

/* Opens path inside rootfd like safepath_open, first creating what is
 * missing: directories (mode dirmode) for every missing parent and, for the
 * last component, a directory or an empty regular file (mode 0644) as kind
 * says. An existing object of another kind is returned as is (the caller's
 * mount will fail with a precise error). A dangling symlink as a component
 * gets its target created, inside the root like every resolution here
 * (/var/run -> /run with /run missing). Returns an O_PATH fd or -1 with
 * errno. */
int safepath_mkpath(int rootfd, const char *path, enum safepath_kind kind, mode_t dirmode);

/* Formats "/proc/self/fd/<fd>" into buf (at least 32 bytes); returns buf. */
char *safepath_fdpath(int fd, char *buf);

#endif
