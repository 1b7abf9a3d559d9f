/* atexit_leak OUT: an atexit handler allocates 123456 bytes and keeps
 * them; the summary, written after the handlers, must include them. */
#include <malloc.h>
#include "util.h"

static void late(void)
{
    void *p = malloc(123456);
    memset(p, 2, 123456);
    fact("late_usable", (long long)malloc_usable_size(p));
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    facts_open(argv[1]);
    atexit(late);
    return 0;
}
