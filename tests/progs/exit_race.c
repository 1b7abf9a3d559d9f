/* exit_race: eight threads call exit() at the same moment. */
#include <pthread.h>
#include "util.h"

static pthread_barrier_t barrier;
static void *go(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier);
    exit(0);
}

int main(void)
{
    pthread_t t[8];
    pthread_barrier_init(&barrier, NULL, 9);
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, go, NULL);
    pthread_barrier_wait(&barrier);
    exit(0);
}
