/* stop_child ROUNDS: job control against the shim's sampler.  Each round
 * forks a child that stops itself with SIGSTOP a moment (0-3 ms) after it
 * starts, as strace's child or a process a shell suspends does; the parent
 * waits to see it stopped (WUNTRACED), continues it, and reaps it.  A stop
 * that never completes (a thread of the child that cannot stop) would hang
 * the parent: each wait is bounded, and such a round is counted.  Prints
 * "rounds N stuck K". */
#include <signal.h>
#include <sys/wait.h>
#include "util.h"

/* wait for C to report a state; 0 when none came within SECONDS */
static int wait_for(pid_t c, int *st, int flags, double seconds)
{
    double end = now_ms() + seconds * 1e3;
    while (now_ms() < end) {
        pid_t r = waitpid(c, st, flags | WNOHANG);
        if (r == c)
            return 1;
        if (r < 0)
            return 0;
        usleep(200);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100, stuck = 0;
    unsigned seed = 12345;
    for (int i = 0; i < rounds; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned delay = (seed >> 8) % 3000;
        pid_t c = fork();
        if (c < 0)
            return 3;
        if (c == 0) {
            usleep(delay);
            raise(SIGSTOP);
            _exit(0);
        }
        int st;
        if (!wait_for(c, &st, WUNTRACED, 10) || !WIFSTOPPED(st))
            stuck++;
        kill(c, SIGCONT);
        if (!wait_for(c, &st, 0, 10)) {
            kill(c, SIGKILL);
            waitpid(c, &st, 0);
        }
    }
    printf("rounds %d stuck %d\n", rounds, stuck);
    return 0;
}
