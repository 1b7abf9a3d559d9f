/* robust_deepbind LIB: opens LIB with RTLD_DEEPBIND; the library's own
 * malloc calls bind to libc's, past the hooks, and the program frees the
 * 4 MiB they return through the hooks. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include "util.h"
// link: -ldl

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_DEEPBIND);
    if (!h)
        return 3;
    void *(*give)(size_t) = (void *(*)(size_t))dlsym(h, "lib_give");
    if (!give)
        return 4;
    for (int i = 0; i < 4; i++)
        free(give(1 << 20));
    return 0;
}
