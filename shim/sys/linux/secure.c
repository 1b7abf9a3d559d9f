/*
 * secure.c - whether a program about to be started will run without the
 * shim because the loader runs it in secure-execution mode (AT_SECURE):
 * then ld.so ignores LD_PRELOAD (but for set-user-ID libraries in its
 * trusted directories, which the shim is not), and the child, with all it
 * starts in turn, writes nothing.  The exec and spawn hooks ask, so that
 * the timeline says such a child was not traced instead of losing it
 * without a word.
 *
 * The kernel sets AT_SECURE when the exec changes the credentials: a
 * set-user-ID file owned by another user than the caller, a set-group-ID
 * (and group-executable) file of another group, or a file whose
 * capabilities raise the caller's.  Neither happens on a file system
 * mounted nosuid, nor once the caller set no_new_privs.  File
 * capabilities are taken as raising anything for a caller other than
 * root (root's permitted set already holds them all).
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

const char *pp_os_exec_untraced(const char *file, const char *path)
{
    char found[PATH_MAX];
    struct stat st;
    if (!(file = pp_exec_file(file, path, found, sizeof found)))
        return NULL;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
        return NULL;
    struct statvfs vfs;
    if (statvfs(file, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
        return NULL;
    if ((st.st_mode & S_ISUID) && st.st_uid != geteuid())
        return "set-user-ID";
    if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && st.st_gid != getegid())
        return "set-group-ID";
    if (getuid() != 0 && getxattr(file, "security.capability", NULL, 0) > 0)
        return "file capabilities";
    return NULL;
}
