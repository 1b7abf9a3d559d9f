/* fork_storm DEPTH N: forks up to N children during its first 4 ms, one
 * every ~50 us; each child does the same with DEPTH - 1 (at depth 1 it
 * sleeps 3 ms and exits).  Every process exits 0, so the first process
 * exits with the number of descendants that did not (killed by a signal,
 * or a non-zero status), capped at 100.  Under the shim, the forks land
 * while each process's sampler thread makes its first tick. */
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include "util.h"

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pause_ns(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

static int storm(int depth, int max)
{
    pid_t kids[256];
    int n = 0, bad = 0;
    uint64_t t0 = now_ns();
    while (now_ns() - t0 < 4000000u && n < max && n < 256) {
        pid_t c = fork();
        if (c == 0) {
            int b = depth > 1 ? storm(depth - 1, max) : (pause_ns(3000000), 0);
            _exit(b > 100 ? 100 : b);
        }
        if (c > 0)
            kids[n++] = c;
        pause_ns(50000);
    }
    for (int i = 0; i < n; i++) {
        int st;
        if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st))
            bad++;
        else
            bad += WEXITSTATUS(st);
    }
    return bad;
}

int main(int argc, char **argv)
{
    int depth = argc > 1 ? atoi(argv[1]) : 2, max = argc > 2 ? atoi(argv[2]) : 12;
    int bad = storm(depth, max);
    return bad > 100 ? 100 : bad;
}
