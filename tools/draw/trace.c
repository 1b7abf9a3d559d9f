/*
 * trace.c - `perfprobe trace FILE|DIR... -o trace.json`: a timeline as
 * Chrome trace-event JSON, which Perfetto's UI (ui.perfetto.dev) and
 * chrome://tracing load.
 *
 * The format is the published "Trace Event Format" (a JSON object with a
 * "traceEvents" array).  Per process image:
 *   "M" metadata   process_name ("bash -> python3 (pid N)" when images of
 *                  one pid exec'd one another), process_sort_index, thread_name
 *   "C" counters   RSS, live heap (with the peak between samples), own
 *                  mmap (anon, file), CPU % (user, sys), RSS parts (where
 *                  the timeline has a breakdown), and each perf_counter
 *   "i" instants   probes, process-scoped, with their figures in args
 *   "X" complete   region occurrences the timeline keeps (the slowest few
 *                  per window, with their thread), microsecond ts and dur
 *   "i" instants   CPU samples (read/cpu.c), thread-scoped on the sampled
 *                  thread's track: the innermost function, samples, region
 * Every process of a tree is its own process track; their clocks are
 * aligned on wall-clock time (header start_unix_s).  Counter values are
 * the timeline's own numbers, unchanged, so a test can compare them.
 */
#define _GNU_SOURCE
#include "draw/draw.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a JSON string, escaped by jansson */
static void jstr(FILE *f, const char *s)
{
    json_t *j = json_string(s ? s : "");
    if (!j)
        j = json_string("(invalid UTF-8)");
    char *d = json_dumps(j, JSON_ENCODE_ANY);
    fputs(d, f);
    free(d);
    json_decref(j);
}

struct out {
    FILE *f;
    int first;
};

/* opens one event: the comma between events, then {"ph":PH,"pid":..,"tid":..,"ts":.. */
static void ev(struct out *o, const char *ph, long pid, long tid, double ts_us)
{
    fputs(o->first ? "\n" : ",\n", o->f);
    o->first = 0;
    fprintf(o->f, "{\"ph\":\"%s\",\"pid\":%ld,\"tid\":%ld,\"ts\":%.3f", ph, pid, tid, ts_us);
}

static void counter(struct out *o, long pid, double ts, const char *name, const char *k1,
                    double v1, const char *k2, double v2)
{
    ev(o, "C", pid, pid, ts);
    fputs(",\"name\":", o->f);
    jstr(o->f, name);
    fprintf(o->f, ",\"args\":{\"%s\":%.17g", k1, v1);
    if (k2)
        fprintf(o->f, ",\"%s\":%.17g", k2, v2);
    fputs("}}", o->f);
}

/* The process track's name: "prog (pid N)", or for a pid whose images
 * exec'd one another "bash -> python3 (pid N)", in start order.  Written
 * once per pid, with its first image. */
static void process_meta(struct out *o, struct run *runs, int nr, int k, int sort)
{
    long pid = runs[k].pid;
    for (int i = 0; i < k; i++)
        if (runs[i].pid == pid)
            return;
    char name[1200] = "";
    size_t len = 0;
    double last = -INFINITY;
    for (int n = 0; n < nr; n++) {       /* images of this pid by start time */
        int next = -1;
        double best = INFINITY;
        for (int i = 0; i < nr; i++) {
            double st = json_num(runs[i].header, "start_unix_s", 0);
            if (runs[i].pid == pid && st > last && st < best) {
                best = st;
                next = i;
            }
        }
        if (next < 0)
            break;
        last = best;
        const char *prog = json_string_value(json_object_get(runs[next].header, "program"));
        len += (size_t)snprintf(name + len, len < sizeof name - 300 ? sizeof name - len : 0,
                                "%s%s", len ? " -> " : "", prog ? prog : "?");
        if (len >= sizeof name - 300)
            break;
    }
    snprintf(name + strlen(name), sizeof name - strlen(name), " (pid %ld)", pid);
    ev(o, "M", pid, pid, 0);
    fputs(",\"name\":\"process_name\",\"args\":{\"name\":", o->f);
    jstr(o->f, name);
    fputs("}}", o->f);
    ev(o, "M", pid, pid, 0);
    fprintf(o->f, ",\"name\":\"process_sort_index\",\"args\":{\"sort_index\":%d}}", sort);
    ev(o, "M", pid, pid, 0);
    fputs(",\"name\":\"thread_name\",\"args\":{\"name\":\"main\"}}", o->f);
}

