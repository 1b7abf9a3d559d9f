/* robust_pthread_exit: main starts a worker and ends with pthread_exit;
 * the worker allocates, sleeps 0.2 s and returns.  The process must end
 * then, with status 0, running its atexit handler (which says "atexit"). */
#include <pthread.h>
#include <time.h>
#include "util.h"

static void bye(void)
{
    if (write(1, "atexit\n", 7) != 7)
        _exit(5);
}

static void *worker(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 200000000};
    test_sink = malloc(100000);
    nanosleep(&ts, NULL);
    return NULL;
}

int main(void)
{
    pthread_t t;
    atexit(bye);
    pthread_create(&t, NULL, worker, NULL);
    pthread_exit(NULL);
}
