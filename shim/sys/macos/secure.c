/*
 * secure.c - whether a program about to be started will run without the
 * shim whatever its environment says (sys.h: pp_os_exec_untraced).  On
 * macOS dyld drops every DYLD_* variable when the program lies where
 * System Integrity Protection guards it (/bin, /sbin, /usr but
 * /usr/local, /System), and when it is set-user-ID or set-group-ID for
 * another user or group: then the child, and all it starts in turn (a
 * shell's children: system() runs /bin/sh), writes nothing, and the
 * timeline says so instead.  Built here, not run on a Mac: the hardened
 * runtime and arm64e programs, which dyld also keeps the library out of,
 * are not looked at (reading a code signature is `perfprobe run`'s job,
 * tools/sys/launch.c, not a hook's).
 */
#include "sys/sys.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(path, dir, n) == 0 && path[n] == '/';
}

const char pp_os_other_abi[] = "another architecture";      /* never given here */

int pp_os_exec_other_abi(const char *file)
{
    (void)file;
    return 0;
}

const char *pp_os_exec_untraced(const char *file, const char *path)
{
    char found[PATH_MAX], real[PATH_MAX];
    struct stat st;
    if (!(file = pp_exec_file(file, path, found, sizeof found)))
        return NULL;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode) || !realpath(file, real))
        return NULL;
    if ((under(real, "/usr") && !under(real, "/usr/local")) || under(real, "/bin") ||
        under(real, "/sbin") || under(real, "/System"))
        return "System Integrity Protection";
    if ((st.st_mode & S_ISUID) && st.st_uid != geteuid())
        return "set-user-ID";
    if ((st.st_mode & S_ISGID) && st.st_gid != getegid())
        return "set-group-ID";
    return NULL;
}
