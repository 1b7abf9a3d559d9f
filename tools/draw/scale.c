/*
 * scale.c - `perfprobe scale --values 10000,100000,1000000 [-n RUNS]
 * [--json] [-o OUT.html|OUT.svg] [--dir DIR] -- CMD ARGS...`: how a
 * program scales with the size of its input.
 *
 * CMD runs RUNS times per value (each a fresh process: `perfprobe run -q`,
 * re-executed from this executable's own path (sys_self_exe), so every
 * run is traced exactly as `run` traces it), with every "{}" in ARGS
 * replaced by the value.  Each run's timeline is kept in DIR and read
 * back through the reader; the figures are the means over the runs of
 * what `perfprobe report --json` says of each: wall time, CPU %, peak RSS and heap, and per region its
 * percentiles and rate.  Throughput is the first top-level region's
 * occurrences per second when there are regions, else values per second;
 * scaling efficiency is each value's throughput over the smallest value's
 * (100% is linear scaling).  -o draws throughput, total time, latency,
 * efficiency and memory against size (log scale).
 */
#define _GNU_SOURCE
#include "draw/draw.h"
#include "sys/sys.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REGIONS 16

struct point {
    double value;
    int runs;
    double wall_s, cpu_pct, peak_rss, peak_heap, throughput, efficiency;
    int nreg;
    struct { char *path; double count, p50, p95, p99, per_s; } reg[MAX_REGIONS];
    json_t *files;
};

/* "{}" in each argument replaced by the value */
static char **substitute(char **argv, int argc, const char *val)
{
    char **out = calloc((size_t)argc + 1, sizeof *out);
    for (int i = 0; i < argc; i++) {
        size_t cap = strlen(argv[i]) + 1, n = 0;
        const char *p = argv[i];
        for (const char *q = p; (q = strstr(q, "{}")); q += 2)
            cap += strlen(val);
        char *s = malloc(cap);
        while (*p) {
            if (p[0] == '{' && p[1] == '}') {
                n += (size_t)sprintf(s + n, "%s", val);
                p += 2;
            } else {
                s[n++] = *p++;
            }
        }
        s[n] = 0;
        out[i] = s;
    }
    return out;
}

/* one traced run of CMD for VALUE into PATH; returns the wait status */
static int one_run(const char *path, char **cmd, int ncmd, const char *val)
{
    char self[4096];
    if (sys_self_exe(self, sizeof self) < 0)
        return -1;
    char **args = substitute(cmd, ncmd, val);
    char **argv = calloc((size_t)ncmd + 7, sizeof *argv);
    int a = 0;
    argv[a++] = self;
    argv[a++] = "run";
    argv[a++] = "-q";
    argv[a++] = "-o";
    argv[a++] = (char *)path;
    argv[a++] = "--";
    for (int i = 0; i < ncmd; i++)
        argv[a++] = args[i];
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        dup2(2, 1);          /* the program's output must not mix with the table */
        execv(self, argv);
        _exit(127);
    }
    int st = -1;
    while (c > 0 && waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < ncmd; i++)
        free(args[i]);
    free(args);
    free(argv);
    return c < 0 ? -1 : st;
}

static struct point *find_reg_slot(struct point *p, const char *path, int *idx)
{
    for (int i = 0; i < p->nreg; i++)
        if (!strcmp(p->reg[i].path, path)) {
            *idx = i;
            return p;
        }
    if (p->nreg == MAX_REGIONS)
        return NULL;
    *idx = p->nreg;
    p->reg[p->nreg++].path = strdup(path);
    return p;
}

