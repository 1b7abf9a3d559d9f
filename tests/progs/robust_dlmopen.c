/* robust_dlmopen new|base LIB: opens LIB with dlmopen, into a new link
 * namespace (which loads its own copy of libc) or into the base one, has
 * it hold 8 MiB of touched blocks from its malloc for 300 ms, then lets
 * them go.  LIB may start with $ORIGIN: the loader expands it from the
 * caller, which must stay this program under the shim. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include "util.h"
// link: -ldl

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    Lmid_t where = strcmp(argv[1], "new") == 0 ? LM_ID_NEWLM : LM_ID_BASE;
    void *h = dlmopen(where, argv[2], RTLD_NOW);
    if (!h)
        return 3;
    Lmid_t ns = -1;
    if (dlinfo(h, RTLD_DI_LMID, &ns) != 0)
        return 4;
    void (*hold)(size_t) = (void (*)(size_t))dlsym(h, "ns_hold");
    void (*drop)(void) = (void (*)(void))dlsym(h, "ns_drop");
    if (!hold || !drop)
        return 5;
    printf("namespace %s\n", ns == LM_ID_BASE ? "base" : "new");
    hold(8 << 20);
    usleep(300000);
    drop();
    dlclose(h);
    printf("done\n");
    return 0;
}
