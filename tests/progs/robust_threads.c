/* robust_threads: 100,000 short threads, 16 at a time, each allocating and
 * freeing one block; then 8 threads that each hold 1 MiB and are cancelled
 * while they sleep (their blocks stay live).  Prints "ok". */
#include <pthread.h>
#include <time.h>
#include "util.h"

static void *short_one(void *arg)
{
    void *p = malloc(100);
    test_sink = p;
    free(p);
    return arg;
}

static void *sleeper(void *arg)
{
    char *p = malloc(1 << 20);
    memset(p, 1, 1 << 20);
    ((char **)arg)[0] = p;
    for (;;) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);          /* a cancellation point */
    }
    return NULL;
}

int main(void)
{
    pthread_t t[16];
    for (int wave = 0; wave < 100000 / 16 + 1; wave++) {
        int n = wave == 100000 / 16 ? 100000 % 16 : 16;
        for (int i = 0; i < n; i++)
            if (pthread_create(&t[i], NULL, short_one, NULL) != 0)
                return 3;
        for (int i = 0; i < n; i++)
            pthread_join(t[i], NULL);
    }
    static char *held[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, sleeper, &held[i]);
    for (int i = 0; i < 8; i++)
        while (!__atomic_load_n(&held[i], __ATOMIC_ACQUIRE)) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    for (int i = 0; i < 8; i++) {
        pthread_cancel(t[i]);
        pthread_join(t[i], NULL);
    }
    printf("ok\n");
    return 0;
}
