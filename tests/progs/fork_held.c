/* fork_held N [LIB]: grows its RSS for ~300 ms (so that the sampler
 * takes RSS breakdowns), then forks N children one after another; each
 * child exits at once.  With LIB, a second thread opens that library and
 * calls its held_alloc every millisecond throughout (the first call is a
 * new stack with a frame in a new module, for which the shim scans the
 * loader's list of modules on that thread), and each child marks a probe
 * (another scan) before it exits.
 * A child that has not ended 2 s after its fork is stuck: it is killed and
 * counted.  Prints "forks N stuck K", then calls forks_done (a place for a
 * debugger to stop the forking thread).
 *
 * tests/t0062 runs it under gdb with another thread stopped inside a lock
 * of the shim's: a child, which has only the forking thread, must not wait
 * for it. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include "perf_probe.h"
#include "util.h"

// link: -pthread -ldl

static volatile int stop;

__attribute__((noinline)) void forks_done(void)
{
    __asm__ volatile("" ::: "memory");
}

static void *(*held_alloc)(void);

static void *allocator(void *arg)
{
    (void)arg;
    while (!stop) {
        free(held_alloc());
        usleep(1000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20, stuck = 0;
    int probes = argc > 2;
    pthread_t t;
    if (probes) {
        void *lib = dlopen(argv[2], RTLD_NOW);
        held_alloc = lib ? (void *(*)(void))dlsym(lib, "held_alloc") : NULL;
        if (!held_alloc || pthread_create(&t, NULL, allocator, NULL) != 0)
            return 2;
    }
    char *grow[64];
    for (int i = 0; i < 64; i++) {          /* 64 MiB in 300 ms */
        grow[i] = malloc(1 << 20);
        memset(grow[i], 1, 1 << 20);
        usleep(5000);
    }
    test_sink = grow;
    for (int i = 0; i < n; i++) {
        pid_t c = fork();
        if (c == 0) {
            if (probes)
                perf_probe("child");
            _exit(0);
        }
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
    stop = 1;
    if (probes)
        pthread_join(t, NULL);
    char line[64];
    int len = snprintf(line, sizeof line, "forks %d stuck %d\n", n, stuck);
    return write(1, line, (size_t)len) == len ? 0 : 4;
}
