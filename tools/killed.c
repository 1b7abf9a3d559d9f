/*
 * killed.c - what `perfprobe run` says when the program was killed: the
 * signal, and whether the kernel's OOM killer sent it.
 *
 * The OOM killer leaves one trace a process outside the victim can read:
 * the oom_kill count of the cgroup the victim ran in.  cgroup v2: in
 * memory.events, counting kills in that cgroup and below it.  cgroup v1
 * (the memory hierarchy): the oom_kill line of memory.oom_control (kernel
 * 4.13 and later), counting kills in that cgroup only.  `run` reads the
 * count of its own cgroup (the child starts in it) before it starts the
 * program and after the program ends; a count that moved while the program
 * was killed by SIGKILL means the OOM killer.  v2 is read when its cgroup
 * has a memory.events, else v1; neither: nothing is claimed.  (A kill of
 * another process of the same cgroup in that moment would be taken for the
 * program's; the line says "in its cgroup".)
 *
 * The cgroup's directory: the path of the process's line in
 * /proc/self/cgroup ("0::PATH" for v2, "N:...memory...:PATH" for v1) is
 * relative to the root of its cgroup namespace, as is the root field of
 * the mount in /proc/self/mountinfo: the directory is the mount point
 * followed by PATH less that root (the lines are parsed as the shim's
 * cgroup.c parses them: shim/sys/linux/cgroup_lines.h).
 */
#define _GNU_SOURCE
#include "run.h"
#include "../shim/sys/linux/cgroup_lines.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the mount of TYPE ("cgroup2", or "cgroup" with the memory controller)
 * whose root holds PATH: OUT is its directory for PATH */
static int under_mount(const char *type, const char *path, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[4096];
    int found = 0;
    if (!f)
        return -1;
    while (!found && fgets(line, sizeof line, f)) {
        char *root, *point, *mtype, *super;
        line[strcspn(line, "\n")] = 0;
        if (pp_cg_mount_line(line, &root, &point, &mtype, &super) < 0 || strcmp(mtype, type) ||
            (!strcmp(type, "cgroup") && !pp_cg_has_item(super, "memory")))
            continue;
        found = pp_cg_join_under(out, cap, point, root, path) == 0;
    }
    fclose(f);
    return found ? 0 : -1;
}

/* the process's cgroup path in v2 (V1 0) or in v1's memory hierarchy */
static int cgroup_path(int v1, char *out, size_t cap)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[4096];
    int found = 0;
    if (!f)
        return -1;
    while (!found && fgets(line, sizeof line, f)) {
        const char *path;
        line[strcspn(line, "\n")] = 0;
        if (pp_cg_cgroup_line(line, &path) == (v1 ? 1 : 2)) {
            snprintf(out, cap, "%s", path);
            found = 1;
        }
    }
    fclose(f);
    return found ? 0 : -1;
}

/* the oom_kill count in FILE of the cgroup in version V1 (0: v2); -1 when
 * there is none to read */
static long count_in(int v1, const char *file)
{
    char cg[2048], dir[3072], path[3200], line[256];
    if (cgroup_path(v1, cg, sizeof cg) < 0 ||
        under_mount(v1 ? "cgroup" : "cgroup2", cg, dir, sizeof dir) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s", dir, file);
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

long oom_kill_count(const char **file)
{
    static const char *const files[2] = {"memory.events", "memory.oom_control"};
    for (int v1 = 0; v1 < 2; v1++) {
        long n = count_in(v1, files[v1]);
        if (n >= 0) {
            *file = files[v1];
            return n;
        }
    }
    *file = NULL;
    return -1;
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
    const char *file = NULL;
    long oom_after = oom_before >= 0 ? oom_kill_count(&file) : -1;
    const char *name = sig_name(sig);
    fprintf(f, "perfprobe: %s (pid %ld) was killed by signal %d (SIG%s)", cmd, pid, sig,
            name ? name : "?");
    if (sig == SIGKILL && oom_after > oom_before)
        fprintf(f, ": the kernel's OOM killer (oom_kill in its cgroup's %s went from %ld to %ld)",
                file, oom_before, oom_after);
    fprintf(f, "\n");
}
