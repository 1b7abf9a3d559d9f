/* sleeper MODE: holds 8 MiB of heap and says "ready" on stdout, then waits
 * to be killed (30 s at most).  MODE "handler" installs its own SIGTERM
 * handler, which exits with status 7. */
#include <signal.h>
#include <time.h>
#include "util.h"

static void on_term(int s)
{
    (void)s;
    _exit(7);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "handler") == 0)
        signal(SIGTERM, on_term);
    char *p = malloc(8 << 20);
    memset(p, 1, 8 << 20);
    test_sink = p;
    if (write(1, "ready\n", 6) != 6)
        return 3;
    for (int i = 0; i < 3000; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}
