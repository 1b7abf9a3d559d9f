/*
 * churn.c - the benchmark workload: malloc/free churn over mixed sizes.
 *
 *   churn THREADS OPS        OPS allocations per thread, then exit
 *   churn THREADS -s SECS    keep going for SECS seconds
 *
 * Each thread keeps 4096 slots; every step frees a random slot (if used)
 * and allocates a new block there, sizes mostly 16..1024 bytes with a tail
 * up to 64 KiB, touching the first bytes so the work is not optimised
 * away.  The live heap therefore wanders, which also exercises the
 * timeline's sample lines.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 4096
static long ops;
static double seconds;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *work(void *arg)
{
    void **slot = calloc(SLOTS, sizeof *slot);
    uint64_t x = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
    double end = seconds > 0 ? now() + seconds : 0;
    unsigned long sum = 0;
    for (long i = 0; seconds > 0 || i < ops; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        unsigned s = (unsigned)(x % SLOTS);
        unsigned r = (unsigned)(x >> 32) % 1000;
        size_t size = r < 900 ? 16 + (x >> 20) % 1008 : r < 995 ? 1024 + (x >> 20) % 7168
                                                             : 8192 + (x >> 20) % 57344;
        free(slot[s]);
        slot[s] = malloc(size);
        memset(slot[s], (int)i, 16);
        sum += ((unsigned char *)slot[s])[3];
        if (seconds > 0 && (i & 0xffff) == 0 && now() >= end)
            break;
    }
    for (int s = 0; s < SLOTS; s++)
        free(slot[s]);
    free(slot);
    return (void *)(uintptr_t)sum;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: churn THREADS OPS | churn THREADS -s SECONDS\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    if (strcmp(argv[2], "-s") == 0 && argc > 3)
        seconds = atof(argv[3]);
    else
        ops = atol(argv[2]);
    pthread_t t[64];
    if (threads < 1 || threads > 64)
        return 2;
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, work, (void *)(uintptr_t)i);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
