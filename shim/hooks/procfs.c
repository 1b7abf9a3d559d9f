/*
 * procfs.c - the interposed fopen and fopen64, for one file only: the
 * program's own /proc/self/stat, read through a stream whose thread count
 * leaves out the shim's sampler thread (sys/linux/selfstat.c says why).
 * Every other call goes to the real function untouched, with its errno.
 * Linux only: on macOS the thread count comes from task_threads, which no
 * hook here can change (docs/robustness.md).
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <stdio.h>
#include <string.h>

#define REAL(name) PP_REAL_FN(name)

#if defined(__linux__)
/* a stream over the stat text without the sampler thread, or NULL */
static FILE *self_stat(const char *path, const char *mode)
{
    pid_t sampler = pp_sampler_tid();
    if (!sampler || !path || !mode || mode[0] != 'r' || strchr(mode, '+') ||
        !pp_os_is_self_stat(path))
        return NULL;
    return pp_os_self_stat_stream(mode, sampler);
}

PP_HOOK(FILE *, fopen, (const char *path, const char *mode))
{
    FILE *f = self_stat(path, mode);
    if (f)
        return f;
    REAL(fopen);
    return real_fopen(path, mode);
}

PP_HOOK(FILE *, fopen64, (const char *path, const char *mode))
{
    FILE *f = self_stat(path, mode);
    if (f)
        return f;
    REAL(fopen64);
    return real_fopen64(path, mode);
}
#endif
