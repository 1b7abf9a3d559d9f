/*
 * jsonout.c - JSON that --json can always print.
 *
 * jansson refuses a string that is not UTF-8 and a real that is not
 * finite: json_pack then returns NULL, and json_dumpf(NULL) prints
 * nothing, so `report --json` on a file whose name is Latin-1 printed an
 * empty line with status 0.  Text that comes from outside (a path or a
 * key from the command line, a symbol name from a binary) goes through
 * json_text, which replaces each byte that is not part of valid UTF-8
 * with U+FFFD; a number that may not be finite goes through json_finite
 * (null instead); and json_print says so, with status 2, when an object
 * could still not be built or written.
 */
#include "read/read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the length of the valid UTF-8 sequence at P (N bytes left), or 0 */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    size_t len;
    unsigned min;
    unsigned c = p[0];
    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000, c &= 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return len;
}

json_t *json_text(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t n = strlen(s), o = 0;
    char *out = malloc(3 * n + 1);
    if (!out)
        return json_null();
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(p + i, n - i);
        if (l) {
            memcpy(out + o, p + i, l);
            o += l;
            i += l;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);       /* U+FFFD */
            o += 3;
            i++;
        }
    }
    out[o] = 0;
    j = json_string(out);
    free(out);
    return j ? j : json_null();
}

json_t *json_finite(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int json_print(FILE *f, json_t *o, const char *cmd)
{
    if (!o || json_dumpf(o, f, JSON_COMPACT | JSON_REAL_PRECISION(15)) != 0)
        return error("%s: --json: the output could not be written as JSON", cmd);
    fputc('\n', f);
    return EXIT_OK;
}
