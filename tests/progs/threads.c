/* threads OUT T N: T threads each make N malloc/free pairs in rounds; every
 * block is freed by the next thread, not the one that allocated it. */
#include <pthread.h>
#include "util.h"

#define ROUND 10000
static long threads, per_thread;
static void **slots;                 /* [thread][ROUND] */
static pthread_barrier_t barrier;

static void *work(void *arg)
{
    long id = (long)arg, next = (id + 1) % threads;
    for (long done = 0; done < per_thread; done += ROUND) {
        long n = per_thread - done < ROUND ? per_thread - done : ROUND;
        for (long i = 0; i < n; i++)
            slots[id * ROUND + i] = malloc((size_t)(16 + (i % 64) * 8));
        pthread_barrier_wait(&barrier);
        for (long i = 0; i < n; i++)
            free(slots[next * ROUND + i]);
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    threads = atol(argv[2]);
    per_thread = atol(argv[3]);
    pthread_t t[64];
    slots = calloc((size_t)threads * ROUND, sizeof *slots);
    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (long i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, work, (void *)i);
    for (long i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    free(slots);
    fact("pairs", threads * per_thread);
    return 0;
}
