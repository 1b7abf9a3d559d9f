/*
 * killed.h - what `run` says of a program that died of a signal (killed.c):
 * the signal, and whether the cgroup's OOM killer sent it.
 */
#ifndef PP_KILLED_H
#define PP_KILLED_H

#include <stdio.h>

/* the OOM killer's count in this cgroup (-1: none to read), with the file
 * it is read from (memory.events in v2, memory.oom_control in v1), and
 * run's last line for a program killed by signal SIG */
long oom_kill_count(const char **file);
void killed_line(FILE *f, const char *cmd, long pid, int sig, long oom_before);

#endif
