/*
 * killed.c - what `perfprobe run` says when the program was killed: the
 * signal, and whether the kernel's OOM killer sent it.
 *
 * The OOM killer leaves one trace a process outside the victim can read:
 * the oom_kill count of the cgroup the victim ran in, which moves for the
 * victim's own cgroup whichever limit was hit, its own or an ancestor's (a
 * container's, a slice's).  cgroup v2: the oom_kill line of memory.events,
 * "the number of processes belonging to this cgroup killed", hierarchical
 * (an ancestor's count moves too, and also for kills of its other
 * children; memory.events.local would not count the cgroup's children).
 * cgroup v1 (the memory hierarchy): the oom_kill line of memory.oom_control
 * (kernel 4.13 and later), counting kills in that cgroup only (since 5.7;
 * an ancestor's count does not move).  So `run` reads the count of its own
 * cgroup (the child starts in it) before it starts the program and after
 * the program ends; a count that moved while the program was killed by
 * SIGKILL means the OOM killer.  In v2, a cgroup where the memory
 * controller is off has no memory.events, and its processes are charged to
 * the nearest ancestor where it is on: that ancestor's file is read.  v2
 * is read when its cgroup or an ancestor up to the mount point has a
 * memory.events, else v1; neither, or no oom_kill line (a kernel before
 * 4.13): nothing is claimed, the line names the signal only.  (A kill of
 * another process of the same cgroup in that moment would be taken for the
 * program's; the line says "in its cgroup".)
 *
 * The cgroup's directory: the path of the process's line in
 * /proc/self/cgroup ("0::PATH" for v2, "N:...memory...:PATH" for v1) is
 * relative to the root of its cgroup namespace, as is the root field of
 * the mount in /proc/self/mountinfo: the directory is the mount point
 * followed by PATH less that root, and its ancestors in sight are the
 * directories up to the mount point (the lines are parsed as the shim's
 * cgroup.c parses them: shim/sys/linux/cgroup_lines.h).
 */
#define _GNU_SOURCE
#include "killed.h"
#include "../shim/sys/linux/cgroup_lines.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the mount of TYPE ("cgroup2", or "cgroup" with the memory controller)
 * whose root holds PATH: OUT is its directory for PATH, *TOP the length of
 * the mount point in it */
static int under_mount(const char *type, const char *path, char *out, size_t cap, size_t *top)
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
        *top = strlen(point);
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

/* the oom_kill line of FILE in the directory D[0..LEN): -1 when there is
 * no such file or line */
static long count_at(const char *d, size_t len, const char *file)
{
    char path[3200], line[256];
    uint64_t v;
    snprintf(path, sizeof path, "%.*s/%s", (int)len, d, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long n = -1;
    while (fgets(line, sizeof line, f))
        if (pp_cg_key_value(line, "oom_kill", &v))
            n = (long)v;
    fclose(f);
    return n;
}

/* the oom_kill count for the cgroup DIR, whose mount point is DIR[0..TOP):
 * v1, its memory.oom_control; v2, the memory.events of the cgroup, or of
 * the nearest ancestor that has one; -1 when there is none to read */
static long count_for(const char *dir, size_t top, int v1)
{
    size_t len = strlen(dir);
    if (v1)
        return count_at(dir, len, "memory.oom_control");
    for (; len; len = pp_cg_parent(dir, len, top)) {
        long n = count_at(dir, len, "memory.events");
        if (n >= 0)
            return n;
    }
    return -1;
}

/* the oom_kill count of the cgroup in version V1 (0: v2) */
static long count_in(int v1)
{
    char cg[2048], dir[3072];
    size_t top = 0;
    if (cgroup_path(v1, cg, sizeof cg) < 0 ||
        under_mount(v1 ? "cgroup" : "cgroup2", cg, dir, sizeof dir, &top) < 0)
        return -1;
    return count_for(dir, top, v1);
}

long oom_kill_count(const char **file)
{
    static const char *const files[2] = {"memory.events", "memory.oom_control"};
    for (int v1 = 0; v1 < 2; v1++) {
        long n = count_in(v1);
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
