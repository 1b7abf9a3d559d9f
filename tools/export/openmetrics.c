/*
 * openmetrics.c - a run's figures as Prometheus metrics: `report
 * --openmetrics` prints them, `push` sends them to a Pushgateway and
 * `serve` answers scrapes with them (docs/prometheus.md).
 *
 * One writer for both text formats, because they differ only in details:
 * OpenMetrics names a counter family without its `_total`, has `# UNIT`
 * and ends with `# EOF`; the Prometheus text format 0.0.4 (all the
 * Pushgateway parses) names the family by its sample and has neither.
 * Families come one after the other with every run's samples inside (a
 * family may not be split), so the loops are family first, run second.
 */
#define _GNU_SOURCE
#include "openmetrics.h"

#include <math.h>
#include <string.h>

/* label names the writer sets itself; --label may not use them */
static const char *const own_labels[] = {"program", "role", "pid", "region", "probe", "n",
                                         "part", "mode", "kind", "op", "le", "stat", "job", NULL};

int om_label_name_ok(const char *name)
{
    if (!name[0] || !(name[0] == '_' || ((name[0] | 32) >= 'a' && (name[0] | 32) <= 'z')))
        return 0;
    for (const char *p = name; *p; p++)
        if (!(*p == '_' || (*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'z')))
            return 0;
    return strncmp(name, "__", 2) != 0;
}

int om_label_add(struct om_labels *ls, const char *cmd, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq)
        return error("%s: --label '%s': not NAME=VALUE", cmd, arg);
    char name[128];
    size_t len = (size_t)(eq - arg);
    if (len >= sizeof name)
        return error("%s: --label '%s': the name is too long", cmd, arg);
    memcpy(name, arg, len);
    name[len] = 0;
    if (!om_label_name_ok(name))
        return error("%s: --label '%s': '%s' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, "
                     "not starting with __)", cmd, arg, name);
    for (int i = 0; own_labels[i]; i++)
        if (!strcmp(name, own_labels[i]))
            return error("%s: --label '%s': perfprobe sets '%s' itself", cmd, arg, name);
    for (int i = 0; i < ls->n; i++)
        if (!strcmp(ls->key[i], name))
            return error("%s: --label '%s': '%s' given twice", cmd, arg, name);
    if (ls->n == OM_MAX_LABELS)
        return error("%s: more than %d --label", cmd, OM_MAX_LABELS);
    ls->key[ls->n] = strndup(arg, len);
    ls->value[ls->n] = eq + 1;
    ls->n++;
    return 0;
}

/* ---- writing ------------------------------------------------------------------- */

/* a label value with \, " and newline escaped (both formats agree) */
static void put_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\') fputs("\\\\", f);
        else if (*v == '"') fputs("\\\"", f);
        else if (*v == '\n') fputs("\\n", f);
        else fputc(*v, f);
    }
}

static void put_num(FILE *f, double v)
{
    char buf[64];
    if (isnan(v)) fputs("NaN", f);
    else if (isinf(v)) fputs(v > 0 ? "+Inf" : "-Inf", f);
    else {
        fmt_num_csv(buf, sizeof buf, v);
        fputs(buf, f);
    }
}

void om_family(FILE *f, enum om_format fmt, const char *name, const char *type,
               const char *unit, const char *help)
{
    const char *suffix = fmt == OM_TEXT_004 && !strcmp(type, "counter") ? "_total" : "";
    fprintf(f, "# HELP %s%s %s\n", name, suffix, help);
    fprintf(f, "# TYPE %s%s %s\n", name, suffix, type);
    if (unit && fmt == OM_OPENMETRICS)
        fprintf(f, "# UNIT %s %s\n", name, unit);
}

/* the labels every sample of a run carries */
struct who {
    const struct run *r;
    const struct om_labels *ls;
    int with_pid;
};

