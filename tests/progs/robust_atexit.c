/* robust_atexit fork|join: an atexit handler that forks a helper which
 * exits, or that joins a worker which calls exit(3) itself.  Neither may
 * hang; the statuses are whatever glibc gives without the shim. */
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include "util.h"

static pthread_t worker_thread;
static volatile int go;

static void *worker(void *arg)
{
    (void)arg;
    while (!go) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    exit(3);
}

static void forking_handler(void)
{
    pid_t c = fork();
    if (c == 0)
        exit(0);            /* the helper runs the remaining handlers too */
    int st;
    waitpid(c, &st, 0);
    if (write(1, "helper done\n", 12) != 12)
        _exit(6);
}

static void joining_handler(void)
{
    go = 1;
    pthread_join(worker_thread, NULL);
}

int main(int argc, char **argv)
{
    test_sink = malloc(1000);
    if (argc > 1 && strcmp(argv[1], "join") == 0) {
        pthread_create(&worker_thread, NULL, worker, NULL);
        atexit(joining_handler);
    } else {
        atexit(forking_handler);
    }
    exit(0);
}
