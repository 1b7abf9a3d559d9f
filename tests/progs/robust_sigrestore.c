/* robust_sigrestore: saves SIGTERM's handler with signal(), installs its
 * own, puts the saved one back with signal() (as git's sigchain and bash's
 * `trap - TERM` do) and raises SIGTERM: it must die of it, at once. */
#include <signal.h>
#include "util.h"

static void mine(int s)
{
    (void)s;
}

int main(void)
{
    void (*old)(int) = signal(SIGTERM, mine);
    signal(SIGTERM, old);
    void *p = malloc(4096);
    test_sink = p;
    raise(SIGTERM);
    return 9;
}
