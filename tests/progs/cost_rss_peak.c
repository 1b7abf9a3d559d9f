/* cost_rss_peak OUT: RSS climbs to 96 MiB in 1 MiB steps (each page
 * touched), stays there for 100 ms, drops back to 32 MiB and stays there
 * for 50 ms: the peak RSS is held long enough for the sampler to see it,
 * and is well above where the program ends.  Reports the kernel's VmHWM. */
#include <time.h>
#include "util.h"

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    facts_open(argv[1]);
    enum { MIB = 1 << 20, STEPS = 96 };
    static char *blocks[STEPS];
    for (int i = 0; i < STEPS; i++) {
        blocks[i] = malloc(MIB);
        if (!blocks[i])
            return 3;
        memset(blocks[i], i + 1, MIB);
    }
    struct timespec hold = {0, 100 * 1000 * 1000};
    nanosleep(&hold, NULL);
    for (int i = 32; i < STEPS; i++)
        free(blocks[i]);
    hold.tv_nsec = 50 * 1000 * 1000;
    nanosleep(&hold, NULL);
    fact("vmhwm", vmhwm());
    return 0;
}
