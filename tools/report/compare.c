/*
 * compare.c - `perfprobe diff` and `perfprobe check`.
 *
 * Both name a figure the same way: a summary key (`peak_rss_bytes`),
 * `probe.LABEL.FIELD` or `region.PATH.FIELD` (split at the last dot, so
 * labels and paths may contain dots).  Limits take units from the key:
 * sizes for *_bytes (K, M, G: powers of 1024), durations for *_ns and *_s
 * (ns, us, µs, ms, s), plain numbers otherwise (k, M, G: powers of 1000).
 *
 * The figures themselves, with those derived from the samples (cpu_pct_*,
 * avg_*_bytes), come from the reader (read/value.c, run_value).
 *
 * `check` collects every result (limit, floor, regression) before printing
 * it as text lines, JSON (--json) or JUnit XML (--junit FILE).
 */
#define _GNU_SOURCE
#include "report/report.h"

#include <unistd.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_num(o, k, NAN);
}

int parse_limit(const char *key, const char *text, double *out)
{
    char *end;
    /* decimal only: strtod would read 0x10 as 16 and 0x1p3 as 8 */
    const char *digits = text + strspn(text, " \t+-");
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        return -1;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || !isfinite(v))
        return -1;
    while (*end == ' ')
        end++;
    double mul = 1;
    const char *u = end;
    enum unit unit = key_unit(key);
    int sized = unit == U_BYTES;
    const char *field = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
    char ub[32];
    if (unit == U_RATE && ends_with(u, "/s") && strlen(u) < sizeof ub) {   /* "100k/s" */
        snprintf(ub, sizeof ub, "%.*s", (int)strlen(u) - 2, u);
        u = ub;
    }
    if (!*u || (unit == U_PCT && !strcmp(u, "%"))) {
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
    } else if (unit == U_NS || unit == U_SECONDS) {
        static const char *const units[] = {"ns", "us", "\xc2\xb5s", "ms", "s"};
        static const double ns[] = {1, 1e3, 1e3, 1e6, 1e9};
        size_t i;
        for (i = 0; i < 5; i++)
            if (!strcmp(u, units[i]))
                break;
        if (i == 5)
            return -1;
        /* seconds: V * ns / 1e9, rounded once (82042us is 0.082042, where
         * V * 1e-6 would be 0.08204199999999999) */
        if (!ends_with(field, "_ns")) {
            *out = v * ns[i] / 1e9;
            return isfinite(*out) ? 0 : -1;
        }
        mul = ns[i];
    } else {
        if (!strcmp(u, "k") || !strcmp(u, "K")) mul = 1e3;
        else if (!strcmp(u, "M")) mul = 1e6;
        else if (!strcmp(u, "G")) mul = 1e9;
        else return -1;
    }
    *out = v * mul;
    return isfinite(*out) ? 0 : -1;        /* 1e308G */
}

