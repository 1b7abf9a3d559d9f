/* test_buf.c - number and JSON string formatting (shim/buf.c). */
#include <string.h>

#include "check.h"
#include "core/core.h"

static char out[4096];

static const char *fixed(int64_t v, unsigned scale, unsigned dec)
{
    struct pp_buf b = {out, 0, sizeof out - 1};
    pp_buf_fixed(&b, v, scale, dec);
    out[b.len] = 0;
    return out;
}

static const char *json(const char *s, size_t max)
{
    struct pp_buf b = {out, 0, sizeof out - 1};
    pp_buf_json_str(&b, s, max);
    out[b.len] = 0;
    return out;
}

int main(void)
{
    struct pp_buf b = {out, 0, sizeof out - 1};
    pp_buf_u64(&b, 0);
    pp_buf_raw(&b, " ", 1);
    pp_buf_u64(&b, UINT64_MAX);
    pp_buf_raw(&b, " ", 1);
    pp_buf_i64(&b, INT64_MIN);
    out[b.len] = 0;
    CHECK(strcmp(out, "0 18446744073709551615 -9223372036854775808") == 0, "integers: %s", out);

    CHECK(strcmp(fixed(1234567890, 9, 6), "1.234568") == 0, "seconds rounded: %s", out);
    CHECK(strcmp(fixed(999999999, 9, 3), "1.000") == 0, "rounding carries: %s", out);
    CHECK(strcmp(fixed(5, 9, 4), "0.0000") == 0, "tiny: %s", out);
    CHECK(strcmp(fixed(-1500, 3, 1), "-1.5") == 0, "negative: %s", out);
    CHECK(strcmp(fixed(42, 0, 0), "42") == 0, "no decimals: %s", out);

    CHECK(strcmp(json("plain", 100), "\"plain\"") == 0, "plain string: %s", out);
    CHECK(strcmp(json(NULL, 100), "null") == 0, "NULL is null");
    CHECK(strcmp(json("", 100), "\"\"") == 0, "empty string");
    CHECK(strcmp(json("a\"b\\c", 100), "\"a\\\"b\\\\c\"") == 0, "quote and backslash: %s", out);
    CHECK(strcmp(json("t\tn\n\x01\x7f", 100), "\"t\\u0009n\\u000a\\u0001\\u007f\"") == 0,
          "control characters: %s", out);
    CHECK(strcmp(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 100),
                  "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"") == 0, "valid UTF-8 kept");
    CHECK(strcmp(json("a\xff" "b\xc3", 100), "\"a\\ufffdb\\ufffd\"") == 0,
          "invalid and truncated UTF-8 replaced: %s", out);
    CHECK(strcmp(json("\xc0\xaf", 100), "\"\\ufffd\\ufffd\"") == 0, "overlong form rejected: %s", out);
    CHECK(strcmp(json("\xed\xa0\x80", 100), "\"\\ufffd\\ufffd\\ufffd\"") == 0,
          "surrogate rejected: %s", out);
    CHECK(strcmp(json("abcdef", 3), "\"abc\"") == 0, "cut at max_in: %s", out);
    CHECK(strcmp(json("\xe2\x82\xac", 2), "\"\\ufffd\\ufffd\"") == 0,
          "a cut inside a character stays valid: %s", out);

    /* a full buffer drops the rest instead of overflowing */
    char small[8];
    struct pp_buf s = {small, 0, sizeof small};
    pp_buf_str(&s, "0123456789");
    CHECK(s.len == sizeof small && memcmp(small, "01234567", 8) == 0, "full buffer stops");

    b = (struct pp_buf){out, 0, sizeof out - 1};
    pp_buf_raw(&b, "{", 1);
    pp_buf_key(&b, "a");
    pp_buf_u64(&b, 1);
    pp_buf_key(&b, "b");
    pp_buf_u64(&b, 2);
    pp_buf_raw(&b, "}", 1);
    out[b.len] = 0;
    CHECK(strcmp(out, "{\"a\":1,\"b\":2}") == 0, "keys get commas: %s", out);
    CHECK_DONE();
}
