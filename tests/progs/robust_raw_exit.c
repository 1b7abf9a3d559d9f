/* robust_raw_exit: the main thread ends with the exit system call itself
 * (as a program under a strict seccomp filter must), status 3, with an
 * atexit handler set and a line still in stdio's buffer.  Bare, the
 * process ends with status 3 once its last thread does, the handler never
 * runs and the buffered line is never written (stdout a file).  Modes:
 *   plain    no other thread
 *   strict   under SECCOMP_MODE_STRICT (read, write, exit, sigreturn)
 *   worker   a worker thread allocates for 0.2 s and returns after it */
#include <linux/seccomp.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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
    for (int i = 0; i < 20; i++) {
        struct timespec ts = {0, 10000000};
        test_sink = malloc(100000);
        free(test_sink);
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "plain";
    pthread_t t;
    atexit(bye);
    test_sink = malloc(1000);
    if (write(1, "started\n", 8) != 8)
        return 6;
    printf("buffered, never written\n");
    if (strcmp(mode, "worker") == 0)
        pthread_create(&t, NULL, worker, NULL);
    if (strcmp(mode, "strict") == 0 && prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
        return 7;
    syscall(SYS_exit, 3);
    return 9;
}
