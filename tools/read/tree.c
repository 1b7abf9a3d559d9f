/*
 * tree.c - a run that was a process tree: which process is the main one,
 * the tree itself, and the figures of the whole job.
 *
 * One timeline file holds every process image of a run (a header starts
 * each).  The images of one pid joined by exec are one process: a chain of
 * programs (pyenv's bash, then env, then python3); a pid the kernel gave
 * again to a later process is another process (struct run's process).  This file turns
 * the images into processes in start order, adds up their CPU, and lines
 * up their RSS samples on wall-clock time (each image's header gives its
 * start in Unix time; a sample's t_s is relative to that) to give the
 * combined RSS over time and its peak: the memory the job needed at once.
 * A process's own peak (the kernel's high-water mark) may fall between
 * samples, so the combined peak is never reported below the largest single
 * process's peak.
 *
 * The reader builds the tree of every file it reads (run_read); tree_print
 * writes it as text.  `report FILE` shows the tree and the main process's
 * report (tree_report, report/report.c); `run` prints the main process's
 * exit table (written into the file by the shim) and this tree under it
 * (tree_exit_table, run.c); `check` reads tree.* keys.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num_of(json_t *o, const char *k)
{
    return json_num(o, k, 0);
}

static double cpu_s(const struct run *r)
{
    return num_of(r->summary, "cpu_user_s") + num_of(r->summary, "cpu_sys_s");
}

static double start_of(const struct run *r)
{
    return num_of(r->header, "start_unix_s");
}

/* ---- combined RSS over time -------------------------------------------------- */

struct point { double t; int image; double rss; };

static int by_time(const void *a, const void *b)
{
    const struct point *x = a, *y = b;
    return (x->t > y->t) - (x->t < y->t);
}

/* The images' sampled RSS summed at every sample time.  Each image counts
 * from its first sample to its last record; *series gets [t_s, bytes]
 * pairs (t_s from the first image's start) when not NULL. */
static double combined_peak(const struct run *runs, int n, double *peak_t, json_t *series)
{
    size_t cap = 0, np = 0;
    for (int i = 0; i < n; i++)
        cap += json_array_size(runs[i].samples) + 1;
    struct point *p = calloc(cap ? cap : 1, sizeof *p);
    double t0 = n ? start_of(&runs[0]) : 0;
    for (int i = 0; i < n; i++) {
        double s0 = start_of(&runs[i]), last_t = 0;
        size_t k;
        json_t *smp;
        json_array_foreach(runs[i].samples, k, smp) {
            double t = s0 + num_of(smp, "t_s");
            p[np++] = (struct point){t, i, num_of(smp, "rss")};
            last_t = t;
        }
        double end_t = s0 + num_of(runs[i].summary, "wall_s");
        if (end_t < last_t)
            end_t = last_t;
        /* gone just after its end: later points no longer count it */
        p[np++] = (struct point){nextafter(end_t, INFINITY), i, 0};
    }
    qsort(p, np, sizeof *p, by_time);
    double *cur = calloc(n > 0 ? (size_t)n : 1, sizeof *cur), sum = 0, peak = 0;
    *peak_t = 0;
    for (size_t k = 0; k < np; k++) {
        sum += p[k].rss - cur[p[k].image];
        cur[p[k].image] = p[k].rss;
        if (k + 1 < np && p[k + 1].t == p[k].t)
            continue;                    /* same instant: add them all first */
        if (series)
            json_array_append_new(series, json_pack("[f, f]", p[k].t - t0, sum));
        if (sum > peak) {
            peak = sum;
            *peak_t = p[k].t - t0;
        }
    }
    free(cur);
    free(p);
    return peak;
}

/* ---- programs started without the shim ---------------------------------------- */

/* What the shim said would run without it: an exec record with "traced":
 * false (the image that follows writes nothing) and the untraced records
 * of children started by posix_spawn.  One object each: by (the pid that
 * started it), how ("exec" or "spawn"), child (its pid, for a spawn),
 * path, why. */
json_t *tree_untraced(const struct run *runs, int n)
{
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *x = runs[i].exec;
        if (x && json_is_false(json_object_get(x, "traced")))
            json_array_append_new(list, json_pack("{s:I, s:s, s:O?, s:O?}", "by",
                                  (json_int_t)runs[i].pid, "how", "exec",
                                  "path", json_object_get(x, "path"),
                                  "why", json_object_get(x, "why")));
        size_t k;
        json_array_foreach(runs[i].untraced, k, x) {
            json_t *o = json_pack("{s:I, s:s, s:O?, s:O?}", "by", (json_int_t)runs[i].pid,
                                  "how", "spawn", "path", json_object_get(x, "path"),
                                  "why", json_object_get(x, "why"));
            if (json_object_get(x, "child"))
                json_object_set(o, "child", json_object_get(x, "child"));
            json_array_append_new(list, o);
        }
    }
    return list;
}

