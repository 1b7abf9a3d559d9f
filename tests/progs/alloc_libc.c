/* alloc_libc OUT N: N blocks of 4 KiB from __libc_malloc, all live at once,
 * then freed through free; then one 4 MiB block from __libc_calloc freed
 * through __libc_free.  Writes the usable bytes held at the peak and the
 * number of calls. */
#include <malloc.h>
#include "util.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void __libc_free(void *);

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    facts_open(argv[1]);
    long n = atol(argv[2]);
    static void *blocks[100000];
    long long held = 0;
    if (n > 100000)
        return 2;
    for (long i = 0; i < n; i++) {
        blocks[i] = __libc_malloc(4096);
        memset(blocks[i], 1, 4096);
        held += (long long)malloc_usable_size(blocks[i]);
    }
    for (long i = 0; i < n; i++)
        free(blocks[i]);
    void *big = __libc_calloc(1, 4 << 20);
    long long big_held = (long long)malloc_usable_size(big);
    __libc_free(big);
    fact("peak_usable", held > big_held ? held : big_held);
    fact("allocs", n + 1);
    fact("frees", n + 1);
    return 0;
}