/* NAME{the run's labels, K1="V1", K2="V2"} VALUE; K2 may be NULL, K1 too */
static void put_sample(FILE *f, const struct who *w, const char *name, const char *k1,
                   const char *v1, const char *k2, const char *v2, double v)
{
    const struct run *r = w->r;
    const char *prog = json_string_value(json_object_get(r->header, "program"));
    fprintf(f, "%s{program=\"", name);
    put_value(f, prog ? prog : "");
    fprintf(f, "\",role=\"%s\"", r->root_pid && r->pid != r->root_pid ? "child" : "root");
    if (w->with_pid)
        fprintf(f, ",pid=\"%ld\"", r->pid);
    for (int i = 0; i < w->ls->n; i++) {
        fprintf(f, ",%s=\"", w->ls->key[i]);
        put_value(f, w->ls->value[i]);
        fputc('"', f);
    }
    if (k1) {
        fprintf(f, ",%s=\"", k1);
        put_value(f, v1);
        fputc('"', f);
    }
    if (k2) {
        fprintf(f, ",%s=\"", k2);
        put_value(f, v2);
        fputc('"', f);
    }
    fputs("} ", f);
    put_num(f, v);
    fputc('\n', f);
}

static const char *const part_names[] = {"heap", "mmap", "file", "stack", "other"};

/* the RSS parts now: the summary's at exit, or the last sample's */
static json_t *parts_now(const struct run *r)
{
    json_t *p = json_object_get(r->summary, "rss_parts_at_exit");
    if (json_is_object(p))
        return json_incref(p);
    for (size_t i = json_array_size(r->samples); i-- > 0;) {
        json_t *a = json_object_get(json_array_get(r->samples, i), "parts");
        if (json_array_size(a) == 5) {
            json_t *o = json_object();
            for (int k = 0; k < 5; k++)
                json_object_set(o, part_names[k], json_array_get(a, (size_t)k));
            return o;
        }
    }
    return NULL;
}

static void parts(FILE *f, const struct who *w, const char *name, json_t *p)
{
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v)
        if (json_is_number(v) && strcmp(key, "rss_bytes") && strcmp(key, "t_s"))
            put_sample(f, w, name, "part", key, NULL, NULL, json_number_value(v));
}

/* Region latency histograms, merged from the per-window records (the
 * summary keeps percentiles, not buckets).  The fine buckets of
 * docs/format.md are gathered at powers of two nanoseconds from 2^10
 * (1.024 µs) to 2^35 (34.4 s): with a 1 ns unit those are boundaries of
 * the fine layout, so the counts are exact. */
enum { FINE = 128 + 44 * 64, LE_LO = 10, LE_HI = 35 };

static double fine_upper(long i)
{
    if (i < 128)
        return (double)(i + 1);
    long k = i - 128, e = k / 64 + 7, s = k % 64;
    return ldexp(1.0, (int)e) + (double)(s + 1) * ldexp(1.0, (int)e - 6);
}

static void region_hist(FILE *f, const struct who *w, const char *name, int only_counts)
{
    const struct run *r = w->r;
    size_t i, j;
    json_t *win, *x;
    /* the paths in first-seen order */
    json_t *paths = json_array();
    json_array_foreach(r->region_windows, i, win)
        json_array_foreach(json_object_get(win, "regions"), j, x) {
            json_t *p = json_object_get(x, "path");
            size_t k;
            json_t *q;
            int seen = 0;
            json_array_foreach(paths, k, q) seen |= json_equal(p, q);
            if (json_is_string(p) && !seen)
                json_array_append(paths, p);
        }
    size_t pi;
    json_t *pj;
    json_array_foreach(paths, pi, pj) {
        const char *path = json_string_value(pj);
        double le_count[LE_HI - LE_LO + 1] = {0}, count = 0, total_ns = 0;
        json_array_foreach(r->region_windows, i, win)
            json_array_foreach(json_object_get(win, "regions"), j, x) {
                if (!json_equal(json_object_get(x, "path"), pj))
                    continue;
                count += json_num(x, "count", 0);
                total_ns += json_num(x, "total_ns", 0);
                json_t *h = json_object_get(x, "hist"), *b = json_object_get(h, "b");
                double unit = json_num(h, "unit_ns", 1);
                for (size_t q = 0; q + 1 < json_array_size(b); q += 2) {
                    json_int_t idx = json_integer_value(json_array_get(b, q));
                    double c = json_number_value(json_array_get(b, q + 1));
                    if (idx < 0 || idx >= FINE)
                        continue;
                    double up = fine_upper((long)idx) * unit;
                    for (int e = LE_LO; e <= LE_HI; e++)
                        if (up <= ldexp(1.0, e))
                            le_count[e - LE_LO] += c;
                }
            }
        if (only_counts) {
            put_sample(f, w, name, "region", path, NULL, NULL, count);
            continue;
        }
        char bucket[160], le[64];
        snprintf(bucket, sizeof bucket, "%s_bucket", name);
        for (int e = LE_LO; e <= LE_HI; e++) {
            fmt_num_csv(le, sizeof le, ldexp(1.0, e) * 1e-9);
            put_sample(f, w, bucket, "region", path, "le", le, le_count[e - LE_LO]);
        }
        put_sample(f, w, bucket, "region", path, "le", "+Inf", count);
        snprintf(bucket, sizeof bucket, "%s_count", name);
        put_sample(f, w, bucket, "region", path, NULL, NULL, count);
        snprintf(bucket, sizeof bucket, "%s_sum", name);
        put_sample(f, w, bucket, "region", path, NULL, NULL, total_ns * 1e-9);
    }
    json_decref(paths);
}