void untraced_print(FILE *f, json_t *tree)
{
    json_t *list = json_object_get(tree, "untraced"), *u;
    size_t k, n = json_array_size(list);
    if (!n)
        return;
    fprintf(f, "not traced: %zu program%s started without the shim (nothing of %s is in "
            "the file):\n", n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
    json_array_foreach(list, k, u) {
        const char *path = json_string_value(json_object_get(u, "path"));
        const char *why = json_string_value(json_object_get(u, "why"));
        const char *how = json_string_value(json_object_get(u, "how"));
        fprintf(f, "  %s (%s), ", path && *path ? path : "?", why ? why : "?");
        if (!strcmp(how, "exec"))
            fprintf(f, "exec'd by pid %lld\n", (long long)json_integer_value(json_object_get(u, "by")));
        else if (json_object_get(u, "child"))
            fprintf(f, "pid %lld, started by pid %lld\n",
                    (long long)json_integer_value(json_object_get(u, "child")),
                    (long long)json_integer_value(json_object_get(u, "by")));
        else
            fprintf(f, "started by pid %lld\n", (long long)json_integer_value(json_object_get(u, "by")));
    }
}

/* ---- the tree ------------------------------------------------------------------- */

json_t *tree_build(const struct run *runs, int n, int with_series)
{
    json_t *procs = json_array();
    double cpu = 0, sum_peaks = 0, largest = 0;
    int nproc = 0;
    for (int i = 0; i < n; i++) {
        int first = 1;
        for (int j = 0; j < i; j++)
            first &= runs[j].process != runs[i].process;
        if (!first)
            continue;
        /* the process: every image of it (a pid and its execs), in order */
        json_t *programs = json_array(), *uncounted = json_array();
        double peak_rss = 0, peak_heap = 0, pcpu = 0, end = 0;
        const struct run *last = &runs[i];
        for (int j = i; j < n; j++) {
            if (runs[j].process != runs[i].process)
                continue;
            const char *prog = json_string_value(json_object_get(runs[j].header, "program"));
            json_array_append_new(programs, json_string(prog ? prog : "?"));
            if (!runs[j].heap_counted)
                json_array_append_new(uncounted, json_string(prog ? prog : "?"));
            peak_rss = fmax(peak_rss, num_of(runs[j].summary, "peak_rss_bytes"));
            peak_heap = fmax(peak_heap, num_of(runs[j].summary, "peak_heap_bytes"));
            pcpu = fmax(pcpu, cpu_s(&runs[j]));   /* CPU times carry over exec */
            end = start_of(&runs[j]) + num_of(runs[j].summary, "wall_s");
            last = &runs[j];
        }
        json_t *p = json_pack("{s:I, s:I, s:o, s:i, s:f, s:f, s:f, s:f, s:f, s:s}",
                              "pid", (json_int_t)runs[i].pid, "ppid", (json_int_t)runs[i].ppid,
                              "programs", programs, "images", (int)json_array_size(programs),
                              "start_s", start_of(&runs[i]) - start_of(&runs[0]),
                              "wall_s", end - start_of(&runs[i]), "peak_rss_bytes", peak_rss,
                              "peak_heap_bytes", peak_heap, "cpu_s", pcpu,
                              "ended", last->ended ? last->ended : "unknown");
        json_t *sig = json_object_get(last->summary, "signal");
        if (sig)
            json_object_set(p, "signal", sig);
        json_t *status = json_object_get(last->summary, "exit_status");
        if (json_is_integer(status))
            json_object_set(p, "exit_status", status);
        /* an image whose heap was not counted leaves the process's peak
         * unknown: null, never the other images' figure or a 0 */
        json_object_set_new(p, "heap_counted", json_boolean(!json_array_size(uncounted)));
        if (json_array_size(uncounted)) {
            json_object_set_new(p, "peak_heap_bytes", json_null());
            json_object_set(p, "heap_not_counted_in", uncounted);
        }
        json_decref(uncounted);
        json_array_append_new(procs, p);
        cpu += pcpu;
        sum_peaks += peak_rss;
        largest = fmax(largest, peak_rss);
        nproc++;
    }
    json_t *untraced = tree_untraced(runs, n);
    json_t *series = with_series ? json_array() : NULL;
    double peak_t, combined = combined_peak(runs, n, &peak_t, series);
    if (combined < largest)
        combined = largest;
    json_t *totals = json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:i}", "processes", nproc,
                               "images", n, "cpu_s", cpu, "peak_rss_bytes", combined,
                               "peak_rss_t_s", peak_t, "sum_of_peak_rss_bytes", sum_peaks,
                               "largest_peak_rss_bytes", largest,
                               "untraced", (int)json_array_size(untraced));
    json_t *t = json_pack("{s:o, s:o, s:o}", "processes", procs, "totals", totals,
                          "untraced", untraced);
    if (series)
        json_object_set_new(t, "rss", series);
    return t;
}

/* Each process's parent in PROCS (-1: none in the file): the process of
 * its ppid that started last before it, so that a pid the kernel gave
 * again to a later process is not taken for the earlier one's */