/* "10" or "10%" as a non-negative, finite percentage; 0 on success */
static int parse_pct(const char *text, double *out)
{
    char *end;
    const char *digits = text + strspn(text, " \t+-");
    if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
        return -1;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno)
        return -1;
    if (*end == '%')
        end++;
    if (*end || !isfinite(v) || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* ---- check --------------------------------------------------------------------- */

static const char check_usage[] =
    "usage: perfprobe check FILE [--max KEY=VALUE]... [--min KEY=VALUE]...\n"
    "                       [--thresholds FILE] [--baseline B [--max-regression PCT]\n"
    "                       [--max-regression KEY=TOL]...] [--allow-incomplete]\n"
    "                       [--repeat N [--stat median|min|max]] [--json] [--junit FILE]\n"
    "\n"
    "The CI gate. KEY is a summary key (peak_rss_bytes, cpu_pct_max, avg_rss_bytes),\n"
    "probe.LABEL.FIELD or region.PATH.FIELD; VALUE takes units (200M, 10us, 0.5, 100k).\n"
    "--max is a ceiling, --min a floor (region.tick.per_s=100k). With a baseline,\n"
    "--max-regression PCT watches the usual summary figures, and KEY=TOL any figure,\n"
    "TOL a percentage (10%) or an amount in the key's unit (+4K, +50us); a figure is\n"
    "worse when it grows, or for a throughput (per_s) when it falls.\n"
    "Exit 0 when everything holds, 1 with each violation listed, 2 on usage or\n"
    "input errors. An incomplete timeline fails unless --allow-incomplete.\n"
    "A heap figure of a process whose heap was not counted (its malloc is not\n"
    "the shim's) fails: it was not measured.\n"
    "--repeat N reads the N runs `run -n N -o FILE` wrote (FILE.run1.jsonl, ...) and\n"
    "checks each figure's median (or --stat min, max) across them, the baseline's too\n"
    "when it was repeated.\n";

struct checks {
    json_t *results;        /* one object per check */
    int failed;
    const struct run *r;
    /* --repeat N: every figure is STAT ("median", "min" or "max") of the
     * same figure in N runs (r is the first); b_runs likewise for the
     * baseline when it was repeated too */
    const struct run *runs, *b_runs;
    int nruns, b_nruns;
    const char *stat;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* KEY's first value in each of the N runs, reduced to STAT; -1 when a run
 * lacks it */
static int stat_value(const struct run *runs, int n, const char *stat, const char *key,
                      double *out)
{
    double v[n > 0 ? n : 1];
    for (int i = 0; i < n; i++)
        if (run_value(&runs[i], key, &v[i]) < 0)
            return -1;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    if (!strcmp(stat, "min"))
        *out = v[0];
    else if (!strcmp(stat, "max"))
        *out = v[n - 1];
    else
        *out = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return 0;
}

/* KEY in the checked run (or its runs' statistic); -1 when missing */
static int checked_value(const struct checks *c, const char *key, double *out)
{
    return c->nruns > 1 ? stat_value(c->runs, c->nruns, c->stat, key, out)
                        : run_value(c->r, key, out);
}

static int baseline_value(const struct checks *c, const struct run *b, const char *key,
                          double *out)
{
    return c->b_nruns > 1 ? stat_value(c->b_runs, c->b_nruns, c->stat, key, out)
                          : run_value(b, key, out);
}

/* the file that lacks KEY: the first of the N runs of a repeat that has
 * no such value, or ONE's */
static const char *lacking(const struct run *runs, int n, const struct run *one,
                           const char *key)
{
    double v;
    for (int i = 0; n > 1 && i < n; i++)
        if (run_value(&runs[i], key, &v) < 0)
            return runs[i].path;
    return one->path;
}

static void result(struct checks *c, const char *key, const char *kind, int ok, double value,
                   double limit, double base, const char *msg)
{
    json_t *o = json_pack("{s:o, s:s, s:b, s:o}", "key", json_text(key), "kind", kind, "ok", ok,
                          "message", json_text(msg));
    if (c->nruns > 1 && strcmp(kind, "complete")) {
        char st[64];
        snprintf(st, sizeof st, "%s of %d runs", c->stat, c->nruns);
        json_object_set_new(o, "statistic", json_string(st));
        size_t n = strlen(msg);
        char *m = malloc(n + 80);
        if (m) {
            snprintf(m, n + 80, "%s [%s]", msg, st);
            json_object_set_new(o, "message", json_text(m));
            free(m);
        }
    }
    if (!isnan(value))
        json_object_set_new(o, "value", json_finite(value));
    if (!isnan(limit))
        json_object_set_new(o, "limit", json_finite(limit));
    if (!isnan(base))
        json_object_set_new(o, "baseline", json_finite(base));
    json_array_append_new(c->results, o);
    c->failed += !ok;
}

/* The run among the checked ones (each of the N of a repeat, or ONE)
 * whose heap was not counted, when KEY is a heap figure; else NULL */
static const struct run *uncounted(const struct run *runs, int n, const struct run *one,
                                   const char *key)
{
    for (int i = 0; n > 1 && i < n; i++)
        if (!figure_counted(&runs[i], key))
            return &runs[i];
    return n <= 1 && !figure_counted(one, key) ? one : NULL;
}

/* A check on a figure R never measured fails, saying so: a 0 written for
 * a heap the hooks never saw must not pass a gate.  SIDE: "" or "the
 * baseline ". */
static void not_measured(struct checks *c, const char *key, const char *kind,
                         const struct run *r, const char *side)
{
    char why[1200], msg[2000];
    heap_why(r, why, sizeof why);
    snprintf(msg, sizeof msg, "%s was not measured in %s%s: %s", key, side, r->path, why);
    result(c, key, kind, 0, NAN, NAN, NAN, msg);
    json_object_set_new(json_array_get(c->results, json_array_size(c->results) - 1),
                        "measured", json_false());
}

/* A figure at its limit passes, give or take one part in 10^9 of the limit
 * (REL_TOL) and the rounding of the figures (a few units in the last place
 * of SCALE): a limit in other units (82042us for a wall_s of 0.082042) or
 * a percentage of a baseline (10% of 0.3 s) is not exact in binary
 * floating point, and equality must not fail by that.  A limit of 0 stays
 * exact: one byte more fails. */
#define REL_TOL 1e-9

static int at_most(double x, double limit, double scale)
{
    return x <= limit + REL_TOL * fabs(limit) + 4 * DBL_EPSILON * fabs(scale);
}

struct limit_ctx { struct checks *c; double limit; int floor, failed; };

static void against_limit(void *ctx, const char *key, double v)
{
    struct limit_ctx *l = ctx;
    char a[64], b[64], msg[800];
    int ok = l->floor ? at_most(-v, -l->limit, v) : at_most(v, l->limit, v);
    if (ok) {
        fmt_value(a, sizeof a, key, v);
        fmt_value(b, sizeof b, key, l->limit);
    } else {
        fmt_values_apart(a, b, sizeof a, key, v, l->limit);
    }
    if (ok)
        snprintf(msg, sizeof msg, "%s = %s (%s %s)", key, a, l->floor ? "at least" : "limit", b);
    else
        snprintf(msg, sizeof msg, "%s = %s, %s the %s %s", key, a, l->floor ? "below" : "above",
                 l->floor ? "floor" : "limit", b);
    result(l->c, key, l->floor ? "min" : "max", ok, v, l->limit, NAN, msg);
    l->failed += !ok;
}

/* trim spaces and tabs at both ends, in place */
static char *trim(char *s)
{
    char *e = s + strlen(s);
    while (*s == ' ' || *s == '\t')
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = 0;
    return s;
}

/* "KEY=VALUE", "KEY <= VALUE" (a ceiling) or "KEY >= VALUE" (a floor, also
 * when FLOOR): 0 holds, 1 fails, -1 bad input (the error names WHERE) */
static int check_limit_in(struct checks *c, const char *spec, char *buf, int floor,
                          const char *where);

static int check_limit(struct checks *c, const char *spec, int floor, const char *where)
{
    char *buf = strdup(spec);
    int rc = check_limit_in(c, spec, buf, floor, where);
    free(buf);
    return rc;
}

/* check_limit on BUF, a copy of SPEC it may change */
static int check_limit_in(struct checks *c, const char *spec, char *buf, int floor,
                          const char *where)
{
    char *eq = strchr(buf, '=');
    if (eq && eq > buf && (eq[-1] == '<' || eq[-1] == '>')) {
        floor |= eq[-1] == '>';
        eq[-1] = ' ';
    }
    if (!eq) {
        error("check: %s'%s' is not KEY=VALUE", where, spec);
        return -1;
    }
    *eq = 0;
    char *key = trim(buf), *val = trim(eq + 1);
    if (!*key) {
        error("check: %s'%s' is not KEY=VALUE", where, spec);
        return -1;
    }
    struct limit_ctx l = {c, 0, floor, 0};
    if (parse_limit(key, val, &l.limit) < 0) {
        error("check: %s'%s': '%s' is not a value for %s", where, spec, val, key);
        return -1;
    }
    const struct run *u = uncounted(c->runs, c->nruns, c->r, key);
    if (u) {
        not_measured(c, key, floor ? "min" : "max", u, "");
        return 1;
    }
    double sv;
    if (c->nruns > 1 && checked_value(c, key, &sv) == 0)
        against_limit(&l, key, sv);
    else if (c->nruns > 1 || run_each_value(c->r, key, against_limit, &l) == 0) {
        char msg[800];
        snprintf(msg, sizeof msg, "%s: no such value in %s", key,
                 lacking(c->runs, c->nruns, c->r, key));
        result(c, key, floor ? "min" : "max", 0, NAN, l.limit, NAN, msg);
        return 1;
    }
    return l.failed ? 1 : 0;
}

/* a line of a thresholds file longer than this is refused (no limit needs
 * more; a file with no newline is not read whole) */
#define THRESHOLD_LINE_MAX (1u << 20)

/* Comments from '#' (at the start or after a space), blank lines skipped,
 * spaces around the operator allowed, a UTF-8 byte order mark at the start
 * skipped; an error names the line.  Lines are read whole, up to 1 MiB. */
static int check_file(struct checks *c, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error("check: %s: %s", path, strerror(errno));
        return -1;
    }
    struct lines lr;
    lines_init(&lr, fd, THRESHOLD_LINE_MAX);
    char *raw, where[600];
    long len, lineno = 0;
    int failed = 0;
    while ((len = lines_next(&lr, &raw)) > 0) {
        lineno++;
        if (memchr(raw, 0, (size_t)len)) {
            error("check: %s:%ld: a NUL byte: not a thresholds file", path, lineno);
            failed = -1;
            break;
        }
        char *line = strndup(raw, (size_t)len), *p = line;
        if (lineno == 1 && !strncmp(p, "\xef\xbb\xbf", 3))
            p += 3;
        for (char *h = p; (h = strchr(h, '#')); h++)
            if (h == p || h[-1] == ' ' || h[-1] == '\t') {
                *h = 0;
                break;
            }
        p = trim(p);
        int r = 0;
        if (*p) {
            snprintf(where, sizeof where, "%s:%ld: ", path, lineno);
            r = check_limit(c, p, 0, where);
        }
        free(line);
        if (r < 0) {
            failed = -1;
            break;
        }
        failed += r;
    }
    if (failed >= 0 && len == LINE_TOO_LONG) {
        error("check: %s:%ld: line longer than 1 MiB", path, lineno + 1);
        failed = -1;
    } else if (failed >= 0 && len < 0) {
        error("check: %s: %s", path, strerror(errno));
        failed = -1;
    }
    lines_free(&lr);
    close(fd);
    return failed;
}

/* summary figures --max-regression PCT watches: the ones where more is worse */
static const char *const regress_keys[] = {
    "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "peak_heap_bytes",
    "peak_mmap_bytes", "heap_bytes_at_exit", "allocs", NULL};

struct tolerance { const char *key; double amount; int absolute; };

/* "10", "10%" (percent) or "+VALUE" (an amount in KEY's unit); 0 on success */
static int parse_tolerance(const char *key, const char *text, struct tolerance *t)
{
    t->key = key;
    t->absolute = text[0] == '+';
    if (t->absolute)
        return parse_limit(key, text + 1, &t->amount);
    return parse_pct(text, &t->amount);
}

/* NOW against WAS for KEY: worse is up, or down for a throughput */
static void regression(struct checks *c, const char *key, double now, double was,
                       const struct tolerance *t)
{
    int lower_worse = key_unit(key) == U_RATE;
    double worse = lower_worse ? was - now : now - was;
    /* the worsening allowed, as an amount: no division, so that exactly
     * the tolerance is at the limit (give or take REL_TOL) */
    double allowed = t->absolute ? t->amount : t->amount / 100.0 * fabs(was);
    double scale = fabs(now) > fabs(was) ? now : was;
    int ok = at_most(worse, allowed, scale);
    char a[64], b[64], tol[64], chg[64], msg[900];
    if (ok) {
        fmt_value(a, sizeof a, key, now);
        fmt_value(b, sizeof b, key, was);
    } else {
        fmt_values_apart(a, b, sizeof a, key, now, was);
    }
    double change = was != 0 ? (now - was) / fabs(was) * 100.0 : (now != was ? INFINITY : 0);
    fmt_fixed(chg, sizeof chg - 1, 1, change, 1);
    strcat(chg, "%");
    if (t->absolute) {
        fmt_value(tol, sizeof tol, key, t->amount);
        snprintf(tol + strlen(tol), sizeof tol - strlen(tol), " worse");
    } else {
        fmt_fixed(tol, sizeof tol - 8, 1, t->amount, 0);
        strcat(tol, "% worse");
    }
    /* a failure never shows a change of 0.0% or one equal to the tolerance */
    for (int prec = 2; !ok && prec <= 17 && isfinite(change) && change != 0; prec++) {
        int same = !t->absolute && fabs(atof(chg)) == atof(tol);
        if (atof(chg) != 0 && !same)
            break;
        snprintf(chg, sizeof chg, "%+.*g%%", prec, change);
        if (same)
            snprintf(tol, sizeof tol, "%.*g%% worse", prec, t->amount);
    }
    char by[80] = "";
    if (!ok && t->absolute) {
        /* the worsening itself, told apart from the amount allowed */
        char w[64];
        fmt_values_apart(w, tol, sizeof w, key, worse, t->amount);
        snprintf(by, sizeof by, "%s worse; ", w);
        snprintf(tol + strlen(tol), sizeof tol - strlen(tol), " worse");
    }
    snprintf(msg, sizeof msg, "%s %s %s: %s, baseline %s (%sat most %s)", key,
             ok ? "changed" : lower_worse ? "fell" : "grew", chg, a, b, by, tol);
    result(c, key, "regression", ok, now, NAN, was, msg);
}

/* a regression of KEY, when the checked run or the baseline B never
 * measured it: failed, said (not_measured), and 1 */
static int not_measured_either(struct checks *c, const struct run *b, const char *key)
{
    const struct run *u = uncounted(c->runs, c->nruns, c->r, key);
    const struct run *ub = uncounted(c->b_runs, c->b_nruns, b, key);
    if (u)
        not_measured(c, key, "regression", u, "");
    else if (ub)
        not_measured(c, key, "regression", ub, "the baseline ");
    return u || ub;
}

/* S escaped for XML, its bytes that are not UTF-8 (a Latin-1 file name)
 * as U+FFFD, as --json has them: an XML reader refuses them */
static void xml_str(FILE *f, const char *raw)
{
    json_t *j = json_text(raw);
    const char *s = json_string_value(j);
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
                fputc('?', f);
            else
                fputc(*s, f);
        }
    }
    json_decref(j);
}

