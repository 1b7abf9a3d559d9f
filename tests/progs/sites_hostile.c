/* sites_hostile MODE [ARG]: what has broken allocation profilers before.
 *   dlloop PLUGIN  4 threads dlopen, call and dlclose PLUGIN 200 times each
 *                  while allocating
 *   fork           fork 50 times while another thread allocates (and so
 *                  unwinds) without pause; every child allocates and exits 0
 *   signal         malloc and free inside a SIGALRM handler firing every
 *                  100 us while the main thread computes and (with the
 *                  signal blocked: glibc is not async-signal-safe) allocates
 *   recurse N      malloc at the bottom of a recursion N deep
 * Exits 0 when everything worked. */
// link: -ldl -pthread
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <sys/wait.h>
#include "util.h"

static const char *plugin;
static atomic_int stop;

static void *dl_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        void *h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL);
        if (!h)
            _exit(10);
        long long (*f)(void) = (long long (*)(void))dlsym(h, "plugin_alloc");
        if (!f || f() <= 0)
            _exit(11);
        for (int k = 0; k < 50; k++)
            free(malloc(64 + (size_t)k * 16));
        dlclose(h);
    }
    return NULL;
}

static void *churn(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        void *p = malloc(1000);
        test_sink = p;
        free(p);
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
    void *p = malloc(200);
    test_sink = p;
    free(p);
}

__attribute__((noinline)) static long recurse(int n)
{
    if (n == 0) {
        char *p = malloc(777);
        test_sink = p;
        return (long)(p != NULL);
    }
    long r = recurse(n - 1);
    __asm__ volatile("" ::: "memory");       /* no tail call */
    return r + 0 * n;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "dlloop") && argc == 3) {
        plugin = argv[2];
        pthread_t t[4];
        for (int i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, dl_worker, NULL);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        return 0;
    }
    if (!strcmp(argv[1], "fork")) {
        pthread_t t;
        pthread_create(&t, NULL, churn, NULL);
        for (int i = 0; i < 50; i++) {
            pid_t pid = fork();
            if (pid == 0) {
                for (int k = 0; k < 1000; k++)
                    free(malloc(100 + (size_t)k));
                exit(0);              /* the shim writes the child's sites */
            }
            int st;
            if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
                return 20;
        }
        atomic_store(&stop, 1);
        pthread_join(t, NULL);
        return 0;
    }
    if (!strcmp(argv[1], "signal")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 100}, {0, 100}};
        setitimer(ITIMER_REAL, &it, NULL);
        /* glibc's malloc is not async-signal-safe: a handler that lands
         * inside it (in its tcache update or under an arena lock) can crash
         * or deadlock the program without any shim.  So the program's own
         * allocations run with SIGALRM blocked, and the handler's (sampled,
         * unwound through the signal frame) land anywhere else, shim
         * included. */
        sigset_t alrm;
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        volatile unsigned long spin = 0;
        for (int i = 0; i < 2000000; i++) {
            if (i % 8 == 0) {
                sigprocmask(SIG_BLOCK, &alrm, NULL);
                void *p = malloc(50 + (size_t)(i % 500));
                test_sink = p;
                free(p);
                sigprocmask(SIG_UNBLOCK, &alrm, NULL);
            }
            spin += (unsigned long)i;
        }
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        return 0;
    }
    if (!strcmp(argv[1], "recurse") && argc == 3)
        return recurse(atoi(argv[2])) == 1 ? 0 : 30;
    return 2;
}