/* adds one run's figures to P (sums; divided by the count at the end) */
static void add_run(struct point *p, struct run *r)
{
    json_t *s = r->summary;
    double wall = json_num(s, "wall_s", 0);
    p->wall_s += wall;
    p->cpu_pct += wall > 0 ? (json_num(s, "cpu_user_s", 0) + json_num(s, "cpu_sys_s", 0)) /
                             wall * 100 : 0;
    p->peak_rss += json_num(s, "peak_rss_bytes", 0);
    p->peak_heap += json_num(s, "peak_heap_bytes", 0);
    size_t i;
    json_t *g;
    json_array_foreach(r->regions, i, g) {
        const char *path = json_string_value(json_object_get(g, "path"));
        int k;
        if (!path || !find_reg_slot(p, path, &k))
            continue;
        p->reg[k].count += json_num(g, "count", 0);
        p->reg[k].p50 += json_num(g, "p50_ns", 0);
        p->reg[k].p95 += json_num(g, "p95_ns", 0);
        p->reg[k].p99 += json_num(g, "p99_ns", 0);
        p->reg[k].per_s += json_num(g, "per_s", 0);
    }
    p->runs++;
}

static void finish(struct point *p)
{
    double n = p->runs ? p->runs : 1;
    p->wall_s /= n;
    p->cpu_pct /= n;
    p->peak_rss /= n;
    p->peak_heap /= n;
    for (int k = 0; k < p->nreg; k++) {
        p->reg[k].count /= n;
        p->reg[k].p50 /= n;
        p->reg[k].p95 /= n;
        p->reg[k].p99 /= n;
        p->reg[k].per_s /= n;
    }
    /* regions come in the summary's order: top-level regions first is the
     * shim's order; the first with no '/' in its path is the throughput */
    int t = -1;
    for (int k = 0; k < p->nreg && t < 0; k++)
        if (!strchr(p->reg[k].path, '/'))
            t = k;
    p->throughput = t >= 0 ? p->reg[t].per_s : p->wall_s > 0 ? p->value / p->wall_s : NAN;
}

static const char *throughput_of(const struct point *p)
{
    for (int k = 0; k < p->nreg; k++)
        if (!strchr(p->reg[k].path, '/'))
            return p->reg[k].path;
    return NULL;
}

/* ---- output ----------------------------------------------------------------------- */

static void print_table(const struct point *pt, int n)
{
    char c[10][64];
    const char *of = throughput_of(&pt[0]);
    printf("%-12s %4s %11s %16s %11s %11s %7s %10s\n", "value", "runs", "wall",
           of ? "throughput" : "values/s", "peak RSS", "peak heap", "CPU %", "efficiency");
    for (int i = 0; i < n; i++) {
        fmt_unit(c[0], sizeof c[0], AX_SEC, pt[i].wall_s);
        fmt_unit(c[1], sizeof c[1], AX_RATE, pt[i].throughput);
        fmt_unit(c[2], sizeof c[2], AX_BYTES, pt[i].peak_rss);
        fmt_unit(c[3], sizeof c[3], AX_BYTES, pt[i].peak_heap);
        printf("%-12.15g %4d %11s %16s %11s %11s %6.1f%% %9.1f%%\n", pt[i].value, pt[i].runs,
               c[0], c[1], c[2], c[3], pt[i].cpu_pct, pt[i].efficiency * 100);
    }
    if (of)
        printf("throughput: occurrences of region %s per second; efficiency: throughput "
               "relative to value %.15g\n", of, pt[0].value);
    else
        printf("throughput: values per second of wall time; efficiency: relative to value "
               "%.15g\n", pt[0].value);
    for (int k = 0; k < pt[0].nreg; k++) {
        printf("\nregion %s\n%-12s %12s %11s %11s %11s %14s\n", pt[0].reg[k].path, "value",
               "count", "p50", "p95", "p99", "per s");
        for (int i = 0; i < n; i++) {
            int j;
            for (j = 0; j < pt[i].nreg; j++)
                if (!strcmp(pt[i].reg[j].path, pt[0].reg[k].path))
                    break;
            if (j == pt[i].nreg)
                continue;
            fmt_unit(c[0], sizeof c[0], AX_NS, pt[i].reg[j].p50);
            fmt_unit(c[1], sizeof c[1], AX_NS, pt[i].reg[j].p95);
            fmt_unit(c[2], sizeof c[2], AX_NS, pt[i].reg[j].p99);
            fmt_unit(c[3], sizeof c[3], AX_RATE, pt[i].reg[j].per_s);
            printf("%-12.15g %12.0f %11s %11s %11s %14s\n", pt[i].value, pt[i].reg[j].count,
                   c[0], c[1], c[2], c[3]);
        }
    }
}

