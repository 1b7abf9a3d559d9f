/* own_malloc OUT N SIZE: a program with its own allocator linked in (as
 * rustc has jemalloc): malloc, free, calloc, realloc and
 * malloc_usable_size are defined here, so the shim's hooks never see its
 * calls and its heap is not counted.  It makes N allocations of SIZE bytes,
 * touches every byte and keeps them all, then writes what it did: the
 * calls its own allocator served and the bytes they hold (which the shim
 * cannot know, and must not report as 0). */
#include "util.h"

#include <stdint.h>

/* a bump allocator over a static arena: a block is a 16-byte header with
 * its size, then the bytes */
static _Alignas(16) unsigned char arena[64 << 20];
static size_t used;
/* volatile: a compiler takes a call of malloc to change no variable of the
 * program's, and would read these once around the loop */
static volatile long long served, held;

void *malloc(size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > sizeof arena - 16 - used)
        return NULL;
    unsigned char *p = arena + used;
    *(size_t *)p = n;
    used += n + 16;
    served++;
    held += (long long)n;
    return p + 16;
}

void free(void *p)
{
    (void)p;                      /* a bump allocator keeps everything */
}

size_t malloc_usable_size(void *p)
{
    return p ? *(size_t *)((unsigned char *)p - 16) : 0;
}

/* the arena is static and never handed out twice, so a new block is
 * zeroed already (and a memset after malloc here would be compiled into a
 * call of calloc itself) */
void *calloc(size_t a, size_t b)
{
    if (b && a > SIZE_MAX / b)
        return NULL;
    return malloc(a * b);
}

void *realloc(void *p, size_t n)
{
    void *q = malloc(n);
    if (p && q) {
        size_t old = malloc_usable_size(p);
        memcpy(q, p, old < n ? old : n);
    }
    return q;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    long n = atol(argv[2]), size = atol(argv[3]);
    long long before_calls = served, before_bytes = held;
    for (long i = 0; i < n; i++) {
        unsigned char *p = malloc((size_t)size);
        if (!p)
            return 3;
        memset(p, 1, (size_t)size);
        test_sink = p;
    }
    fact("allocs", served - before_calls);
    fact("held", held - before_bytes);
    return 0;
}
