/*
 * atomicfile: a file written whole, for readers that must never see a part
 * of it (the monitor's exit records and pid file, the shim's pid and state
 * files): the bytes go to "<path>.tmp", which is renamed over <path>.
 */
#ifndef BERTH_COMMON_ATOMICFILE_H
#define BERTH_COMMON_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Writes len bytes of data to path through path.tmp + rename(2): a reader sees
 * the old content or all of the new. mode applies to a new file; with sync,
 * the data is fsync'd before the rename, so it also survives a crash.
 * Returns 0, or -errno with the temporary file removed.
 */
int atomic_write_file(const char *path, const char *data, size_t len, mode_t mode, int sync);

#endif
