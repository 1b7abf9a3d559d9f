/*
 * killed.c - what `perfprobe run` says when the program was killed: the
 * signal, and whether the kernel's OOM killer sent it.
 *
 * The OOM killer leaves one trace a process outside the victim can read:
 * the oom_kill count in memory.events of the cgroup (v2) the victim ran in,
 * which counts kills in that cgroup and below it.  `run` reads the count of
 * its own cgroup (the child starts in it) before it starts the program and
 * after the program ends; a count that moved while the program was killed
 * by SIGKILL means the OOM killer.  No cgroup v2, or no memory controller:
 * nothing is claimed.  (A kill of another process of the same cgroup in
 * that moment would be taken for the program's; the line says "in its
 * cgroup".)
 */
#define _GNU_SOURCE
#include "run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cgroup_dir(char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    int found = 0;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = 0;
            snprintf(out, cap, "/sys/fs/cgroup%s", strcmp(line + 3, "/") ? line + 3 : "");
            found = 1;
        }
    fclose(f);
    return found ? 0 : -1;
}

long oom_kill_count(void)
{
    char dir[1100], path[1200], line[256];
    if (cgroup_dir(dir, sizeof dir) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/memory.events", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long n = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "oom_kill ", 9))
            n = strtol(line + 9, NULL, 10);
    fclose(f);
    return n;
}

/* the signal's name without "SIG" (sigabbrev_np is glibc's only) */
static const char *sig_name(int sig)
{
    static const struct { int sig; const char *name; } names[] = {
        {SIGHUP, "HUP"},   {SIGINT, "INT"},   {SIGQUIT, "QUIT"}, {SIGILL, "ILL"},
        {SIGTRAP, "TRAP"}, {SIGABRT, "ABRT"}, {SIGBUS, "BUS"},   {SIGFPE, "FPE"},
        {SIGKILL, "KILL"}, {SIGUSR1, "USR1"}, {SIGSEGV, "SEGV"}, {SIGUSR2, "USR2"},
        {SIGPIPE, "PIPE"}, {SIGALRM, "ALRM"}, {SIGTERM, "TERM"}, {SIGXCPU, "XCPU"},
        {SIGXFSZ, "XFSZ"}, {SIGSYS, "SYS"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return NULL;
}

void killed_line(FILE *f, const char *cmd, long pid, int sig, long oom_before)
{
    long oom_after = oom_before >= 0 ? oom_kill_count() : -1;
    const char *name = sig_name(sig);
    fprintf(f, "perfprobe: %s (pid %ld) was killed by signal %d (SIG%s)", cmd, pid, sig,
            name ? name : "?");
    if (sig == SIGKILL && oom_after > oom_before)
        fprintf(f, ": the kernel's OOM killer (oom_kill in its cgroup's memory.events went "
                   "from %ld to %ld)", oom_before, oom_after);
    fprintf(f, "\n");
}