struct cpu_ctx { struct out *o; long pid; double off; json_t *threads; };

static void cpu_row(void *ctx, double t_s, long tid, const char *fn, const char *region,
                    double samples)
{
    struct cpu_ctx *c = ctx;
    ev(c->o, "i", c->pid, tid, (c->off + t_s) * 1e6);
    fputs(",\"s\":\"t\",\"cat\":\"cpu\",\"name\":", c->o->f);
    jstr(c->o->f, fn);
    fprintf(c->o->f, ",\"args\":{\"samples\":%.17g,\"region\":", samples);
    if (region)
        jstr(c->o->f, region);
    else
        fputs("null", c->o->f);
    fputs("}}", c->o->f);
    char key[32];
    snprintf(key, sizeof key, "%ld", tid);
    json_object_set_new(c->threads, key, json_true());
}

static void one_run(struct out *o, struct run *r, double off)
{
    long pid = r->pid;

    /* samples: RSS, heap, mmap, CPU %, parts */
    size_t i;
    json_t *s;
    double pu = NAN, ps = NAN, pt = NAN, last_anon = NAN, last_file = NAN;
    json_array_foreach(r->samples, i, s) {
        double t = json_num(s, "t_s", NAN);
        if (isnan(t))
            continue;
        double ts = (off + t) * 1e6;
        counter(o, pid, ts, "RSS", "rss", json_num(s, "rss", 0), NULL, 0);
        counter(o, pid, ts, "heap", "heap", json_num(s, "heap", 0), "heap_max",
                json_num(s, "heap_max", json_num(s, "heap", 0)));
        double an = json_num(s, "anon", 0), fi = json_num(s, "file", 0);
        if (an != last_anon || fi != last_file || i + 1 == json_array_size(r->samples))
            counter(o, pid, ts, "mmap", "anon", an, "file", fi);   /* on change only */
        last_anon = an;
        last_file = fi;
        double u = json_num(s, "user_s", NAN), sy = json_num(s, "sys_s", NAN);
        if (!isnan(pt) && t > pt && !isnan(u) && !isnan(sy))
            counter(o, pid, (off + pt) * 1e6, "CPU %", "user", (u - pu) / (t - pt) * 100,
                    "sys", (sy - ps) / (t - pt) * 100);
        if (!isnan(u) && !isnan(sy)) {
            pu = u;
            ps = sy;
            pt = t;
        }
        json_t *parts = json_object_get(s, "parts");
        if (json_array_size(parts) >= 5) {
            static const char *const k[5] = {"heap", "mmap", "file", "stack", "other"};
            ev(o, "C", pid, pid, ts);
            fputs(",\"name\":\"RSS parts\",\"args\":{", o->f);
            for (int q = 0; q < 5; q++)
                fprintf(o->f, "%s\"%s\":%.17g", q ? "," : "", k[q],
                        json_number_value(json_array_get(parts, (size_t)q)));
            fputs("}}", o->f);
        }
    }
    /* the program's own counters */
    json_array_foreach(r->counters, i, s) {
        double v = json_num(s, "value", NAN);
        const char *n = json_string_value(json_object_get(s, "name"));
        if (isnan(v) || !n)
            continue;
        counter(o, pid, (off + json_num(s, "t_s", 0)) * 1e6, n, "value", v, NULL, 0);
    }
    /* probes: instants on the sample clock */
    json_array_foreach(r->probes, i, s) {
        const char *label = json_string_value(json_object_get(s, "label"));
        double t = json_num(s, "t_s", 0) + json_num(s, "overhead_s", 0);
        ev(o, "i", pid, (long)json_num(s, "thread", (double)pid), (off + t) * 1e6);
        fputs(",\"s\":\"p\",\"cat\":\"probe\",\"name\":", o->f);
        jstr(o->f, label ? label : "(null)");
        fprintf(o->f, ",\"args\":{\"rss_bytes\":%.17g,\"heap_bytes\":%.17g,\"dt_s\":%.17g}}",
                json_num(s, "rss_bytes", 0), json_num(s, "heap_bytes", 0),
                json_num(s, "dt_s", 0));
    }
    /* region occurrences the timeline keeps: the slowest per window */
    json_t *threads = json_object();
    json_array_foreach(r->region_windows, i, s) {
        size_t j;
        json_t *g;
        json_array_foreach(json_object_get(s, "regions"), j, g) {
            const char *path = json_string_value(json_object_get(g, "path"));
            const char *nm = json_string_value(json_object_get(g, "name"));
            size_t k;
            json_t *x;
            json_array_foreach(json_object_get(g, "slowest"), k, x) {
                double st = json_num(x, "start_s", NAN), d = json_num(x, "dur_ns", NAN);
                long tid = (long)json_num(x, "thread", (double)pid);
                if (isnan(st) || isnan(d))
                    continue;
                ev(o, "X", pid, tid, (off + st) * 1e6);
                fprintf(o->f, ",\"dur\":%.3f,\"cat\":\"region\",\"name\":", d / 1e3);
                jstr(o->f, nm ? nm : path);
                fputs(",\"args\":{\"path\":", o->f);
                jstr(o->f, path);
                fputs("}}", o->f);
                char key[32];
                snprintf(key, sizeof key, "%ld", tid);
                json_object_set_new(threads, key, json_true());
            }
        }
    }
    struct cpu_ctx cc = {o, pid, off, threads};
    cpu_each_row(r, cpu_row, &cc);              /* CPU samples */
    const char *key;
    json_t *v;
    json_object_foreach(threads, key, v) {
        long tid = strtol(key, NULL, 10);
        if (tid == pid)
            continue;
        ev(o, "M", pid, tid, 0);
        fprintf(o->f, ",\"name\":\"thread_name\",\"args\":{\"name\":\"thread %ld\"}}", tid);
    }
    json_decref(threads);
}

