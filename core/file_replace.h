/* file_replace: put new contents in a file whole or not at all.
 *
 * The contents go to a temporary file next to it (path.tmp-<pid>: one
 * process writes a file at a time), which is written, fsynced, closed and
 * renamed over the file; then the directory is fsynced (best effort: some filesystems refuse it) so the rename
 * itself survives a crash. A reader, or a process killed -9 midway,
 * finds the old file or the new one, never a torn one. An existing file's
 * permissions are kept (it may hold a password); a new one gets
 * new_mode. Blocking: not for a shard's loop (the cluster file has a
 * writer thread of its own; CONFIG REWRITE is a rare admin command).
 * Returns 0, or -1 with errno set (the temporary file removed). */
#ifndef RINGKV_FILE_REPLACE_H
#define RINGKV_FILE_REPLACE_H

#include <stddef.h>
#include <sys/types.h>

int file_replace(const char *path, const char *content, size_t len, mode_t new_mode);

#endif