/* JUnit XML: a test case per check, a failure element for each that failed;
 * written whole or not at all (read/outfile.c), never over FILE */
static int write_junit(const char *path, const char *file, const struct checks *c)
{
    struct outfile of;
    char *in = (char *)file;
    if (outfile_is_input("check: --junit", path, 1, &in))
        return EXIT_USAGE;
    FILE *f = outfile_open(&of, "check: --junit", path);
    if (!f)
        return EXIT_USAGE;
    size_t i;
    json_t *o;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"%zu\" "
               "failures=\"%d\">\n  <testsuite name=\"perfprobe check ",
            json_array_size(c->results), c->failed);
    xml_str(f, file);
    fprintf(f, "\" tests=\"%zu\" failures=\"%d\">\n", json_array_size(c->results), c->failed);
    json_array_foreach(c->results, i, o) {
        fputs("    <testcase classname=\"perfprobe.check\" name=\"", f);
        xml_str(f, json_string_value(json_object_get(o, "kind")));
        fputc(' ', f);
        xml_str(f, json_string_value(json_object_get(o, "key")));
        if (json_object_get(o, "statistic")) {
            fputs(" (", f);
            xml_str(f, json_string_value(json_object_get(o, "statistic")));
            fputc(')', f);
        }
        fputs("\"", f);
        if (json_is_true(json_object_get(o, "ok"))) {
            fputs("/>\n", f);
        } else {
            fputs(">\n      <failure message=\"", f);
            xml_str(f, json_string_value(json_object_get(o, "message")));
            fputs("\"/>\n    </testcase>\n", f);
        }
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    return outfile_commit(&of);
}