/* The allocations made inside each occurrence of a region (from the
 * summary: exact, the same on every run of a deterministic program), one
 * sample per statistic: KEY is the summary's mean, KEY_p50, KEY_p99 and
 * KEY_max the others.  The net bytes have a mean, a min and a max. */
static void region_calls(FILE *f, const struct who *w, const char *name, const char *key)
{
    static const char *const stats[] = {"mean", "p50", "p99", "max", "min"};
    size_t i;
    json_t *x;
    int net = !strcmp(key, "net_bytes");
    json_array_foreach(w->r->regions, i, x) {
        const char *path = json_string_value(json_object_get(x, "path"));
        if (!path)
            continue;
        for (size_t k = 0; k < sizeof stats / sizeof *stats; k++) {
            char field[96];
            if (k == 0)
                snprintf(field, sizeof field, "%s_per_call", key);
            else if (net)
                snprintf(field, sizeof field, "net_bytes_%s", stats[k]);
            else
                snprintf(field, sizeof field, "%s_per_call_%s", key, stats[k]);
            if ((net && (k == 1 || k == 2)) || (!net && k == 4))
                continue;
            if (json_is_number(json_object_get(x, field)))
                put_sample(f, w, name, "region", path, "stat", stats[k], json_num(x, field, 0));
        }
    }
}

/* probe figures: FIELD of every probe, labelled by label and occurrence */
static void probes(FILE *f, const struct who *w, const char *name, const char *field)
{
    size_t i, k;
    json_t *p, *q;
    json_array_foreach(w->r->probes, i, p) {
        const char *l = json_string_value(json_object_get(p, "label"));
        if (!l || !json_is_number(json_object_get(p, field)))
            continue;
        int nth = 1;
        json_array_foreach(w->r->probes, k, q) {
            if (k >= i)
                break;
            nth += json_equal(json_object_get(q, "label"), json_object_get(p, "label"));
        }
        char ns[16];
        snprintf(ns, sizeof ns, "%d", nth);
        put_sample(f, w, name, "probe", l, "n", ns, json_number_value(json_object_get(p, field)));
    }
}

enum fam_kind { K_SUMMARY, K_COMPLETE, K_PARTS_PEAK, K_PARTS_NOW, K_CPU, K_FAULTS, K_ALLOCS,
            K_REGION_COUNT, K_REGION_HIST, K_REGION_CALLS, K_PROBE };

