/*
 * compare.c - `perfprobe diff` and `perfprobe check`.
 *
 * Both name a figure the same way: a summary key (`peak_rss_bytes`),
 * `probe.LABEL.FIELD` or `region.PATH.FIELD` (split at the last dot, so
 * labels and paths may contain dots).  Limits take units from the key:
 * sizes for *_bytes (K, M, G: powers of 1024), durations for *_ns and *_s
 * (ns, us, µs, ms, s), plain numbers otherwise (k, M, G: powers of 1000).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_num(o, k, NAN);
}

/* ---- naming a figure -------------------------------------------------------- */

/* Every value KEY names in R (probes may repeat a label): calls fn for each;
 * returns how many there were. */
/* Calls fn for the field after the last dot of KEY in every element of
 * ARRAY whose NAME_KEY equals the part of KEY between PREFIX and that dot. */
static int each_named(json_t *array, const char *name_key, const char *key, size_t prefix,
                      void (*fn)(void *, const char *, double), void *ctx)
{
    const char *dot = strrchr(key, '.');
    size_t n = (size_t)(dot - key) - prefix, i;
    json_t *p;
    int found = 0;
    json_array_foreach(array, i, p) {
        const char *name = json_string_value(json_object_get(p, name_key));
        double v = num(p, dot + 1);
        if (name && strlen(name) == n && !strncmp(name, key + prefix, n) && !isnan(v)) {
            fn(ctx, key, v);
            found++;
        }
    }
    return found;
}

/* Every value KEY names in R (probes may repeat a label): calls fn for each;
 * returns how many there were. */
static int each_value(const struct run *r, const char *key,
                      void (*fn)(void *, const char *, double), void *ctx)
{
    const char *dot = strrchr(key, '.');
    if (!strncmp(key, "probe.", 6) && dot > key + 6)
        return each_named(r->probes, "label", key, 6, fn, ctx);
    if (!strncmp(key, "region.", 7) && dot > key + 7)
        return each_named(r->regions, "path", key, 7, fn, ctx);
    double v = num(r->summary, key);
    if (isnan(v))
        return 0;
    fn(ctx, key, v);
    return 1;
}

static void first_value(void *ctx, const char *key, double v)
{
    (void)key;
    double *out = ctx;
    if (isnan(*out))
        *out = v;
}

int run_value(const struct run *r, const char *key, double *out)
{
    *out = NAN;
    each_value(r, key, first_value, out);
    return isnan(*out) ? -1 : 0;
}

int parse_limit(const char *key, const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || isnan(v))
        return -1;
    while (*end == ' ')
        end++;
    double mul = 1;
    const char *u = end;
    int sized = strstr(key, "_bytes") || !strncmp(key, "d_rss", 5) || !strncmp(key, "d_heap", 6) ||
                ends_with(key, "_since_last");
    const char *field = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
    sized |= !strncmp(field, "d_rss", 5) || !strncmp(field, "d_heap", 6) ||
             !strncmp(field, "peak_heap", 9) || !strncmp(field, "peak_rss", 8);
    if (!*u) {
        mul = 1;
    } else if (sized) {
        static const char *const units[] = {"B", "K", "KB", "KiB", "M", "MB", "MiB", "G", "GB", "GiB", "T", "TB", "TiB"};
        static const double muls[] = {1, 1024.0, 1024.0, 1024.0, 1048576.0, 1048576.0, 1048576.0,
                                      1073741824.0, 1073741824.0, 1073741824.0,
                                      1099511627776.0, 1099511627776.0, 1099511627776.0};
        size_t i;
        for (i = 0; i < sizeof units / sizeof *units; i++)
            if (!strcmp(u, units[i]))
                break;
        if (i == sizeof units / sizeof *units)
            return -1;
        mul = muls[i];
    } else if (ends_with(field, "_ns") || ends_with(field, "_s")) {
        static const char *const units[] = {"ns", "us", "\xc2\xb5s", "ms", "s"};
        static const double ns[] = {1, 1e3, 1e3, 1e6, 1e9};
        size_t i;
        for (i = 0; i < 5; i++)
            if (!strcmp(u, units[i]))
                break;
        if (i == 5)
            return -1;
        mul = ends_with(field, "_ns") ? ns[i] : ns[i] / 1e9;
    } else {
        if (!strcmp(u, "k") || !strcmp(u, "K")) mul = 1e3;
        else if (!strcmp(u, "M")) mul = 1e6;
        else if (!strcmp(u, "G")) mul = 1e9;
        else return -1;
    }
    *out = v * mul;
    return 0;
}

