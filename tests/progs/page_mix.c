/* page_mix [FORKS] [ROUNDS]: records of many sizes from several threads, so
 * that the timeline has records ending anywhere in a page of the file:
 * four threads each make ROUNDS probes with labels of 1 to 1,200
 * characters (a pseudo-random walk, the same every run) and allocate from
 * four functions of their own, so that sites, stack and module records
 * come too.  With FORKS > 0, that many children do the same at once in
 * the same file (a process tree).  Prints "probes N": the probes this
 * process and its children made. */
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include "perf_probe.h"
#include "util.h"

static long rounds = 400;

__attribute__((noinline)) static void *keep_a(size_t n) { return malloc(n); }
__attribute__((noinline)) static void *keep_b(size_t n) { return malloc(n * 2); }
__attribute__((noinline)) static void *keep_c(size_t n) { return calloc(n, 3); }
__attribute__((noinline)) static void *keep_d(size_t n) { return malloc(n * 5); }

static void *run(void *arg)
{
    uint32_t x = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    char label[1300];
    void *held[64] = {0};
    for (long r = 0; r < rounds; r++) {
        x = x * 1103515245u + 12345u;
        size_t len = 1 + (x >> 8) % 1200;
        for (size_t i = 0; i < len; i++)
            label[i] = (char)('a' + (i + r) % 26);
        label[len] = 0;
        perf_probe(label);
        void *(*const f[])(size_t) = {keep_a, keep_b, keep_c, keep_d};
        size_t k = (x >> 4) % 64;
        free(held[k]);
        held[k] = f[(x >> 12) % 4](4096 + (x >> 16) % 65536);
        if (r % 50 == 0)
            usleep(1000);
    }
    for (int k = 0; k < 64; k++)
        free(held[k]);
    return NULL;
}

static void threads(long seed)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        if (pthread_create(&t[i], NULL, run, (void *)(seed * 4 + i + 1)) != 0)
            _exit(3);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
}

int main(int argc, char **argv)
{
    int forks = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2)
        rounds = atol(argv[2]);
    for (int c = 0; c < forks; c++) {
        pid_t p = fork();
        if (p < 0)
            return 4;
        if (p == 0) {
            threads(c + 1);
            _exit(0);
        }
    }
    threads(0);
    for (int c = 0; c < forks; c++) {
        int st;
        if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            return 5;
    }
    printf("probes %ld\n", (long)(forks + 1) * 4 * rounds);
    return 0;
}
