/* portable_heap OUT N LEAK: the one test program built on every system the
 * shim is built for (Linux and macOS: the macOS CI workflow runs it, see
 * t1020).  Holds N blocks of mixed sizes at once, marks that moment with a
 * probe, frees all but LEAK, marks again, prints one line and exits with
 * status 3, so that a run under the shim can be checked against a bare one
 * and its figures against what the program did on purpose: the usable
 * bytes it held and leaked, from the allocator's own size query. */
#ifdef __APPLE__
#include <malloc/malloc.h>
#define usable(p) malloc_size(p)
#else
#include <malloc.h>
#define usable(p) malloc_usable_size(p)
#endif
#include "perf_probe.h"
#include "util.h"

int main(int argc, char **argv)
{
    static const size_t sizes[] = {24, 100, 1000, 5000, 70000, 300000};
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    long n = atol(argv[2]), leak = atol(argv[3]);
    if (n < 1 || leak < 0 || leak > n)
        return 2;
    void **blocks = malloc((size_t)n * sizeof *blocks);
    long long held = (long long)usable(blocks), leaked = 0;
    for (long i = 0; i < n; i++) {
        blocks[i] = malloc(sizes[i % 6]);
        memset(blocks[i], 1, sizes[i % 6]);
        held += (long long)usable(blocks[i]);
    }
    perf_probe("held");
    for (long i = 0; i < n; i++) {
        if (i < leak)
            leaked += (long long)usable(blocks[i]);
        else
            free(blocks[i]);
    }
    free(blocks);
    perf_probe("freed");
    fact("held_usable", held);
    fact("leak_usable", leaked);
    fact("allocs", n + 1);
    fact("frees", n - leak + 1);
    static const char line[] = "portable_heap done\n";
    if (write(1, line, sizeof line - 1) < 0)
        return 4;
    return 3;
}