static json_t *to_json(const struct point *pt, int n)
{
    json_t *vals = json_array();
    const char *of = throughput_of(&pt[0]);
    for (int i = 0; i < n; i++) {
        json_t *regs = json_array();
        for (int k = 0; k < pt[i].nreg; k++)
            json_array_append_new(regs, json_pack("{s:s, s:f, s:f, s:f, s:f, s:f}",
                "path", pt[i].reg[k].path, "count", pt[i].reg[k].count,
                "p50_ns", pt[i].reg[k].p50, "p95_ns", pt[i].reg[k].p95,
                "p99_ns", pt[i].reg[k].p99, "per_s", pt[i].reg[k].per_s));
        json_array_append_new(vals, json_pack("{s:f, s:i, s:O, s:f, s:f, s:f, s:f, s:f, s:f, s:o}",
            "value", pt[i].value, "runs", pt[i].runs, "files", pt[i].files,
            "wall_s", pt[i].wall_s, "throughput_per_s", pt[i].throughput,
            "cpu_pct", pt[i].cpu_pct, "peak_rss_bytes", pt[i].peak_rss,
            "peak_heap_bytes", pt[i].peak_heap, "efficiency", pt[i].efficiency,
            "regions", regs));
    }
    return json_pack("{s:s?, s:o}", "throughput_of", of, "values", vals);
}

static void charts(FILE *f, int html, const struct point *pt, int n)
{
    double *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y),
           *y2 = malloc((size_t)n * sizeof *y2), *y3 = malloc((size_t)n * sizeof *y3);
    double xl = pt[0].value, xh = pt[n - 1].value;
    for (int i = 0; i < n; i++)
        x[i] = pt[i].value;
    if (xl <= 0)
        xl = 1;
    double lo = xl / 1.5, hi = fmax(xh, xl) * 1.5;
    struct chart c;
    int yy = 34, H = 240, W = 760;
    const char *of = throughput_of(&pt[0]);
    double m;
    /* throughput */
    m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, y[i] = pt[i].throughput);
    chart_begin(&c, f, html, "throughput", of ? "Throughput (region occurrences per second)"
                : "Throughput (values per second)", 0, yy, W, H);
    chart_axes(&c, lo, hi, 0, m * 1.15, AX_COUNT, AX_RATE, 1, 0);
    chart_points(&c, of ? of : "values/s", "#4e79a7", x, y, (size_t)n);
    chart_end(&c);
    yy += H;
    /* total time */
    m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, y[i] = pt[i].wall_s);
    chart_begin(&c, f, html, "time", "Total time", 0, yy, W, H);
    chart_axes(&c, lo, hi, 0, m * 1.15, AX_COUNT, AX_SEC, 1, 0);
    chart_points(&c, "wall", "#e15759", x, y, (size_t)n);
    chart_end(&c);
    yy += H;
    /* latency of each region */
    if (pt[0].nreg) {
        m = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < pt[i].nreg; k++)
                m = fmax(m, pt[i].reg[k].p99);
        chart_begin(&c, f, html, "latency", "Latency (p50, p95, p99 per region)", 0, yy, W, H);
        chart_axes(&c, lo, hi, 0, m * 1.15, AX_COUNT, AX_NS, 1, 0);
        char **names = calloc((size_t)pt[0].nreg * 3, sizeof *names);
        for (int k = 0; k < pt[0].nreg && k < 3; k++) {
            for (int q = 0; q < 3; q++) {
                for (int i = 0; i < n; i++) {
                    double v = NAN;
                    for (int j = 0; j < pt[i].nreg; j++)
                        if (!strcmp(pt[i].reg[j].path, pt[0].reg[k].path))
                            v = q == 0 ? pt[i].reg[j].p50 : q == 1 ? pt[i].reg[j].p95
                                                                  : pt[i].reg[j].p99;
                    y[i] = v;
                }
                if (asprintf(&names[k * 3 + q], "%s p%s", pt[0].reg[k].path,
                             q == 0 ? "50" : q == 1 ? "95" : "99") < 0)
                    names[k * 3 + q] = NULL;
                chart_points(&c, names[k * 3 + q], run_color(k * 3 + q), x, y, (size_t)n);
            }
        }
        chart_end(&c);
        for (int k = 0; k < pt[0].nreg * 3; k++)
            free(names[k]);
        free(names);
        yy += H;
    }
    /* efficiency */
    m = 1;
    for (int i = 0; i < n; i++)
        m = fmax(m, y[i] = pt[i].efficiency * 100);
    chart_begin(&c, f, html, "efficiency", "Scaling efficiency (throughput relative to the "
                "smallest value; 100% is linear)", 0, yy, W, H);
    chart_axes(&c, lo, hi, 0, m * 1.15, AX_COUNT, AX_PCT, 1, 0);
    chart_points(&c, "efficiency", "#59a14f", x, y, (size_t)n);
    chart_end(&c);
    yy += H;
    /* memory */
    m = 0;
    for (int i = 0; i < n; i++) {
        y2[i] = pt[i].peak_rss;
        y3[i] = pt[i].peak_heap;
        m = fmax(m, fmax(y2[i], y3[i]));
    }
    chart_begin(&c, f, html, "memory", "Memory (peak RSS and peak heap)", 0, yy, W, H);
    chart_axes(&c, lo, hi, 0, m * 1.15, AX_COUNT, AX_BYTES, 1, 0);
    chart_points(&c, "peak RSS", "#d62728", x, y2, (size_t)n);
    chart_points(&c, "peak heap", "#1f2f5f", x, y3, (size_t)n);
    chart_end(&c);
    free(x);
    free(y);
    free(y2);
    free(y3);
}

