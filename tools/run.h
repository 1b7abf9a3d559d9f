/*
 * run.h - the `run` command (run.c), for the command table in perfprobe.c.
 *
 * `run` sits on the top floor with the table: it starts the program under
 * the shim and then uses the rooms below it, the live view (draw/) and the
 * reader (read/), as any other command does.
 */
#ifndef PP_RUN_H
#define PP_RUN_H

#include <stdio.h>

/* `perfprobe run [-o FILE] [-i MS] [-q] [-n RUNS [--json]] [--stacks MODE]
 * [--live] -- CMD [ARGS...]`: exits with CMD's own status */
int cmd_run(int argc, char **argv);

/* killed.c: the OOM killer's count in this cgroup (-1: none to read), with
 * the file it is read from (memory.events in v2, memory.oom_control in v1),
 * and run's last line for a program killed by signal SIG */
long oom_kill_count(const char **file);
void killed_line(FILE *f, const char *cmd, long pid, int sig, long oom_before);

/* mend.c: the complete lines of the timeline PATH that are not JSON (a
 * record cut short by a kill, alone or with the next record glued after
 * it) mended in place, the file keeping its size: how many were rewritten,
 * or -1 (not a timeline of this user's, or a write failed) */
long timeline_mend(const char *path);

#endif
