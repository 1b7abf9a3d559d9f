/* alloc_built OUT N: the functions the shim builds on others of its own
 * (reallocarray on realloc, pvalloc on memalign, C23's free_sized on free):
 * N blocks from each of reallocarray and pvalloc, and N from malloc, all
 * live at once, then freed (the malloc ones through free_sized where some
 * library defines it).  Writes the calls made and the usable bytes held at
 * the peak, as the allocator itself says (malloc_usable_size). */
#define _GNU_SOURCE
#include <malloc.h>
#include "util.h"

void free_sized(void *p, size_t size) __attribute__((weak));

int main(int argc, char **argv)
{
    static void *ra[3000], *pv[3000], *ms[3000];
    long n = facts_and_count(argc, argv, 1, 3000);
    long long held = 0;
    for (long i = 0; i < n; i++) {
        ra[i] = reallocarray(NULL, 100, 10);
        pv[i] = pvalloc(5000);
        ms[i] = malloc(4000);
        if (!ra[i] || !pv[i] || !ms[i])
            return 3;
        memset(ra[i], 1, 1000);
        memset(pv[i], 1, 5000);
        memset(ms[i], 1, 4000);
        held += (long long)(malloc_usable_size(ra[i]) + malloc_usable_size(pv[i]) +
                            malloc_usable_size(ms[i]));
    }
    for (long i = 0; i < n; i++) {
        free(ra[i]);
        free(pv[i]);
        if (free_sized)
            free_sized(ms[i], 4000);
        else
            free(ms[i]);
    }
    fact("allocs", 3 * n);
    fact("frees", 3 * n);
    fact("peak_usable", held);
    fact("free_sized", free_sized != NULL);
    return 0;
}
