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
    CHECK(pp_getenv("PERFPROBE_NOPE") == NULL && strcmp(pp_getenv("PERFPROBE_QUIET"), "Yes") == 0,
          "pp_getenv");
    size_t n;
    const struct pp_option_doc *d = pp_options_doc(&n);
    CHECK(n >= 5 && strcmp(d[0].name, "PERFPROBE_OUTPUT") == 0, "documentation rows: %zu", n);
    CHECK_DONE();
}
