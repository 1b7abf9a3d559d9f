/* exit_status MODE N: ends with status N in one of the ways a program
 * does; the summary's exit_status must say N (or say nothing, never
 * another figure).
 *   return   main returns N
 *   exit     main calls exit(N)
 *   thread   another thread calls exit(N) while main waits
 *   lastthr  main calls pthread_exit, the last thread returns (status 0)
 *   fork     a forked child returns N from main, the parent N + 1
 *   atexit   40 atexit handlers registered, then main returns N */
#include <pthread.h>
#include <sys/wait.h>
#include "util.h"

static int n;

static void *call_exit(void *arg)
{
    (void)arg;
    usleep(20000);
    exit(n);
}

static void *wait_a_bit(void *arg)
{
    (void)arg;
    usleep(50000);
    return NULL;
}

static void nothing(void) {}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 100;
    const char *mode = argv[1];
    n = atoi(argv[2]);
    pthread_t t;
    if (!strcmp(mode, "return"))
        return n;
    if (!strcmp(mode, "exit"))
        exit(n);
    if (!strcmp(mode, "thread")) {
        pthread_create(&t, NULL, call_exit, NULL);
        for (;;)
            pause();
    }
    if (!strcmp(mode, "lastthr")) {
        pthread_create(&t, NULL, wait_a_bit, NULL);
        pthread_exit(NULL);
    }
    if (!strcmp(mode, "fork")) {
        pid_t c = fork();
        if (c == 0)
            return n;
        int st;
        waitpid(c, &st, 0);
        return WIFEXITED(st) && WEXITSTATUS(st) == n ? n + 1 : 101;
    }
    if (!strcmp(mode, "atexit")) {
        for (int i = 0; i < 40; i++)
            atexit(nothing);
        return n;
    }
    return 100;
}
