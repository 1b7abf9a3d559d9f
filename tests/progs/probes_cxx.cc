// probes_cxx: the header from C++: perf_probe and the RAII region type.
#include <cstdio>
#include "perf_probe.h"

static int work(int n)
{
    perf::region r("cxx_region");
    int s = 0;
    for (int i = 0; i < n; i++)
        s += i;
    return s;
}

int main()
{
    perf_probe("cxx_start");
    long total = 0;
    for (int i = 0; i < 100; i++)
        total += work(1000);
    perf_counter("cxx_total", static_cast<double>(total));
    perf_probe("cxx_end");
    std::printf("done %ld\n", total);
    return 0;
}
