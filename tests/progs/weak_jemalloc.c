/* weak_jemalloc OUT: finds jemalloc the way folly does, through weak
 * references.  Under the shim without jemalloc, mallctl must be absent
 * and the exported mallocx family must still behave as documented. */
#include <malloc.h>
#include <stdint.h>
#include "util.h"

extern void *mallocx(size_t, int) __attribute__((weak));
extern void *rallocx(void *, size_t, int) __attribute__((weak));
extern size_t xallocx(void *, size_t, size_t, int) __attribute__((weak));
extern void sdallocx(void *, size_t, int) __attribute__((weak));
extern void dallocx(void *, int) __attribute__((weak));
extern int mallctl(const char *, void *, size_t *, void *, size_t) __attribute__((weak));

#define LG_ALIGN(la) (la)
#define ZERO 0x40

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    facts_open(argv[1]);
    fact("has_mallctl", mallctl != NULL);
    fact("has_mallocx", mallocx != NULL);
    if (!mallocx)
        return 0;
    unsigned char *p = mallocx(100000, LG_ALIGN(12) | ZERO);
    int zero = 1;
    for (int i = 0; i < 100000; i++)
        zero &= p[i] == 0;
    fact("aligned", ((uintptr_t)p & 4095) == 0);
    fact("zeroed", zero);
    memset(p, 7, 100000);
    p = rallocx(p, 300000, 0);
    fact("kept", p[99999] == 7);
    fact("xallocx_size", (long long)xallocx(p, 300000, 0, 0) >= 300000);
    fact("usable", (long long)malloc_usable_size(p));
    void *q = mallocx(5000, 0);
    sdallocx(q, 5000, 0);
    dallocx(p, 0);
    return 0;
}
