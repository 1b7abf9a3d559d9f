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
        size_t l = utf8_seq_len(p + i, n - i);
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
