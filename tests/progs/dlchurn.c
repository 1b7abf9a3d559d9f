/* dlchurn FACTS LIB N: dlopen and dlclose LIB N times on the program's one
 * thread, the heap climbing by 64 KiB a round meanwhile (so that the
 * sampler writes peak views), then the probe "end".  Writes the rounds
 * done and the bytes kept. */
// link: -ldl
#include <dlfcn.h>
#include "perf_probe.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    int n = atoi(argv[3]);
    long long kept = 0;
    for (int i = 0; i < n; i++) {
        void *h = dlopen(argv[2], RTLD_NOW);
        if (!h)
            return 3;
        char *p = malloc(64 << 10);
        memset(p, 1, 64);
        test_sink = p;
        kept += 64 << 10;
        dlclose(h);
    }
    perf_probe("end");
    fact("rounds", n);
    fact("kept", kept);
    return 0;
}