static void free_repeat(struct run *runs, int n)
{
    for (int k = 0; runs && k < n; k++)
        run_free(&runs[k]);
    free(runs);
}

/* The N timelines `run -n N -o BASE` wrote (BASE.run1.jsonl, ...), each
 * read as check reads one; -1 (one line said why) when one is missing or
 * unreadable. */
static int read_repeat(const char *base, int n, struct run **out)
{
    struct run *runs = calloc((size_t)n, sizeof *runs);
    if (!runs)
        return error("check: out of memory"), -1;
    for (int k = 0; k < n; k++) {
        char path[4200];
        run_path(path, sizeof path, base, k + 1);
        if (access(path, F_OK) != 0) {
            error("check: --repeat %d: %s: %s", n, path, strerror(errno));
            free_repeat(runs, k);
            return -1;
        }
        if (run_read(path, &runs[k]) < 0) {
            free_repeat(runs, k);
            return -1;
        }
        run_fill_regions(&runs[k]);
    }
    *out = runs;
    return 0;
}

/* --junit OUT names one of check's inputs (FILE, the baseline, a
 * thresholds file, or with --repeat N one of their runK files): one line,
 * and 1, before anything is read or printed. */
static int junit_is_input(const char *junit, const char *file, const char *baseline,
                          const char *const *thresholds, int nthr, int repeat)
{
    char *in[18];
    int n = 0;
    in[n++] = (char *)file;
    in[n++] = (char *)baseline;
    for (int i = 0; i < nthr; i++)
        in[n++] = (char *)thresholds[i];
    if (outfile_is_input("check: --junit", junit, n, in))
        return 1;
    for (int k = 1; k <= repeat; k++) {
        char p[2][4200];
        run_path(p[0], sizeof p[0], file, k);
        run_path(p[1], sizeof p[1], baseline ? baseline : file, k);
        char *pair[2] = {p[0], p[1]};
        if (outfile_is_input("check: --junit", junit, 2, pair))
            return 1;
    }
    return 0;
}

