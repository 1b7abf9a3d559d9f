/*
 * prom_steps.c FACTS STEPS STEP_MS - RSS that grows in known steps, for the
 * Prometheus tests (`perfprobe serve` scraped while it runs): STEPS times,
 * allocate 8 MiB, touch every page inside the region "step", probe "step",
 * then sleep STEP_MS.  Writes the bytes it touched to FACTS.
 */
#include <perf_probe.h>
#include <time.h>
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    facts_open(argv[1]);
    int steps = atoi(argv[2]);
    long ms = atol(argv[3]);
    enum { STEP = 8 << 20 };
    char **keep = malloc((size_t)steps * sizeof *keep);
    for (int i = 0; i < steps; i++) {
        keep[i] = malloc(STEP);
        perf_region_begin("step");
        memset(keep[i], i + 1, STEP);
        perf_region_end("step");
        perf_probe("step");
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    test_sink = keep;
    fact("touched", (long long)steps * STEP);
    return 0;
}
