/* jemalloc_api OUT N: jemalloc's own API, linked with -ljemalloc: N blocks
 * from mallocx (64-byte aligned), each grown by rallocx and xallocx, all
 * live at once, then half freed by dallocx and half by sdallocx.  Writes
 * the calls made and the usable bytes held at the peak, as jemalloc itself
 * says (sallocx). */
// link: -ljemalloc
#include <stdint.h>
#include "util.h"

void *mallocx(size_t size, int flags);
void *rallocx(void *p, size_t size, int flags);
size_t xallocx(void *p, size_t size, size_t extra, int flags);
size_t sallocx(const void *p, int flags);
void dallocx(void *p, int flags);
void sdallocx(void *p, size_t size, int flags);

int main(int argc, char **argv)
{
    static void *b[2000];
    long n = facts_and_count(argc, argv, 1, 2000);
    long long held = 0;
    for (long i = 0; i < n; i++) {
        b[i] = mallocx(1000, 6);                /* MALLOCX_LG_ALIGN(6) */
        b[i] = b[i] ? rallocx(b[i], 5000, 0) : NULL;
        if (!b[i])
            return 3;
        xallocx(b[i], 6000, 0, 0);
        memset(b[i], 1, 5000);
        held += (long long)sallocx(b[i], 0);
    }
    for (long i = 0; i < n; i++) {
        if (i & 1)
            dallocx(b[i], 0);
        else
            sdallocx(b[i], sallocx(b[i], 0), 0);
    }
    fact("allocs", n);
    fact("frees", n);
    fact("peak_usable", held);
    return 0;
}