int cmd_check(int argc, char **argv)
{
    const char *file = NULL, *baseline = NULL, *junit = NULL;
    const char *limits[256], *thresholds[16];
    int floors[256];
    struct tolerance tols[256];
    int nlimits = 0, nthr = 0, ntols = 0, allow_incomplete = 0, as_json = 0, repeat = 0;
    const char *stat = "median";
    double max_regress = NAN;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(check_usage, stdout);
            return EXIT_OK;
        } else if ((!strcmp(a, "--max") || !strcmp(a, "--min")) && i + 1 < argc) {
            if (nlimits == 256)
                return error("check: too many --max and --min");
            floors[nlimits] = a[3] == 'i';
            limits[nlimits++] = argv[++i];
        } else if (!strncmp(a, "--max=", 6) || !strncmp(a, "--min=", 6)) {
            if (nlimits == 256)
                return error("check: too many --max and --min");
            floors[nlimits] = a[3] == 'i';
            limits[nlimits++] = a + 6;
        } else if (!strcmp(a, "--thresholds") && i + 1 < argc) {
            if (nthr == 16)
                return error("check: too many --thresholds");
            thresholds[nthr++] = argv[++i];
        } else if (!strcmp(a, "--baseline") && i + 1 < argc) {
            baseline = argv[++i];
        } else if (!strcmp(a, "--max-regression") && i + 1 < argc) {
            char *spec = argv[++i], *eq = strchr(spec, '=');
            if (!eq) {
                if (parse_pct(spec, &max_regress) < 0)
                    return error("check: --max-regression '%s' is not a percentage", spec);
                continue;
            }
            if (ntols == 256)
                return error("check: too many --max-regression");
            *eq = 0;
            char *key = trim(spec), *val = trim(eq + 1);
            if (!*key || parse_tolerance(key, val, &tols[ntols]) < 0)
                return error("check: --max-regression %s=%s: not KEY=PCT%% or KEY=+AMOUNT "
                             "in the key's unit", key, val);
            ntols++;
        } else if (!strcmp(a, "--repeat") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 10000)
                return error("check: --repeat '%s' is not a number of runs (1-10000)", argv[i]);
            repeat = (int)n;
        } else if (!strcmp(a, "--stat") && i + 1 < argc) {
            stat = argv[++i];
            if (strcmp(stat, "median") && strcmp(stat, "min") && strcmp(stat, "max"))
                return error("check: --stat '%s' is not median, min or max", stat);
        } else if (!strcmp(a, "--allow-incomplete")) {
            allow_incomplete = 1;
        } else if (!strcmp(a, "--json")) {
            as_json = 1;
        } else if (!strcmp(a, "--junit") && i + 1 < argc) {
            junit = argv[++i];
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
    if (baseline && isnan(max_regress) && !ntols)
        return error("check: --baseline needs --max-regression PCT or KEY=TOL");
    if (!baseline && (!isnan(max_regress) || ntols))
        return error("check: --max-regression needs --baseline B");
    if (!nlimits && !nthr && !baseline)
        return error("check: nothing to check (give --max, --min, --thresholds or --baseline)");
    if (junit && junit_is_input(junit, file, baseline, thresholds, nthr, repeat))
        return EXIT_USAGE;

    struct run r, b, *runs = NULL, *b_runs = NULL;
    if (repeat) {
        if (read_repeat(file, repeat, &runs) < 0)
            return EXIT_USAGE;
        r = runs[0];
    } else {
        if (run_read(file, &r) < 0)
            return EXIT_USAGE;
        run_fill_regions(&r);
    }
    struct checks c = {json_array(), 0, &r, runs, NULL, repeat, 0, stat};
    /* a baseline repeated the same way is reduced the same way */
    char b1[4200];
    if (baseline && repeat) {
        run_path(b1, sizeof b1, baseline, 1);
        if (access(b1, F_OK) == 0) {
            if (read_repeat(baseline, repeat, &b_runs) < 0) {
                free_repeat(runs, repeat);
                json_decref(c.results);
                return EXIT_USAGE;
            }
            c.b_runs = b_runs;
            c.b_nruns = repeat;
        }
    }
    int rc = EXIT_OK;
    int complete = json_is_true(json_object_get(r.summary, "complete"));
    for (int k = 1; k < repeat; k++)
        complete &= json_is_true(json_object_get(runs[k].summary, "complete"));
    if (!allow_incomplete || !complete) {
        char msg[600];
        snprintf(msg, sizeof msg, complete ? "%s is complete"
                                           : "%s is incomplete: the process did not exit normally",
                 file);
        result(&c, "complete", "complete", complete || allow_incomplete, NAN, NAN, NAN, msg);
    }
    for (int i = 0; i < nlimits; i++)
        if (check_limit(&c, limits[i], floors[i], "") < 0) {
            rc = EXIT_USAGE;
            goto out;
        }
    for (int i = 0; i < nthr; i++)
        if (check_file(&c, thresholds[i]) < 0) {
            rc = EXIT_USAGE;
            goto out;
        }
    if (baseline) {
        if (b_runs) {
            b = b_runs[0];
        } else if (run_read(baseline, &b) < 0) {
            rc = EXIT_USAGE;
            goto out;
        } else {
            run_fill_regions(&b);
        }
        struct tolerance all = {NULL, max_regress, 0};
        for (int k = 0; !isnan(max_regress) && regress_keys[k]; k++) {
            double now, was;
            int named = 0;
            for (int t = 0; t < ntols; t++)
                named |= !strcmp(tols[t].key, regress_keys[k]);
            if (!named && not_measured_either(&c, &b, regress_keys[k]))
                continue;
            if (named || checked_value(&c, regress_keys[k], &now) < 0 ||
                baseline_value(&c, &b, regress_keys[k], &was) < 0)
                continue;
            regression(&c, regress_keys[k], now, was, &all);
        }
        for (int t = 0; t < ntols; t++) {
            double now, was;
            if (not_measured_either(&c, &b, tols[t].key))
                continue;
            int has_now = checked_value(&c, tols[t].key, &now) == 0;
            int has_was = baseline_value(&c, &b, tols[t].key, &was) == 0;
            if (has_now && has_was) {
                regression(&c, tols[t].key, now, was, &tols[t]);
            } else {
                char msg[800];
                snprintf(msg, sizeof msg, "%s: no such value in %s", tols[t].key,
                         has_now ? lacking(c.b_runs, c.b_nruns, &b, tols[t].key)
                                 : lacking(c.runs, c.nruns, c.r, tols[t].key));
                result(&c, tols[t].key, "regression", 0, NAN, NAN, NAN, msg);
            }
        }
        if (!b_runs)
            run_free(&b);
    }
    rc = c.failed ? EXIT_CHECK_FAILED : EXIT_OK;
    if (as_json) {
        json_t *o = json_pack("{s:o, s:o?, s:b, s:i, s:O}", "file", json_text(file), "baseline",
                              baseline ? json_text(baseline) : NULL, "passed", !c.failed,
                              "failed", c.failed, "checks", c.results);
        if (json_print(stdout, o, "check"))
            rc = EXIT_USAGE;
        json_decref(o);
    } else {
        size_t i;
        json_t *o;
        json_array_foreach(c.results, i, o)
            printf("%s %s\n", json_is_true(json_object_get(o, "ok")) ? "ok  " : "FAIL",
                   json_string_value(json_object_get(o, "message")));
        if (c.failed)
            printf("%d check%s failed\n", c.failed, c.failed == 1 ? "" : "s");
        else
            printf("all checks passed\n");
    }
    if (junit && write_junit(junit, file, &c) != 0)
        rc = EXIT_USAGE;
out:
    json_decref(c.results);
    if (repeat) {
        free_repeat(runs, repeat);
        free_repeat(b_runs, b_runs ? repeat : 0);
    } else {
        run_free(&r);
    }
    return rc;
}