static const struct fam {
    const char *name, *type, *unit, *help;
    enum fam_kind kind;
    const char *key;     /* the summary key, or the probe field */
} fams[] = {
    {"perfprobe_complete", "gauge", NULL, "1 when the timeline has its summary (the process ended), 0 while it runs or when it was killed", K_COMPLETE, NULL},
    {"perfprobe_wall_seconds", "gauge", "seconds", "wall time from start to exit (so far, while running)", K_SUMMARY, "wall_s"},
    {"perfprobe_rss_peak_bytes", "gauge", "bytes", "peak resident set size", K_SUMMARY, "peak_rss_bytes"},
    {"perfprobe_rss_bytes", "gauge", "bytes", "resident set size at exit (the latest sample while running)", K_SUMMARY, "rss_bytes_at_exit"},
    {"perfprobe_heap_peak_bytes", "gauge", "bytes", "peak heap: bytes live in the allocator", K_SUMMARY, "peak_heap_bytes"},
    {"perfprobe_heap_bytes", "gauge", "bytes", "heap at exit (the latest sample while running)", K_SUMMARY, "heap_bytes_at_exit"},
    {"perfprobe_mmap_peak_bytes", "gauge", "bytes", "peak of the program's own mmap mappings", K_SUMMARY, "peak_mmap_bytes"},
    {"perfprobe_rss_peak_parts_bytes", "gauge", "bytes", "what the RSS held at its peak, by part (docs/rss.md)", K_PARTS_PEAK, NULL},
    {"perfprobe_rss_parts_bytes", "gauge", "bytes", "what the RSS held at exit (the latest sample with parts while running), by part", K_PARTS_NOW, NULL},
    {"perfprobe_cpu_seconds", "counter", "seconds", "CPU time of the process, by mode", K_CPU, NULL},
    {"perfprobe_page_faults", "counter", NULL, "page faults of the process, by kind", K_FAULTS, NULL},
    {"perfprobe_allocations", "counter", NULL, "allocator calls counted, by op (in the summary only: absent while running)", K_ALLOCS, NULL},
    {"perfprobe_region_occurrences", "counter", NULL, "occurrences of each region", K_REGION_COUNT, NULL},
    {"perfprobe_region_duration_seconds", "histogram", "seconds", "region latency, from the timeline's mergeable histograms", K_REGION_HIST, NULL},
    {"perfprobe_region_call_allocations", "gauge", NULL, "allocations made inside one occurrence of a region by the thread in it, by stat (mean, p50, p99, max over occurrences; in the summary only)", K_REGION_CALLS, "allocs"},
    {"perfprobe_region_call_allocated_bytes", "gauge", "bytes", "bytes allocated inside one occurrence of a region, by stat (mean, p50, p99, max)", K_REGION_CALLS, "bytes"},
    {"perfprobe_region_call_net_bytes", "gauge", "bytes", "live bytes one occurrence of a region leaves behind, by stat (mean, min, max)", K_REGION_CALLS, "net_bytes"},
    {"perfprobe_region_call_peak_bytes", "gauge", "bytes", "highest live heap reached inside one occurrence of a region, above its start, by stat (mean, p50, p99, max)", K_REGION_CALLS, "peak_bytes"},
    {"perfprobe_probe_time_seconds", "gauge", "seconds", "when each probe fired, since start", K_PROBE, "t_s"},
    {"perfprobe_probe_rss_bytes", "gauge", "bytes", "RSS at each probe", K_PROBE, "rss_bytes"},
    {"perfprobe_probe_heap_bytes", "gauge", "bytes", "heap at each probe", K_PROBE, "heap_bytes"},
};

