// link: -pthread -O1 -fno-inline
/* tid_reuse: a thread that burns CPU in burn_a for 400 ms and ends, then a
 * new thread given the same id (the next id forced through
 * /proc/sys/kernel/ns_last_pid: run it as root in a pid namespace of its
 * own, unshare -p -f --mount-proc) that burns CPU in burn_b for 300 ms
 * (a thread that got another id ends at once, and the id is forced again).
 * Prints "reused 1" when the second thread got the first one's id, and
 * the CPU seconds each thread used. */
#define _GNU_SOURCE
#include <pthread.h>
#include <time.h>

#include "util.h"

static _Atomic pid_t ids[2];
static double used[2];

static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile unsigned long sink;

void burn_a(double s)
{
    double end = thread_cpu() + s;
    while (thread_cpu() < end)
        for (int i = 0; i < 10000; i++)
            sink += (unsigned long)i;
}

void burn_b(double s)
{
    double end = thread_cpu() + s;
    while (thread_cpu() < end)
        for (int i = 0; i < 10000; i++)
            sink ^= (unsigned long)i;
}

static void *first(void *arg)
{
    (void)arg;
    ids[0] = gettid();
    burn_a(0.4);
    used[0] = thread_cpu();
    return NULL;
}

static _Atomic int go = -1;            /* main's word to the second thread */

static void *second(void *arg)
{
    (void)arg;
    ids[1] = gettid();
    while (go < 0)
        ;
    if (go) {
        burn_b(0.3);
        used[1] = thread_cpu();
    }
    return NULL;
}

int main(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, first, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 2;
    /* the next id is the ended thread's, written as the last one given;
     * another task may take it first (the shim's sampler makes one for a
     * moment now and then): tried again, at most 50 times */
    int tries = 0;
    do {
        int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
        if (fd < 0 || dprintf(fd, "%d", (int)ids[0] - 1) < 0)
            return 3;
        close(fd);
        go = -1;
        ids[1] = 0;
        if (pthread_create(&t, NULL, second, NULL) != 0)
            return 4;
        while (!ids[1])
            ;
        go = ids[1] == ids[0];
        if (pthread_join(t, NULL) != 0)
            return 5;
    } while (!go && ++tries < 50);
    printf("reused %d\nfirst_s %.3f\nsecond_s %.3f\n", go, used[0], used[1]);
    return 0;
}