static int write_charts(const char *out, const struct point *pt, int n)
{
    int html = ends_with(out, ".html") || ends_with(out, ".htm");
    struct outfile of;
    FILE *f = outfile_open(&of, "scale", out);
    if (!f)
        return EXIT_USAGE;
    if (html) {
        html_begin(f, "perfprobe scale");
        fputs("<h1>perfprobe scale</h1>\n", f);
        charts(f, 1, pt, n);
        html_end(f);
    } else {
        char *body = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&body, &len);
        charts(m, 0, pt, n);
        fclose(m);
        int h = 34 + 240 * (pt[0].nreg ? 5 : 4);
        fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/"
                "2000/svg\" width=\"760\" height=\"%d\" viewBox=\"0 0 760 %d\" "
                "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" "
                "fill=\"#fff\"/>\n<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">"
                "perfprobe scale</text>\n", h, h);
        fwrite(body, 1, len, f);
        fputs("</svg>\n", f);
        free(body);
    }
    return outfile_commit(&of);
}

/* ---- the command --------------------------------------------------------------------- */

static const char scale_usage[] =
    "usage: perfprobe scale --values V1,V2,... [-n RUNS] [--json] [-o OUT.html|OUT.svg]\n"
    "                       [--dir DIR] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD RUNS times (default 1) per value, each a fresh traced process, with\n"
    "every {} in ARGS replaced by the value, and prints per value: wall time,\n"
    "throughput, peak RSS and heap, CPU %, scaling efficiency relative to the\n"
    "smallest value, and each region's p50/p95/p99.  Timelines are kept in DIR\n"
    "(default perfprobe-scale).  -o draws the graphs against size.\n";

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cmd_scale(int argc, char **argv)
{
    const char *values = NULL, *out = NULL, *dir = "perfprobe-scale";
    int runs = 1, json = 0, i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(scale_usage, stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--values") && i + 1 < argc) {
            values = argv[++i];
        } else if (!strcmp(a, "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--dir") && i + 1 < argc) {
            dir = argv[++i];
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "-n") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1000)
                return error("scale: -n '%s' is not a number of runs (1-1000)", argv[i]);
            runs = (int)n;
        } else {
            fputs(scale_usage, stderr);
            return error("scale: unknown option '%s'", a);
        }
    }
    if (!values) {
        fputs(scale_usage, stderr);
        return error("scale: no --values");
    }
    if (i >= argc) {
        fputs(scale_usage, stderr);
        return error("scale: no command given");
    }
    if (out && !ends_with(out, ".html") && !ends_with(out, ".htm") && !ends_with(out, ".svg"))
        return error("scale: %s: the output must end in .html or .svg", out);
    /* the values, sorted; each one a number */
    double v[256];
    int nv = 0;
    char *list = strdup(values), *save = NULL;
    if (!list)
        return error("scale: out of memory");
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        double d = strtod(tok, &end);
        int bad = end == tok || *end || !isfinite(d);
        if (bad || nv == 256) {
            /* said before the list (TOK points into it) is freed */
            int rc = bad ? error("scale: --values: '%s' is not a number", tok)
                         : error("scale: --values: too many values (at most 256)");
            free(list);
            return rc;
        }
        v[nv++] = d;
    }
    free(list);
    if (!nv)
        return error("scale: --values is empty");
    qsort(v, (size_t)nv, sizeof *v, cmp_double);
    if (mkdir(dir, 0777) < 0 && errno != EEXIST)
        return error("scale: --dir %s: %s", dir, strerror(errno));

    struct point *pt = calloc((size_t)nv, sizeof *pt);
    int rc = EXIT_OK, done = 0;
    for (int k = 0; k < nv && rc == EXIT_OK; k++) {
        char val[64], path[4200];
        snprintf(val, sizeof val, "%.15g", v[k]);
        pt[k].value = v[k];
        pt[k].files = json_array();
        for (int r = 1; r <= runs; r++) {
            snprintf(path, sizeof path, "%s/scale.%s.run%d.jsonl", dir, val, r);
            unlink(path);                      /* a file from an earlier scale */
            if (!json)
                fprintf(stderr, "perfprobe: scale: value %s, run %d of %d\n", val, r, runs);
            int st = one_run(path, argv + i, argc - i, val);
            if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                rc = error("scale: value %s, run %d: the command %s %d", val, r,
                           st >= 0 && WIFSIGNALED(st) ? "was killed by signal" : "exited with status",
                           st < 0 ? -1 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
                break;
            }
            struct run *rs;
            char *p = path;
            int nr = runs_read(1, &p, &rs);
            if (nr < 0) {
                rc = EXIT_USAGE;
                break;
            }
            add_run(&pt[k], &rs[main_run(rs, nr)]);
            json_array_append_new(pt[k].files, json_string(path));
            for (int q = 0; q < nr; q++)
                run_free(&rs[q]);
            free(rs);
        }
        if (rc == EXIT_OK) {
            finish(&pt[k]);
            done++;
        }
    }
    for (int k = 0; k < done; k++)
        pt[k].efficiency = pt[0].throughput > 0 ? pt[k].throughput / pt[0].throughput : NAN;
    if (done) {
        if (json) {
            json_t *j = to_json(pt, done);
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
            putchar('\n');
            json_decref(j);
        } else {
            print_table(pt, done);
        }
        if (out && rc == EXIT_OK)
            rc = write_charts(out, pt, done) ? EXIT_USAGE : EXIT_OK;
    }
    for (int k = 0; k < nv; k++) {
        for (int q = 0; q < pt[k].nreg; q++)
            free(pt[k].reg[q].path);
        json_decref(pt[k].files);
    }
    free(pt);
    return rc;
}
