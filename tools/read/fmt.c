/*
 * fmt.c - the numbers of a record, in and out: a number field of a JSON
 * record (json_num), the unit a figure's key implies (key_unit: *_bytes,
 * *_ns, *_s, *_pct, per_s ...) and that figure written for a person
 * (fmt_value: "12.34 MiB", "1.23 µs", "12.5%"; fmt_fixed: a fixed number of
 * decimals, in exponent notation from 1e15 on so that no figure is cut).
 *
 * The lowest floor of the reader: the reader itself, the process tree,
 * the sites and every command's tables use these, so that one key prints
 * the same way everywhere.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <math.h>
#include <string.h>

/* ---- fields ------------------------------------------------------------------ */

double json_num(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

int module_extent(json_t *o, uint64_t *lo, uint64_t *hi)
{
    const char *type = json_string_value(json_object_get(o, "type"));
    json_t *ranges = json_object_get(o, "ranges"), *r;
    if (!type || strcmp(type, "module") || !json_is_array(ranges))
        return 0;
    *lo = UINT64_MAX;
    *hi = 0;
    size_t k;
    json_array_foreach(ranges, k, r) {
        uint64_t a = (uint64_t)json_number_value(json_array_get(r, 0));
        uint64_t b = (uint64_t)json_number_value(json_array_get(r, 1));
        if (a < *lo)
            *lo = a;
        if (b > *hi)
            *hi = b;
    }
    return 1;
}

int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* ---- units ------------------------------------------------------------------- */

enum unit key_unit(const char *key)
{
    const char *f = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
    static const char *const sized[] = {"rss", "hwm", "heap", "heap_max", "anon", "file", NULL};
    for (int i = 0; sized[i]; i++)
        if (!strcmp(f, sized[i]))
            return U_BYTES;
    if (strstr(f, "_bytes") || !strncmp(f, "bytes_", 6) || !strncmp(f, "d_rss", 5) || !strncmp(f, "d_heap", 6) ||
        !strncmp(f, "peak_heap", 9) || !strncmp(f, "peak_rss", 8))
        return U_BYTES;
    if (ends_with(f, "_ns"))
        return U_NS;
    if (!strcmp(f, "per_s") || ends_with(f, "_per_s"))
        return U_RATE;
    if (ends_with(f, "_pct") || !strncmp(f, "cpu_pct", 7))
        return U_PCT;
    if (ends_with(f, "_s"))
        return U_SECONDS;
    return U_COUNT;
}

/* V with PREC decimals ("%.*f", a sign first with PLUS), or, from 1e15 on
 * (where %f writes hundreds of digits, cut by any buffer of a table's
 * cell), in exponent notation with 4 significant digits: "1.000e+308";
 * "inf", "-inf" as they are. */
void fmt_fixed(char *buf, size_t n, int prec, double v, int plus)
{
    if (fabs(v) < 1e15)
        snprintf(buf, n, plus ? "%+.*f" : "%.*f", prec, v);
    else
        snprintf(buf, n, plus ? "%+.4g" : "%.4g", v);
}

void fmt_value(char *buf, size_t n, const char *key, double v)
{
    double a = fabs(v);
    char x[48];
    if (isnan(v)) {
        snprintf(buf, n, "-");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, "%s", v > 0 ? "inf" : "-inf");
        return;
    }
    switch (key_unit(key)) {
    case U_BYTES:
        if (a >= 1073741824.0) fmt_fixed(x, sizeof x, 2, v / 1073741824.0, 0), snprintf(buf, n, "%s GiB", x);
        else if (a >= 1048576.0) snprintf(buf, n, "%.2f MiB", v / 1048576.0);
        else if (a >= 1024.0) snprintf(buf, n, "%.2f KiB", v / 1024.0);
        else snprintf(buf, n, "%.0f B", v);
        return;
    case U_NS:
        if (a < 1e3) snprintf(buf, n, "%.0f ns", v);
        else if (a < 1e6) snprintf(buf, n, "%.2f \xc2\xb5s", v / 1e3);
        else if (a < 1e9) snprintf(buf, n, "%.2f ms", v / 1e6);
        else fmt_fixed(x, sizeof x, 3, v / 1e9, 0), snprintf(buf, n, "%s s", x);
        return;
    case U_RATE:
        fmt_fixed(x, sizeof x, a >= 100 ? 0 : 2, v, 0);
        snprintf(buf, n, "%s/s", x);
        return;
    case U_PCT:
        fmt_fixed(x, sizeof x, 1, v, 0);
        snprintf(buf, n, "%s%%", x);
        return;
    case U_SECONDS:
        fmt_fixed(x, sizeof x, 4, v, 0);
        snprintf(buf, n, "%s s", x);
        return;
    case U_COUNT:
        if (v == floor(v) && a < 1e15) snprintf(buf, n, "%.0f", v);
        else snprintf(buf, n, "%.4g", v);
        return;
    }
}

void fmt_values_apart(char *a, char *b, size_t n, const char *key, double va, double vb)
{
    fmt_value(a, n, key, va);
    fmt_value(b, n, key, vb);
    if (strcmp(a, b) || va == vb || isnan(va) || isnan(vb))
        return;
    /* in the key's base unit, with as many digits as tell them apart */
    static const char *const base[] = {[U_COUNT] = "", [U_BYTES] = " B", [U_NS] = " ns",
                                       [U_SECONDS] = " s", [U_RATE] = "/s", [U_PCT] = "%"};
    const char *u = base[key_unit(key)];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(a, n, "%.*g%s", prec, va, u);
        snprintf(b, n, "%.*g%s", prec, vb, u);
        if (strcmp(a, b))
            return;
    }
}

/* the shortest decimal that reads back as V (5.62443, not 5.6244300000000003) */
void fmt_num_csv(char *buf, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(buf, n, "%s", "");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}
