/* tree_fanout N: starts N children one after another, each holding 1 MiB
 * for a moment and exiting; the parent holds 2 MiB throughout. */
#include <sys/wait.h>
#include <time.h>
#include "util.h"

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 200;
    char *keep = malloc(2 << 20);
    memset(keep, 1, 2 << 20);
    test_sink = keep;
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            char *p = malloc(1 << 20);
            memset(p, 2, 1 << 20);
            test_sink = p;
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
            exit(0);
        }
        int st;
        if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st))
            return 3;
    }
    return 0;
}
