// link: -O1 -fno-inline
/*
 * cpu_burn.c MODE N - CPU burnt in known proportions, for the CPU sampling
 * tests.  burn_a and burn_b run the same loop body (one multiply-add a
 * step, so a step costs the same in both); in every round burn_a runs 3N
 * steps and burn_b N, so three quarters of the CPU is burn_a's.
 *
 *   ratio    20 rounds on the main thread
 *   threads  4 threads, started 30 ms apart, 20 rounds each
 *   region   20 rounds between the probes "begin" and "end"; burn_a only
 *            inside perf_region_begin("hot")
 *   churn    a fork (the child burns 10N steps, prints, _exits 3), an exec of
 *            /bin/echo in another child, and 16 short threads that exit
 *            while the main thread burns; prints a checksum, exits 7
 *   exec     burns 4N steps in burn_a, then execs /bin/true
 */
#define _GNU_SOURCE
#include <perf_probe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static long steps;

__attribute__((noinline)) static unsigned long burn_a(long n)
{
    unsigned long x = sink;
    for (long i = 0; i < n; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        __asm__ volatile("" : "+r"(x));
    }
    sink = x;
    return x;
}

__attribute__((noinline)) static unsigned long burn_b(long n)
{
    unsigned long x = sink;
    for (long i = 0; i < n; i++) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        __asm__ volatile("" : "+r"(x));
    }
    sink = x;
    return x;
}

__attribute__((noinline)) static void rounds(int region)
{
    for (int r = 0; r < 20; r++) {
        if (region)
            perf_region_begin("hot");
        burn_a(3 * steps);
        if (region)
            perf_region_end("hot");
        burn_b(steps);
    }
}

static void *worker(void *arg)
{
    (void)arg;
    rounds(0);
    return NULL;
}

static void *brief(void *arg)
{
    burn_b(steps / 100);
    return arg;
}

static void nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0)
        ;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    steps = atol(argv[2]);
    if (!strcmp(argv[1], "ratio")) {
        rounds(0);
    } else if (!strcmp(argv[1], "region")) {
        burn_b(steps);
        perf_probe("begin");
        rounds(1);
        perf_probe("end");
        burn_b(steps);
    } else if (!strcmp(argv[1], "threads")) {
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            if (pthread_create(&t[i], NULL, worker, NULL) != 0)
                return 1;
            nap_ms(30);
        }
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    } else if (!strcmp(argv[1], "exec")) {
        burn_a(4 * steps);
        execl("/bin/true", "true", (char *)NULL);
        return 127;
    } else if (!strcmp(argv[1], "churn")) {
        fflush(stdout);
        pid_t c = fork();
        if (c == 0) {
            burn_a(10 * steps);
            printf("child %d\n", sink != 0);
            fflush(stdout);
            _exit(3);
        }
        int st = 0;
        waitpid(c, &st, 0);
        printf("child status %d\n", WEXITSTATUS(st));
        fflush(stdout);
        pid_t e = fork();
        if (e == 0) {
            execl("/bin/echo", "echo", "exec'd", (char *)NULL);
            _exit(127);
        }
        waitpid(e, &st, 0);
        printf("exec status %d\n", WEXITSTATUS(st));
        for (int i = 0; i < 16; i++) {
            pthread_t t;
            if (pthread_create(&t, NULL, brief, NULL) != 0)
                return 1;
            burn_a(steps / 50);
            pthread_detach(t);
        }
        nap_ms(50);
        printf("done %d\n", (int)(sink & 1) * 0);
        return 7;
    } else {
        return 2;
    }
    printf("%d\n", sink != 0);
    return 0;
}