/* "10" or "10%" as a non-negative percentage; 0 on success */
static int parse_pct(const char *text, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text)
        return -1;
    if (*end == '%')
        end++;
    if (*end || isnan(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* ---- check --------------------------------------------------------------------- */

static const char check_usage[] =
    "usage: perfprobe check FILE [--max KEY=VALUE]... [--thresholds FILE]\n"
    "                       [--baseline B --max-regression PCT] [--allow-incomplete]\n"
    "\n"
    "The CI gate. KEY is a summary key (peak_rss_bytes), probe.LABEL.FIELD or\n"
    "region.PATH.FIELD; VALUE takes units (200M, 10us, 0.5). With a baseline,\n"
    "a summary figure that grew by more than PCT percent fails.\n"
    "Exit 0 when everything holds, 1 with each violation listed, 2 on usage or\n"
    "input errors. An incomplete timeline fails unless --allow-incomplete.\n";

struct limit_ctx { double limit; int failed; const char *text; };

static void over_limit(void *ctx, const char *key, double v)
{
    struct limit_ctx *c = ctx;
    char a[64], b[64];
    fmt_value(a, sizeof a, strrchr(key, '.') ? strrchr(key, '.') + 1 : key, v);
    fmt_value(b, sizeof b, strrchr(key, '.') ? strrchr(key, '.') + 1 : key, c->limit);
    if (v > c->limit) {
        printf("FAIL %s = %s, above the limit %s\n", key, a, b);
        c->failed++;
    } else {
        printf("ok   %s = %s (limit %s)\n", key, a, b);
    }
}

/* one KEY=VALUE limit: 0 holds, 1 fails, -1 bad input */
static int check_limit(const struct run *r, const char *spec)
{
    char key[512];
    const char *eq = strchr(spec, '=');
    const char *val = eq ? eq + 1 : NULL;
    if (eq && eq > spec && eq[-1] == '<')            /* KEY<=VALUE */
        eq--;
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof key) {
        error("check: '%s' is not KEY=VALUE", spec);
        return -1;
    }
    memcpy(key, spec, (size_t)(eq - spec));
    key[eq - spec] = 0;
    while (*val == ' ')
        val++;
    struct limit_ctx c = {0, 0, spec};
    if (parse_limit(key, val, &c.limit) < 0) {
        error("check: '%s': '%s' is not a value for %s", spec, val, key);
        return -1;
    }
    if (each_value(r, key, over_limit, &c) == 0) {
        printf("FAIL %s: no such value in %s\n", key, r->path);
        return 1;
    }
    return c.failed ? 1 : 0;
}

/* summary figures a baseline comparison watches: the ones where more is worse */
static const char *const regress_keys[] = {
    "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "peak_heap_bytes",
    "peak_mmap_bytes", "heap_bytes_at_exit", "allocs", NULL};

int cmd_check(int argc, char **argv)
{
    const char *file = NULL, *baseline = NULL, *thresholds = NULL;
    const char *limits[256];
    int nlimits = 0, allow_incomplete = 0;
    double max_regress = NAN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(check_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--max") && i + 1 < argc) {
            if (nlimits == 256)
                return error("check: too many --max");
            limits[nlimits++] = argv[++i];
        } else if (!strncmp(a, "--max=", 6)) {
            if (nlimits == 256)
                return error("check: too many --max");
            limits[nlimits++] = a + 6;
        } else if (!strcmp(a, "--thresholds") && i + 1 < argc) {
            thresholds = argv[++i];
        } else if (!strcmp(a, "--baseline") && i + 1 < argc) {
            baseline = argv[++i];
        } else if (!strcmp(a, "--max-regression") && i + 1 < argc) {
            if (parse_pct(argv[++i], &max_regress) < 0)
                return error("check: --max-regression '%s' is not a percentage", argv[i]);
        } else if (!strcmp(a, "--allow-incomplete")) {
            allow_incomplete = 1;
        } else if (a[0] == '-' && a[1]) {
            fputs(check_usage, stderr);
            return error("check: unknown option '%s'", a);
        } else if (!file) {
            file = a;
        } else {
            return error("check: one FILE only ('%s')", a);
        }
    }
    if (!file) {
        fputs(check_usage, stderr);
        return error("check: no FILE");
    }
    if (baseline && isnan(max_regress))
        return error("check: --baseline needs --max-regression PCT");
    if (!baseline && !isnan(max_regress))
        return error("check: --max-regression needs --baseline B");
    if (!nlimits && !thresholds && !baseline)
        return error("check: nothing to check (give --max, --thresholds or --baseline)");

    struct run r, b;
    if (run_read(file, &r) < 0)
        return EXIT_USAGE;
    int failed = 0, rc = EXIT_OK;
    if (!allow_incomplete && !json_is_true(json_object_get(r.summary, "complete"))) {
        printf("FAIL %s is incomplete: the process did not exit normally\n", file);
        failed++;
    }
    for (int i = 0; i < nlimits; i++) {
        int c = check_limit(&r, limits[i]);
        if (c < 0) {
            rc = EXIT_USAGE;
            goto out;
        }
        failed += c;
    }
    if (thresholds) {
        FILE *f = fopen(thresholds, "r");
        if (!f) {
            rc = error("check: %s: %s", thresholds, strerror(errno));
            goto out;
        }
        char line[1024];
        int lineno = 0;
        while (fgets(line, sizeof line, f)) {
            lineno++;
            char *p = line, *e = line + strlen(line);
            while (*p == ' ' || *p == '\t')
                p++;
            while (e > p && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = 0;
            if (!*p || *p == '#')
                continue;
            int c = check_limit(&r, p);
            if (c < 0) {
                fclose(f);
                rc = error("check: %s:%d: bad line", thresholds, lineno);
                goto out;
            }
            failed += c;
        }
        fclose(f);
    }
    if (baseline) {
        if (run_read(baseline, &b) < 0) {
            rc = EXIT_USAGE;
            goto out;
        }
        for (int k = 0; regress_keys[k]; k++) {
            double now = num(r.summary, regress_keys[k]), was = num(b.summary, regress_keys[k]);
            if (isnan(now) || isnan(was))
                continue;
            double pct = was > 0 ? (now - was) / was * 100.0 : (now > 0 ? INFINITY : 0);
            char a[64], bb[64];
            fmt_value(a, sizeof a, regress_keys[k], now);
            fmt_value(bb, sizeof bb, regress_keys[k], was);
            if (pct > max_regress) {
                printf("FAIL %s grew %+.1f%%: %s, baseline %s (at most %+.1f%%)\n",
                       regress_keys[k], pct, a, bb, max_regress);
                failed++;
            } else {
                printf("ok   %s %+.1f%%: %s, baseline %s\n", regress_keys[k], pct, a, bb);
            }
        }
        run_free(&b);
    }
    if (failed) {
        printf("%d check%s failed\n", failed, failed == 1 ? "" : "s");
        rc = EXIT_CHECK_FAILED;
    } else {
        printf("all checks passed\n");
    }
out:
    run_free(&r);
    return rc;
}

/* ---- diff ------------------------------------------------------------------------ */

static const char diff_usage[] =
    "usage: perfprobe diff [--noise PCT] A B\n"
    "\n"
    "For the summary and each probe (matched by label and occurrence) and region\n"
    "(by path): A, B, the change and the percentage; '!' marks changes beyond the\n"
    "noise threshold (default 5%).\n";

static void diff_row(const char *name, const char *key, double a, double b, double noise)
{
    char sa[64], sb[64], sd[64];
    if (isnan(a) && isnan(b))
        return;
    fmt_value(sa, sizeof sa, key, a);
    fmt_value(sb, sizeof sb, key, b);
    fmt_value(sd, sizeof sd, key, b - a);
    double pct = a != 0 ? (b - a) / fabs(a) * 100.0 : (b != 0 ? INFINITY : 0);
    int mark = !isnan(pct) && fabs(pct) > noise;
    char spct[32];
    if (isnan(a) || isnan(b))
        snprintf(spct, sizeof spct, "%s", isnan(a) ? "new" : "gone");
    else if (isinf(pct))
        snprintf(spct, sizeof spct, "new");
    else
        snprintf(spct, sizeof spct, "%+.1f%%", pct);
    if (isnan(a) || isnan(b))
        snprintf(sd, sizeof sd, "-");
    printf("%s ", mark || isnan(a) || isnan(b) ? "!" : " ");
    pad(stdout, name, 40, 0);
    pad(stdout, sa, 15, 1);
    pad(stdout, sb, 15, 1);
    pad(stdout, sd, 15, 1);
    pad(stdout, spct, 10, 1);
    putchar('\n');
}

static const char *const diff_probe_keys[] = {"dt_s", "d_rss_last", "d_heap_last",
                                             "peak_heap_since_last", "peak_rss_since_last", NULL};
static const char *const diff_region_keys[] = {"count", "mean_ns", "p50_ns", "p99_ns", "per_s", NULL};

/* the k-th probe (0-based) labelled LABEL, or NULL */
static json_t *nth_probe(const struct run *r, const char *label, int k)
{
    size_t i;
    json_t *p;
    json_array_foreach(r->probes, i, p) {
        const char *l = json_string_value(json_object_get(p, "label"));
        if (((!l && !label) || (l && label && !strcmp(l, label))) && k-- == 0)
            return p;
    }
    return NULL;
}

static int occurrence(const struct run *r, size_t upto, const char *label)
{
    int k = 0;
    for (size_t i = 0; i < upto; i++) {
        const char *l = json_string_value(json_object_get(json_array_get(r->probes, i), "label"));
        k += (!l && !label) || (l && label && !strcmp(l, label));
    }
    return k;
}

int cmd_diff(int argc, char **argv)
{
    const char *files[2];
    int n = 0;
    double noise = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(diff_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--noise") && i + 1 < argc) {
            if (parse_pct(argv[++i], &noise) < 0)
                return error("diff: --noise '%s' is not a percentage", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fputs(diff_usage, stderr);
            return error("diff: unknown option '%s'", argv[i]);
        } else if (n < 2) {
            files[n++] = argv[i];
        } else {
            return error("diff: two files only");
        }
    }
    if (n != 2) {
        fputs(diff_usage, stderr);
        return error("diff: needs two files");
    }
    struct run a, b;
    if (run_read(files[0], &a) < 0)
        return EXIT_USAGE;
    if (run_read(files[1], &b) < 0) {
        run_free(&a);
        return EXIT_USAGE;
    }
    printf("A: %s%s\nB: %s%s\n\n", a.path,
           json_is_true(json_object_get(a.summary, "complete")) ? "" : " (incomplete)", b.path,
           json_is_true(json_object_get(b.summary, "complete")) ? "" : " (incomplete)");
    printf("  %-40s %14s %14s %14s %9s\n", "figure", "A", "B", "change", "%");
    static const char *const keys[] = {
        "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "rss_bytes_at_exit",
        "peak_heap_bytes", "heap_bytes_at_exit", "peak_mmap_bytes", "allocs", "frees",
        "minflt", "majflt", NULL};
    for (int k = 0; keys[k]; k++)
        diff_row(keys[k], keys[k], num(a.summary, keys[k]), num(b.summary, keys[k]), noise);

    size_t i;
    json_t *p;
    char name[600];
    json_array_foreach(a.probes, i, p) {              /* A's probes, and B's twins */
        const char *label = json_string_value(json_object_get(p, "label"));
        json_t *q = nth_probe(&b, label, occurrence(&a, i, label));
        for (int k = 0; diff_probe_keys[k]; k++) {
            snprintf(name, sizeof name, "probe.%s.%s", label ? label : "(null)", diff_probe_keys[k]);
            diff_row(name, diff_probe_keys[k], num(p, diff_probe_keys[k]),
                     q ? num(q, diff_probe_keys[k]) : NAN, noise);
        }
    }
    json_array_foreach(b.probes, i, p) {              /* B's probes A lacks */
        const char *label = json_string_value(json_object_get(p, "label"));
        if (nth_probe(&a, label, occurrence(&b, i, label)))
            continue;
        for (int k = 0; diff_probe_keys[k]; k++) {
            snprintf(name, sizeof name, "probe.%s.%s", label ? label : "(null)", diff_probe_keys[k]);
            diff_row(name, diff_probe_keys[k], NAN, num(p, diff_probe_keys[k]), noise);
        }
    }
    json_array_foreach(a.regions, i, p) {
        const char *path = json_string_value(json_object_get(p, "path"));
        json_t *q = NULL, *x;
        size_t j;
        json_array_foreach(b.regions, j, x)
            if (path && !strcmp(path, json_string_value(json_object_get(x, "path")) ?: ""))
                q = x;
        for (int k = 0; diff_region_keys[k]; k++) {
            snprintf(name, sizeof name, "region.%s.%s", path ? path : "", diff_region_keys[k]);
            diff_row(name, diff_region_keys[k], num(p, diff_region_keys[k]),
                     q ? num(q, diff_region_keys[k]) : NAN, noise);
        }
    }
    json_array_foreach(b.regions, i, p) {
        const char *path = json_string_value(json_object_get(p, "path"));
        int seen = 0;
        size_t j;
        json_t *x;
        json_array_foreach(a.regions, j, x)
            seen |= path && !strcmp(path, json_string_value(json_object_get(x, "path")) ?: "");
        if (seen)
            continue;
        for (int k = 0; diff_region_keys[k]; k++) {
            snprintf(name, sizeof name, "region.%s.%s", path ? path : "", diff_region_keys[k]);
            diff_row(name, diff_region_keys[k], NAN, num(p, diff_region_keys[k]), noise);
        }
    }
    printf("\n'!' marks a change beyond %.1f%% (--noise), or a figure only one file has\n", noise);
    run_free(&a);
    run_free(&b);
    return EXIT_OK;
}