/* ---- diff ------------------------------------------------------------------------ */

static const char diff_usage[] =
    "usage: perfprobe diff [--noise PCT] [--json] A B\n"
    "\n"
    "For the summary and each probe (matched by label and occurrence) and region\n"
    "(by path): A, B, the change and the percentage; '!' marks changes beyond the\n"
    "noise threshold (default 5%). --json prints {\"a\", \"b\", \"noise_pct\", \"rows\": [{figure,\n"
    "a, b, change, pct, marked}]} with the files' own numbers.\n";

/* with --json, the rows are collected here instead of printed */
static json_t *diff_json;
/* the two runs: a heap figure of one whose heap was not counted is shown
 * as not counted, never as a 0 or a -100% change */
static const struct run *diff_a, *diff_b;

static void diff_row(const char *name, const char *key, double a, double b, double noise)
{
    char sa[64], sb[64], sd[64];
    if (isnan(a) && isnan(b))
        return;
    int ua = diff_a && !figure_counted(diff_a, key), ub = diff_b && !figure_counted(diff_b, key);
    if (ua || ub) {
        if (diff_json) {
            json_t *o = json_pack("{s:o, s:b, s:o, s:o, s:n, s:n}", "figure", json_text(name),
                                  "marked", ua != ub,
                                  "a", ua || isnan(a) ? json_null() : json_real(a),
                                  "b", ub || isnan(b) ? json_null() : json_real(b),
                                  "change", "pct");
            if (ua)
                json_object_set_new(o, "a_counted", json_false());
            if (ub)
                json_object_set_new(o, "b_counted", json_false());
            json_array_append_new(diff_json, o);
            return;
        }
        fmt_value(sa, sizeof sa, key, a);
        fmt_value(sb, sizeof sb, key, b);
        printf("%s ", ua != ub ? "!" : " ");
        pad(stdout, name, 40, 0);
        pad(stdout, ua ? "not counted" : sa, 15, 1);
        pad(stdout, ub ? "not counted" : sb, 15, 1);
        pad(stdout, "-", 15, 1);
        pad(stdout, "n/c", 10, 1);
        putchar('\n');
        return;
    }
    if (diff_json) {
        double pct = a != 0 ? (b - a) / fabs(a) * 100.0 : NAN;
        json_t *o = json_pack("{s:o, s:b}", "figure", json_text(name),
                              "marked", isnan(a) || isnan(b) || (!isnan(pct) && fabs(pct) > noise) ||
                                            (a == 0 && b != 0));
        json_object_set_new(o, "a", isnan(a) ? json_null() : json_real(a));
        json_object_set_new(o, "b", isnan(b) ? json_null() : json_real(b));
        json_object_set_new(o, "change", isnan(a) || isnan(b) ? json_null() : json_real(b - a));
        json_object_set_new(o, "pct", isnan(pct) || isnan(b) ? json_null() : json_real(pct));
        json_array_append_new(diff_json, o);
        return;
    }
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
        fmt_fixed(spct, sizeof spct - 1, 1, pct, 1), strcat(spct, "%");
    if (isnan(a) || isnan(b))
        snprintf(sd, sizeof sd, "-");
    printf("%s ", mark || isnan(a) || isnan(b) ? "!" : " ");
    pad(stdout, name, 40, 0);
    pad(stdout, sa, 15, 1);
    pad(stdout, sb, 15, 1);
    pad(stdout, sd, 15, 1);
    if (strlen(spct) >= 10)             /* "+3.919e+303%": still apart */
        putchar(' ');
    pad(stdout, spct, 10, 1);
    putchar('\n');
}

