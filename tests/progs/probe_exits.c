/*
 * probe_exits.c MODE - probes marked just before a process ends, in every
 * way a process can end on purpose; the timeline must hold each of them.
 *
 *   ends   probe "parent_a"; nine children, one after another, each marks
 *          "child" twice and ends with _exit, _Exit or exit in turn; then
 *          "parent_b" and _exit(0)
 *   wait   probe "before_wait", then "marked" on stdout and a sleep of 60 s
 *          (to be killed: the probe must reach the file meanwhile)
 */
#include "util.h"

#include <perf_probe.h>
#include <sys/wait.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "wait") == 0) {
        perf_probe("before_wait");
        if (write(1, "marked\n", 7) != 7)
            return 2;
        struct timespec ts = {60, 0};
        nanosleep(&ts, NULL);
        return 0;
    }
    perf_probe("parent_a");
    for (int i = 0; i < 9; i++) {
        pid_t c = fork();
        if (c == 0) {
            perf_probe("child");
            perf_probe("child");
            if (i % 3 == 0)
                _exit(0);
            if (i % 3 == 1)
                _Exit(0);
            exit(0);
        }
        int st;
        if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 3;
    }
    perf_probe("parent_b");
    _exit(0);
}
