/* robust_vfork: a vfork child whose exec fails calls exit(3) (not _exit:
 * it runs the exit handlers, in the parent's memory); the parent goes on,
 * allocates 2 MiB and exits normally.  Then a raw clone child (no atfork
 * handlers, a copy of the memory) that calls exit(4). */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "util.h"

int main(void)
{
    test_sink = malloc(1 << 20);
    pid_t c = vfork();
    if (c == 0) {
        execl("/nonexistent/program", "x", (char *)NULL);
        exit(3);
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 3)
        return 10;
    long r = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
    if (r == 0)
        exit(4);
    waitpid((pid_t)r, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 4)
        return 11;
    void *p = malloc(2 << 20);
    memset(p, 1, 2 << 20);
    test_sink = p;
    struct timespec ts = {0, 50000000};
    nanosleep(&ts, NULL);
    return 0;
}
