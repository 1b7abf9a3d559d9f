// link: -pthread
/* fd_lowest MS [closeall OUT]: for MS milliseconds, closes descriptor 3 and
 * opens /dev/null again, expecting 3 each time (the lowest free number,
 * as POSIX promises), while a new thread is started and joined every
 * millisecond (each a thread a CPU sampler would open an event for).  With
 * "closeall" it first closes every descriptor below 4096 and reopens 0-2,
 * as a daemon does, and its line goes to the file OUT (its stdout is then
 * /dev/null).  Prints the rounds made and how many got another number;
 * exits 1 if any did. */
#include <errno.h>
#include <pthread.h>

#include "util.h"

static void *spin(void *arg)
{
    volatile unsigned long x = 0;
    for (int i = 0; i < 20000; i++)
        x += (unsigned long)i;
    return arg;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    double ms = atof(argv[1]);
    if (argc > 2 && !strcmp(argv[2], "closeall")) {
        for (int fd = 0; fd < 4096; fd++)
            close(fd);
        for (int i = 0; i < 3; i++)
            if (open("/dev/null", O_RDWR) != i)
                return 3;
    }
    int fd = open("/dev/null", O_RDONLY);
    if (fd != 3) {
        dprintf(2, "fd_lowest: the first open gave %d\n", fd);
        return 4;
    }
    long rounds = 0, wrong = 0;
    double end = now_ms() + ms, next_thread = 0;
    while (now_ms() < end) {
        if (now_ms() >= next_thread) {
            pthread_t t;
            if (pthread_create(&t, NULL, spin, NULL) == 0)
                pthread_join(t, NULL);
            next_thread = now_ms() + 1;
        }
        close(3);
        int again = open("/dev/null", O_RDONLY);
        rounds++;
        if (again != 3) {
            wrong++;
            if (again >= 0)
                close(again);
            /* 3 is someone else's now: wait until it is free again */
            while (fcntl(3, F_GETFD) != -1 || errno != EBADF)
                ;
            if (open("/dev/null", O_RDONLY) != 3)
                return 5;
        }
    }
    if (argc > 3) {
        int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0)
            return 6;
        dprintf(out, "rounds %ld wrong %ld\n", rounds, wrong);
        close(out);
    } else {
        printf("rounds %ld wrong %ld\n", rounds, wrong);
    }
    return wrong ? 1 : 0;
}
