/* alloc_known OUT N LEAK: N blocks of mixed sizes (small, large, above the
 * mmap threshold), all live at once, then all but LEAK freed.  Writes the
 * usable bytes it held at the peak and leaked, its call counts, and the
 * kernel's VmHWM read just before exit. */
#include <malloc.h>
#include "util.h"

int main(int argc, char **argv)
{
    static const size_t sizes[] = {24, 100, 1000, 5000, 70000, 300000};
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    long n = atol(argv[2]), leak = atol(argv[3]);
    void **blocks = n ? malloc((size_t)n * sizeof *blocks) : NULL;
    long long held = 0, leaked = 0;
    for (long i = 0; i < n; i++) {
        blocks[i] = malloc(sizes[i % 6]);
        memset(blocks[i], 1, sizes[i % 6]);
        held += (long long)malloc_usable_size(blocks[i]);
    }
    if (blocks)
        held += (long long)malloc_usable_size(blocks);
    for (long i = 0; i < n; i++) {
        if (i < leak)
            leaked += (long long)malloc_usable_size(blocks[i]);
        else
            free(blocks[i]);
    }
    free(blocks);
    fact("peak_usable", held);
    fact("leak_usable", leaked);
    fact("allocs", n ? n + 1 : 0);
    fact("frees", n ? n - leak + 1 : 0);
    fact("vmhwm", vmhwm());
    return 0;
}
