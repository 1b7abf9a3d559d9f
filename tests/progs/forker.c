/* forker DIR: holds 1 MiB, forks a child that adds 2 MiB and exits, waits
 * for it, then execs itself as "forker DIR exec" which holds 3 MiB. */
#include <sys/wait.h>
#include "util.h"

static void hold(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    test_sink = p;
}

int main(int argc, char **argv)
{
    if (argc == 3) {                        /* the exec'd image */
        hold(3 << 20);
        return 0;
    }
    hold(1 << 20);
    pid_t c = fork();
    if (c == 0) {
        hold(2 << 20);
        exit(0);
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 4;
    execl("/proc/self/exe", argv[0], argv[1], "exec", (char *)NULL);
    return 5;
}
