/* exit_lines: prints N numbered lines (argv[1]) on stdout in one write
 * (less than a pipe holds, so that none of it meets a dead reader); then,
 * if stdout is a pipe, waits (10 s at most) until its reader has gone
 * (poll reports POLLERR on a pipe whose read end is closed) and exits 0.
 * Under `| head -1` the program itself never writes to the dead pipe: any
 * SIGPIPE at its exit is someone else's. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    static char out[1 << 15];
    setvbuf(stdout, out, _IOFBF, sizeof out);
    for (int i = 1; i <= n; i++)
        printf("line %d\n", i);
    fflush(stdout);
    struct stat st;
    if (fstat(1, &st) != 0 || !S_ISFIFO(st.st_mode))
        return 0;
    for (int i = 0; i < 10000; i++) {
        struct pollfd p = {1, 0, 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & POLLERR))
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