static int *parents_of(json_t *procs)
{
    size_t n = json_array_size(procs);
    int *par = malloc((n ? n : 1) * sizeof *par);
    for (size_t i = 0; par && i < n; i++) {
        json_t *p = json_array_get(procs, i);
        double start = num_of(p, "start_s"), best = -1e300;
        long ppid = (long)num_of(p, "ppid");
        par[i] = -1;
        for (size_t j = 0; j < n; j++) {
            json_t *q = json_array_get(procs, j);
            double s = num_of(q, "start_s");
            if (j != i && (long)num_of(q, "pid") == ppid && s <= start && s > best) {
                best = s;
                par[i] = (int)j;
            }
        }
    }
    return par;
}

/* One line a process, children under their parent (PAR: parents_of;
 * PARENT: the index of the one whose children these are, -1 at the top),
 * in start order. */
static void print_procs(FILE *f, json_t *procs, const int *par, int parent, int depth,
                        int *shown, int *lines, int max_lines, long main_pid)
{
    size_t i;
    json_t *p;
    json_array_foreach(procs, i, p) {
        if (shown[i] || par[i] != parent)
            continue;
        shown[i] = 1;
        if (++*lines <= max_lines) {
            char chain[512] = "", rss[32], heap[96], wall[32], cpu[32];
            size_t k;
            json_t *prog;
            json_array_foreach(json_object_get(p, "programs"), k, prog) {
                size_t l = strlen(chain);
                snprintf(chain + l, sizeof chain - l, "%s%s", k ? " > " : "",
                         json_string_value(prog));
            }
            fmt_value(wall, sizeof wall, "wall_s", num_of(p, "wall_s"));
            fmt_value(rss, sizeof rss, "peak_rss_bytes", num_of(p, "peak_rss_bytes"));
            fmt_value(heap, sizeof heap, "peak_heap_bytes", num_of(p, "peak_heap_bytes"));
            json_t *nc = json_object_get(p, "heap_not_counted_in");
            if (json_array_size(nc) == json_array_size(json_object_get(p, "programs")))
                snprintf(heap, sizeof heap, "not counted");
            else if (json_array_size(nc))      /* of some images only: name them */
                snprintf(heap, sizeof heap, "not counted in %s",
                         json_string_value(json_array_get(nc, 0)));
            fmt_value(cpu, sizeof cpu, "cpu_user_s", num_of(p, "cpu_s"));
            const char *ended = json_string_value(json_object_get(p, "ended"));
            char end[64];
            if (json_object_get(p, "signal"))
                snprintf(end, sizeof end, "signal %lld",
                         json_integer_value(json_object_get(p, "signal")));
            else if (!strcmp(ended, "exit") && json_is_integer(json_object_get(p, "exit_status")))
                snprintf(end, sizeof end, "exited %lld",
                         json_integer_value(json_object_get(p, "exit_status")));
            else
                snprintf(end, sizeof end, "%s", !strcmp(ended, "exit") ? "exited" :
                         !strcmp(ended, "exec") ? "exec" : "no summary");
            long pid = (long)num_of(p, "pid");
            fprintf(f, "%*s%ld %s%s  wall %s  CPU %s  peak RSS %s  heap %s  %s\n",
                    2 * depth + 2, "", pid, chain, pid == main_pid ? " [main]" : "", wall, cpu,
                    rss, heap, end);
        }
        print_procs(f, procs, par, (int)i, depth + 1, shown, lines, max_lines, main_pid);
    }
}

void tree_print(FILE *f, json_t *tree, long main_pid, const char *why, int max_lines)
{
    json_t *procs = json_object_get(tree, "processes"), *tot = json_object_get(tree, "totals");
    size_t n = json_array_size(procs);
    int *shown = calloc(n ? n : 1, sizeof *shown), lines = 0;
    char cpu[32], peak[32], sum[32];
    fprintf(f, "process tree: %zu processes, %d images; main process: pid %ld (%s)\n", n,
            (int)num_of(tot, "images"), main_pid, why);
    int *par = parents_of(procs);
    if (par)
        print_procs(f, procs, par, -1, 0, shown, &lines, max_lines, main_pid);
    for (size_t i = 0; i < n; i++)        /* not reached from the top (no parents) */
        if (!shown[i]) {
            json_t *one = json_array();
            json_array_append(one, json_array_get(procs, i));
            int s1 = 0, top = -1;
            print_procs(f, one, &top, -1, 0, &s1, &lines, max_lines, main_pid);
            json_decref(one);
        }
    free(par);
    if (lines > max_lines)
        fprintf(f, "  ... and %d more (perfprobe report shows them all)\n", lines - max_lines);
    fmt_value(cpu, sizeof cpu, "cpu_user_s", num_of(tot, "cpu_s"));
    fmt_value(peak, sizeof peak, "peak_rss_bytes", num_of(tot, "peak_rss_bytes"));
    fmt_value(sum, sizeof sum, "peak_rss_bytes", num_of(tot, "sum_of_peak_rss_bytes"));
    fprintf(f, "tree: CPU %s; RSS of all processes at once: peak %s at %.3f s "
            "(the processes' own peaks add up to %s)\n", cpu, peak,
            num_of(tot, "peak_rss_t_s"), sum);
    free(shown);
}
