/* jemalloc_stats OUT: allocates about 40 MB in mixed sizes, then reads
 * jemalloc's own stats.allocated while everything is live.  mallctl is
 * looked up at run time, so the same source serves a program linked with
 * -ljemalloc (jemalloc_linked) and one given jemalloc through LD_PRELOAD. */
#include <dlfcn.h>
#include <stdint.h>
#include "util.h"

int main(int argc, char **argv)
{
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "mallctl");
    if (argc != 2 || !mallctl)
        return 2;
    facts_open(argv[1]);
    static void *blocks[4000];
    static const size_t sizes[] = {16, 200, 3000, 40000, 100000};
    for (int i = 0; i < 4000; i++) {
        blocks[i] = malloc(sizes[i % 5]);
        memset(blocks[i], 1, sizes[i % 5]);
    }
    uint64_t epoch = 1;
    size_t sz = sizeof epoch;
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0;
    sz = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0)
        return 3;
    for (int i = 0; i < 4000; i++)
        free(blocks[i]);
    fact("allocated", (long long)allocated);
    return 0;
}
