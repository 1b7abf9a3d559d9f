/*
 * fuzz_reader.c - libFuzzer target for the timeline reader (`make fuzz`).
 *
 * Each input is written to a file and put through everything the CLI does
 * with input it did not write: run_read, and the report in every format.
 * Inputs that once broke it are kept in tests/fuzz/regress/ and replayed by
 * the tests under AddressSanitizer.
 */
#define _GNU_SOURCE
#include "report/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    static FILE *sink;
    if (!sink) {
        snprintf(path, sizeof path, "/tmp/perfprobe-fuzz.%d.jsonl", (int)getpid());
        sink = fopen("/dev/null", "w");
    }
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct run r;
    if (run_read(path, &r) == 0) {
        for (int fmt = FMT_TEXT; fmt <= FMT_MARKDOWN; fmt++)
            report_runs(sink, &r, 1, (enum format)fmt);
        double v;
        run_value(&r, "peak_rss_bytes", &v);
        run_value(&r, "probe.a.b.dt_s", &v);
        run_value(&r, "region.x/y.p99_ns", &v);
        run_free(&r);
    }
    return 0;
}

/* error() lives in read/usage.c, which the fuzzer leaves out to bring its
 * own, silent one: rejecting bad input is the expected outcome */
int error(const char *fmt, ...)
{
    (void)fmt;
    return EXIT_USAGE;
}
