/*
** resolve.h - the object a path names, from the calling thread's point of view.
*/
#ifndef LUATRAP_RESOLVE_H
#define LUATRAP_RESOLVE_H

#include <stddef.h>
#include <sys/types.h>

#define LT_PATH_MAX 4096
#define LT_AT_FDCWD (-100)

/* The absolute path (from the caller's root) of what `path`, relative to `dirfd` (or
** the working directory: LT_AT_FDCWD), names for thread `tid` of process `pid` (0, 0:
** the calling thread), following a symbolic link in last place if `follow_last`.
** A missing last component is named as it would be created. 0 or -errno. */
int lt_resolve(pid_t pid, pid_t tid, int dirfd, const char *path, int follow_last, char *out,
               size_t outlen);

#endif
