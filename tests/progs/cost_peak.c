/* cost_peak OUT MODE N: a heap whose exact peak the program computes itself.
 * Every block's malloc_usable_size is added to a shared counter right after
 * malloc and taken off right before free, and the counter's highest value
 * is the peak ("exact_peak"; with N = 0 the program does the same thing
 * without allocating, which gives the test its baseline).
 *
 *   phases   main allocates and frees N blocks of 16-250 bytes, then a
 *            second thread does the same while main waits in pthread_join
 *   pingpong main and a second thread take turns (a barrier between
 *            rounds), each round one of them growing by N blocks and
 *            freeing them again, 20 rounds
 *   mixed    four threads at once, each keeping up to N blocks of
 *            16 B-16 KiB live, growing and shrinking at random
 */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include "util.h"

static long n;
static _Atomic long live, peak;
static pthread_barrier_t bar;

static void *get(size_t size)
{
    void *p = malloc(size);
    if (!p)
        _exit(3);
    memset(p, 1, size);
    long v = atomic_fetch_add(&live, (long)malloc_usable_size(p)) + (long)malloc_usable_size(p);
    long cur = atomic_load(&peak);
    while (v > cur && !atomic_compare_exchange_weak(&peak, &cur, v))
        ;
    return p;
}

static void put(void *p)
{
    atomic_fetch_sub(&live, (long)malloc_usable_size(p));
    free(p);
}

static void grow_and_free(unsigned seed)
{
    void **v = get(((size_t)n + 1) * sizeof *v);
    for (long i = 0; i < n; i++)
        v[i] = get(16 + (size_t)((seed + (unsigned)i * 37u) % 235));
    for (long i = 0; i < n; i++)
        put(v[i]);
    put(v);
}

static void *phase(void *arg)
{
    grow_and_free((unsigned)(long)arg);
    return NULL;
}

static void *pingpong(void *arg)
{
    long me = (long)arg;
    for (int r = 0; r < 20; r++) {
        if (r % 2 == me)
            grow_and_free((unsigned)r);
        pthread_barrier_wait(&bar);
    }
    return NULL;
}

static void *mixed(void *arg)
{
    unsigned long x = 0x2545f4914f6cdd1dul * ((unsigned long)arg + 3);
    void **v = get(((size_t)n + 1) * sizeof *v);
    long have = 0;
    for (long i = 0; i < 40 * n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* drift: grow for a while, then shrink, so that peaks happen */
        int up = ((i / (n / 2 + 1)) % 2 == 0);
        if (have < n && (have == 0 || (x % 4 != 0) == up))
            v[have++] = get(16 + (size_t)((x >> 8) % 16368));
        else if (have > 0)
            put(v[--have]);
    }
    while (have > 0)
        put(v[--have]);
    put(v);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    const char *mode = argv[2];
    n = atol(argv[3]);
    pthread_t t[4];
    if (strcmp(mode, "phases") == 0) {
        grow_and_free(1);
        pthread_create(&t[0], NULL, phase, (void *)2L);
        pthread_join(t[0], NULL);
    } else if (strcmp(mode, "pingpong") == 0) {
        pthread_barrier_init(&bar, NULL, 2);
        pthread_create(&t[0], NULL, pingpong, (void *)1L);
        pingpong((void *)0L);
        pthread_join(t[0], NULL);
    } else if (strcmp(mode, "mixed") == 0) {
        for (long i = 0; i < 4; i++)
            pthread_create(&t[i], NULL, mixed, (void *)i);
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
    } else {
        return 2;
    }
    fact("exact_peak", atomic_load(&peak));
    fact("live_at_end", atomic_load(&live));
    return 0;
}