static const char trace_usage[] =
    "usage: perfprobe trace FILE|DIR... -o TRACE.json\n"
    "\n"
    "Writes Chrome trace-event JSON for Perfetto's UI and chrome://tracing:\n"
    "counter tracks for RSS, heap, mmap, CPU % and RSS parts, probes as instant\n"
    "events, the slowest region occurrences of each window as complete events;\n"
    "one process track per process image.\n";

int cmd_trace(int argc, char **argv)
{
    const char *out;
    char **files;
    int parse_rc, n = files_and_output(argc, argv, "trace", trace_usage, "TRACE.json", &files,
                                       &out, &parse_rc);
    if (n < 0)
        return parse_rc;
    struct run *runs;
    int nr = runs_read(n, files, &runs);
    free(files);
    if (nr < 0)
        return EXIT_USAGE;
    int rc = EXIT_OK;
    struct outfile of;
    FILE *f = outfile_is_run("trace", out, runs, nr) ? NULL : outfile_open(&of, "trace", out);
    if (!f) {
        rc = EXIT_USAGE;
    } else {
        /* processes of one tree share a clock; unrelated runs start at 0 */
        struct out o = {f, 1};
        fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", f);
        for (int k = 0; k < nr; k++) {
            process_meta(&o, runs, nr, k, k);
            one_run(&o, &runs[k], run_offset(runs, nr, k));
        }
        fputs("\n]}\n", f);
        rc = outfile_commit(&of);
    }
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}
