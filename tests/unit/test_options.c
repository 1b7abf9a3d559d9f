/* test_options.c - parsing PERFPROBE_* settings (shim/options.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"

int main(void)
{
    pp_options_load(1);
    CHECK(pp_opt.interval_ms == 10 && pp_opt.batch_bytes == 65536 && pp_opt.follow == PP_FOLLOW_ALL &&
          pp_opt.quiet == 0 && strcmp(pp_opt.output, "perfprobe.%n.%p.jsonl") == 0,
          "defaults");
    setenv("PERFPROBE_INTERVAL_MS", "250", 1);
    setenv("PERFPROBE_BATCH", "2M", 1);
    setenv("PERFPROBE_QUIET", "Yes", 1);
    setenv("PERFPROBE_FOLLOW", "off", 1);
    setenv("PERFPROBE_OUTPUT", "/tmp/x-%p.jsonl", 1);
    pp_options_load(1);
    CHECK(pp_opt.interval_ms == 250, "number");
    CHECK(pp_opt.batch_bytes == 2u << 20, "size with M");
    CHECK(pp_opt.quiet == 1 && pp_opt.follow == PP_FOLLOW_NONE, "booleans in any case");
    setenv("PERFPROBE_FOLLOW", "Exec", 1);
    pp_options_load(1);
    CHECK(pp_opt.follow == PP_FOLLOW_EXEC, "follow: exec");
    setenv("PERFPROBE_FOLLOW", "yes", 1);
    pp_options_load(1);
    CHECK(pp_opt.follow == PP_FOLLOW_ALL, "follow: a true boolean is all");
    setenv("PERFPROBE_FOLLOW", "off", 1);
    CHECK(strcmp(pp_opt.output, "/tmp/x-%p.jsonl") == 0, "path");
    setenv("PERFPROBE_BATCH", "1KiB", 1);
    pp_options_load(1);
    CHECK(pp_opt.batch_bytes == 1024, "KiB suffix");
    const char *bad[] = {"", "abc", "-1", "10x", "99999999999999999999999", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv("PERFPROBE_INTERVAL_MS", bad[i], 1);
        pp_options_load(1);
        CHECK(pp_opt.interval_ms == 10, "bad interval \"%s\" keeps the default", bad[i]);
    }
    setenv("PERFPROBE_INTERVAL_MS", "10", 1);
    setenv("PERFPROBE_SEED", "18446744073709551615", 1);
    pp_options_load(1);
    CHECK(pp_opt.seed == UINT64_MAX, "seed: UINT64_MAX is taken");
    setenv("PERFPROBE_SEED", "18446744073709551616", 1);
    pp_options_load(1);
    CHECK(pp_opt.seed == 0, "seed: past UINT64_MAX keeps the default");
    setenv("PERFPROBE_SEED", "0", 1);
    setenv("PERFPROBE_OUTPUT", "", 1);
    pp_options_load(1);
    CHECK(pp_opt.output[0] == 0, "output: empty is taken (no file)");
    const char *cpu[][2] = {{"OFF", "off"}, {"No", "off"}, {"0", "off"}, {"997", "997"},
                            {"0997", "997"}, {"abc", "99"}, {"10001", "99"}, {"on", "99"},
                            {"", "99"}};
    for (size_t i = 0; i < sizeof cpu / sizeof *cpu; i++) {
        setenv("PERFPROBE_CPU", cpu[i][0], 1);
        pp_options_load(1);
        CHECK(strcmp(pp_opt.cpu, cpu[i][1]) == 0, "cpu \"%s\": %s", cpu[i][0], pp_opt.cpu);
    }
    const char *stacks[][2] = {{"OFF", "off"}, {"None", "off"}, {"ALL", "all"},
                               {"Sample", "sample"}, {"abc", "sample"}, {"", "sample"}};
    for (size_t i = 0; i < sizeof stacks / sizeof *stacks; i++) {
        setenv("PERFPROBE_STACKS", stacks[i][0], 1);
        pp_options_load(1);
        CHECK(strcmp(pp_opt.stacks, stacks[i][1]) == 0, "stacks \"%s\": %s", stacks[i][0],
              pp_opt.stacks);
    }
    CHECK(pp_getenv("PERFPROBE_NOPE") == NULL && strcmp(pp_getenv("PERFPROBE_QUIET"), "Yes") == 0,
          "pp_getenv");
    size_t n;
    const struct pp_option_doc *d = pp_options_doc(&n);
    CHECK(n >= 5 && strcmp(d[0].name, "PERFPROBE_OUTPUT") == 0, "documentation rows: %zu", n);
    CHECK_DONE();
}