void om_write(FILE *f, struct run *runs, int n, const struct om_labels *ls, enum om_format fmt,
              void (*extra)(FILE *f, enum om_format fmt, void *arg), void *arg)
{
    /* an image that exec replaced is not a process any more: its figures
     * are in its own summary, but a pid gets one set of series */
    int shown = 0;
    for (int i = 0; i < n; i++) {
        run_fill_regions(&runs[i]);
        shown += !(runs[i].ended && !strcmp(runs[i].ended, "exec"));
    }
    for (size_t k = 0; k < sizeof fams / sizeof *fams; k++) {
        const struct fam *fm = &fams[k];
        om_family(f, fmt, fm->name, fm->type, fm->unit, fm->help);
        char total[128];
        snprintf(total, sizeof total, "%s_total", fm->name);
        for (int i = 0; i < n; i++) {
            if (runs[i].ended && !strcmp(runs[i].ended, "exec"))
                continue;
            struct who w = {&runs[i], ls, shown > 1 || ls->pid_always};
            json_t *s = runs[i].summary, *p;
            switch (fm->kind) {
            case K_COMPLETE:
                put_sample(f, &w, fm->name, NULL, NULL, NULL, NULL,
                       json_is_true(json_object_get(s, "complete")));
                break;
            case K_SUMMARY:
                /* a figure not measured (a heap the hooks never saw) has
                 * no sample: an absent series, never a 0 */
                if (json_is_number(json_object_get(s, fm->key)) &&
                    figure_counted(&runs[i], fm->key))
                    put_sample(f, &w, fm->name, NULL, NULL, NULL, NULL, json_num(s, fm->key, 0));
                break;
            case K_PARTS_PEAK:
                parts(f, &w, fm->name, json_object_get(s, "rss_parts_at_peak"));
                break;
            case K_PARTS_NOW:
                p = parts_now(&runs[i]);
                parts(f, &w, fm->name, p);
                json_decref(p);
                break;
            case K_CPU:
                put_sample(f, &w, total, "mode", "user", NULL, NULL, json_num(s, "cpu_user_s", 0));
                put_sample(f, &w, total, "mode", "system", NULL, NULL, json_num(s, "cpu_sys_s", 0));
                break;
            case K_FAULTS:
                put_sample(f, &w, total, "kind", "minor", NULL, NULL, json_num(s, "minflt", 0));
                put_sample(f, &w, total, "kind", "major", NULL, NULL, json_num(s, "majflt", 0));
                break;
            case K_ALLOCS:
                if (json_is_number(json_object_get(s, "allocs")) && runs[i].heap_counted) {
                    put_sample(f, &w, total, "op", "alloc", NULL, NULL, json_num(s, "allocs", 0));
                    put_sample(f, &w, total, "op", "free", NULL, NULL, json_num(s, "frees", 0));
                    put_sample(f, &w, total, "op", "realloc", NULL, NULL, json_num(s, "reallocs", 0));
                }
                break;
            case K_REGION_COUNT:
                region_hist(f, &w, total, 1);
                break;
            case K_REGION_HIST:
                region_hist(f, &w, fm->name, 0);
                break;
            case K_REGION_CALLS:
                if (runs[i].heap_counted)
                    region_calls(f, &w, fm->name, fm->key);
                break;
            case K_PROBE:
                if (figure_counted(&runs[i], fm->key))
                    probes(f, &w, fm->name, fm->key);
                break;
            }
        }
    }
    if (extra)
        extra(f, fmt, arg);
    if (fmt == OM_OPENMETRICS)
        fputs("# EOF\n", f);
}

/* `report --openmetrics|--prometheus [--label K=V]... FILE|DIR...`: the
 * OpenMetrics text, or the text format 0.0.4 that push sends */
int om_report(int argc, char **argv)
{
    struct om_labels ls = {0};
    char **files = calloc((size_t)argc, sizeof *files);
    int n = 0, rc;
    enum om_format fmt = OM_OPENMETRICS;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--openmetrics"))
            fmt = OM_OPENMETRICS;
        else if (!strcmp(argv[i], "--prometheus"))
            fmt = OM_TEXT_004;
        else if (!strcmp(argv[i], "--label") && i + 1 < argc) {
            if ((rc = om_label_add(&ls, "report", argv[++i])) != 0)
                goto out;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            rc = error("report: --openmetrics and --prometheus take only --label K=V, not '%s'",
                       argv[i]);
            goto out;
        } else {
            files[n++] = argv[i];
        }
    }
    if (!n) {
        rc = error("report: no FILE");
        goto out;
    }
    struct run *runs;
    int nr = runs_read(n, files, &runs);
    if (nr < 0) {
        rc = EXIT_USAGE;
        goto out;
    }
    om_write(stdout, runs, nr, &ls, fmt, NULL, NULL);
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
    rc = EXIT_OK;
out:
    for (int i = 0; i < ls.n; i++)
        free((char *)ls.key[i]);
    free(files);
    return rc;
}
