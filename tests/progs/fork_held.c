/* fork_held N: grows its RSS for ~300 ms (so that the sampler takes RSS
 * breakdowns), then forks N children one after another; each child exits
 * at once.  A child that has not ended 2 s after its fork is stuck: it is
 * killed and counted.  Prints "forks N stuck K", then calls forks_done
 * (a place for a debugger to stop the forking thread).
 *
 * tests/t0062 runs it under gdb with the sampler thread stopped inside a
 * lock of the shim's: a child, which has no sampler, must not wait for it. */
#include <signal.h>
#include <sys/wait.h>
#include "util.h"

__attribute__((noinline)) void forks_done(void)
{
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20, stuck = 0;
    char *grow[64];
    for (int i = 0; i < 64; i++) {          /* 64 MiB in 300 ms */
        grow[i] = malloc(1 << 20);
        memset(grow[i], 1, 1 << 20);
        usleep(5000);
    }
    test_sink = grow;
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0)
            _exit(0);
        if (c < 0)
            return 3;
        int st, k = 0;
        while (waitpid(c, &st, WNOHANG) == 0 && k++ < 2000)
            usleep(1000);
        if (k > 2000) {
            kill(c, SIGKILL);
            waitpid(c, &st, 0);
            stuck++;
        }
    }
    forks_done();
    char line[64];
    int len = snprintf(line, sizeof line, "forks %d stuck %d\n", n, stuck);
    return write(1, line, (size_t)len) == len ? 0 : 4;
}