static const char *const diff_probe_keys[] = {"dt_s", "d_rss_last", "d_heap_last",
                                             "peak_heap_since_last", "peak_rss_since_last", NULL};
static const char *const diff_region_keys[] = {"count", "mean_ns", "min_ns", "p50_ns", "p95_ns",
                                              "p99_ns", "max_ns", "per_s", "allocs_per_call",
                                              "bytes_per_call", "net_bytes_per_call",
                                              "peak_bytes_per_call", NULL};

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
    int n = 0, as_json = 0;
    double noise = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(diff_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(argv[i], "--noise") && i + 1 < argc) {
            if (parse_pct(argv[++i], &noise) < 0)
                return error("diff: --noise '%s' is not a percentage", argv[i]);
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
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
    run_fill_regions(&a);
    run_fill_regions(&b);
    diff_a = &a;
    diff_b = &b;
    if (as_json) {
        diff_json = json_array();
    } else {
        printf("A: %s%s\nB: %s%s\n\n", a.path,
               json_is_true(json_object_get(a.summary, "complete")) ? "" : " (incomplete)", b.path,
               json_is_true(json_object_get(b.summary, "complete")) ? "" : " (incomplete)");
        printf("  %-40s %14s %14s %14s %9s\n", "figure", "A", "B", "change", "%");
    }
    static const char *const keys[] = {
        "wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "rss_bytes_at_exit",
        "peak_heap_bytes", "heap_bytes_at_exit", "peak_mmap_bytes", "allocs", "frees",
        "minflt", "majflt", "cpu_pct_mean", "cpu_pct_max", "avg_rss_bytes", "avg_heap_bytes",
        NULL};
    for (int k = 0; keys[k]; k++) {
        double va, vb;
        if (run_value(&a, keys[k], &va) < 0)
            va = NAN;
        if (run_value(&b, keys[k], &vb) < 0)
            vb = NAN;
        diff_row(keys[k], keys[k], va, vb, noise);
    }

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
    sites_diff(stdout, &a, &b, diff_json, noise);
    cpu_diff(stdout, &a, &b, diff_json, noise);
    if (diff_json) {
        json_t *o = json_pack("{s:o, s:o, s:b, s:b, s:b, s:b, s:f, s:o}", "a", json_text(a.path),
                              "b", json_text(b.path),
                              "a_complete", json_is_true(json_object_get(a.summary, "complete")),
                              "b_complete", json_is_true(json_object_get(b.summary, "complete")),
                              "a_heap_counted", a.heap_counted, "b_heap_counted", b.heap_counted,
                              "noise_pct", noise, "rows", diff_json);
        int rc = json_print(stdout, o, "diff");
        json_decref(o);
        diff_json = NULL;
        if (rc) {
            run_free(&a);
            run_free(&b);
            return rc;
        }
    } else {
        printf("\n'!' marks a change beyond %.1f%% (--noise), or a figure only one file has\n",
               noise);
        for (int k = 0; k < 2; k++) {
            const struct run *r = k ? &b : &a;
            char why[1200];
            if (r->heap_counted)
                continue;
            heap_why(r, why, sizeof why);
            printf("%s: 'not counted': %s\n", k ? "B" : "A", why);
        }
    }
    diff_a = diff_b = NULL;
    run_free(&a);
    run_free(&b);
    return EXIT_OK;
}
