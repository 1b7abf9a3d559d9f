/*
 * timeline_read.c - a timeline file (docs/format.md) into a struct run.
 *
 * Every line is parsed by jansson.  One file holds a process tree: each
 * header starts a process image, and every later record belongs to the
 * latest image of the pid it carries.  Images of one pid joined by exec
 * are one process (struct run's process); a header with image 0, or after
 * the pid's summary, is a new process that was given the same pid.  An
 * image with no summary (killed,
 * or replaced by exec) gets one rebuilt from its samples (peak RSS from the
 * kernel's high-water marks, peak heap from the per-sample peaks, wall and
 * CPU time so far), marked "complete": false, with "ended" saying why.
 * A line that is not JSON (a record cut short by a full disk or a kill) is
 * skipped and counted, but for a whole record glued after the cut bytes (a
 * process of the tree killed inside its write while another went on
 * writing), which is read (line_resync, jsonline.c); a `cut` record (what
 * `perfprobe run` mends such bytes into) or `{}` counts as a damaged line
 * too.  A record written in parts (longer than a page) is joined again.
 * A file that does not start with a header, an empty
 * one, a 16 MiB line or a format version this build does not know is an
 * input error: one line on stderr and exit 2.
 *
 * run_read gives the file's main process (run_main: the first process's
 * last image, or the payload a wrapper spawned); runs_read gives every
 * image, in start order.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FORMAT_VERSION 2
#define MAX_LINE (16u << 20)

/* ---- a summary rebuilt from the samples ----------------------------------- */

struct rebuild {
    long samples;
    double t_s, rss, hwm, peak_rss, heap, peak_heap, anon, file, peak_mmap;
    double user_s, sys_s, minflt, majflt;
};

static void rebuild_sample(struct rebuild *rb, json_t *s)
{
    rb->samples++;
    rb->rss = json_num(s, "rss", rb->rss);
    rb->hwm = json_num(s, "hwm", rb->hwm);            /* carried forward when absent */
    rb->heap = json_num(s, "heap", rb->heap);
    rb->anon = json_num(s, "anon", rb->anon);
    rb->file = json_num(s, "file", rb->file);
    rb->user_s = json_num(s, "user_s", rb->user_s);
    rb->sys_s = json_num(s, "sys_s", rb->sys_s);
    rb->minflt = json_num(s, "minflt", rb->minflt);
    rb->majflt = json_num(s, "majflt", rb->majflt);
    double hmax = json_num(s, "heap_max", rb->heap);
    if (rb->hwm > rb->peak_rss) rb->peak_rss = rb->hwm;
    if (rb->rss > rb->peak_rss) rb->peak_rss = rb->rss;
    if (hmax > rb->peak_heap) rb->peak_heap = hmax;
    if (rb->heap > rb->peak_heap) rb->peak_heap = rb->heap;
    if (rb->anon + rb->file > rb->peak_mmap) rb->peak_mmap = rb->anon + rb->file;
}

static json_t *rebuild_summary(const struct rebuild *rb)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "t_s", rb->t_s, "wall_s", rb->t_s, "cpu_user_s", rb->user_s,
                     "cpu_sys_s", rb->sys_s,
                     "peak_rss_bytes", (json_int_t)rb->peak_rss,
                     "rss_bytes_at_exit", (json_int_t)rb->rss,
                     "peak_heap_bytes", (json_int_t)rb->peak_heap,
                     "heap_bytes_at_exit", (json_int_t)rb->heap,
                     "peak_mmap_bytes", (json_int_t)rb->peak_mmap,
                     "mmap_anon_bytes_at_exit", (json_int_t)rb->anon,
                     "mmap_file_bytes_at_exit", (json_int_t)rb->file,
                     "minflt", (json_int_t)rb->minflt, "majflt", (json_int_t)rb->majflt,
                     "samples", (json_int_t)rb->samples);
}

/* ---- one file ----------------------------------------------------------------- */

static int bad(const char *path, long line, const char *what)
{
    if (line > 0)
        error("%s:%ld: %s", path, line, what);
    else
        error("%s: %s", path, what);
    return -1;
}

/* A process image being read: the run and what rebuilds its summary. */
struct image {
    struct run run;
    struct rebuild rb;
    int exec_pending;      /* an exec record not (yet) followed by a failure */
};

static void image_start(struct image *im, const char *path, json_t *header)
{
    struct run *r = &im->run;
    memset(im, 0, sizeof *im);
    r->path = strdup(path);
    r->header = header;
    r->probes = json_array();
    r->counters = json_array();
    r->samples = json_array();
    r->region_windows = json_array();
    r->site_records = json_array();
    r->gaps = json_array();
    r->untraced = json_array();
    r->pid = (long)json_num(header, "pid", 0);
    r->ppid = (long)json_num(header, "ppid", 0);
    r->root_pid = (long)json_num(header, "root_pid", 0);
    r->image = (int)json_num(header, "image", 0);
}

/* The image's summary: its own, or one rebuilt from its samples, with
 * "complete" and, when there is no summary, how the image ended: "exec"
 * (it became another program: not a failure), "signal" (killed, as
 * recorded by perfprobe run) or "unknown" (killed, or still running). */
static void image_finish(struct image *im)
{
    struct run *r = &im->run;
    if (r->summary) {
        r->regions = json_incref(json_object_get(r->summary, "regions"));
        json_object_del(r->summary, "regions");
        json_object_del(r->summary, "type");
        json_object_set_new(r->summary, "complete", json_true());
        r->ended = "exit";
    } else {
        r->summary = rebuild_summary(&im->rb);
        json_object_set_new(r->summary, "complete", json_false());
        if (im->exec_pending)
            r->ended = "exec";
        else if (r->signal)
            r->ended = "signal";
        else
            r->ended = "unknown";
        if (r->signal)
            json_object_set(r->summary, "signal", json_object_get(r->signal, "signal"));
    }
    json_object_set_new(r->summary, "ended", json_string(r->ended));
    if (r->exec)
        json_object_set(r->summary, "exec", json_object_get(r->exec, "path"));
    if (!json_is_array(r->regions)) {
        json_decref(r->regions);
        r->regions = json_array();
    }
    run_heap_read(r);
}

static void add_record(struct image *im, json_t *o, const char *type)
{
    struct run *r = &im->run;
    double t = json_num(o, "t_s", -1);
    if (t > im->rb.t_s)
        im->rb.t_s = t;
    if (!type) {
        json_decref(o);
    } else if (!strcmp(type, "sample")) {
        /* fields written only when they changed: carried forward here, so
         * that every reader sees whole samples */
        static const char *const carried[] = {"hwm", "anon", "file", "majflt"};
        json_t *prev = json_array_get(r->samples, json_array_size(r->samples) - 1);
        for (size_t k = 0; k < sizeof carried / sizeof *carried; k++)
            if (!json_object_get(o, carried[k]) && json_object_get(prev, carried[k])) {
                json_object_set(o, carried[k], json_object_get(prev, carried[k]));
            } else if (!json_object_get(o, carried[k]) && im->rb.samples > 0) {
                double v = !strcmp(carried[k], "hwm") ? im->rb.hwm
                         : !strcmp(carried[k], "anon") ? im->rb.anon
                         : !strcmp(carried[k], "file") ? im->rb.file : im->rb.majflt;
                json_object_set_new(o, carried[k], json_integer((json_int_t)v));
            }
        rebuild_sample(&im->rb, o);
        /* its type and pid are the array's and the image's: not kept for
         * each of what can be millions of samples */
        json_object_del(o, "type");
        json_object_del(o, "pid");
        /* a figure the previous sample had too (a fault count, a mapping
         * that did not move) shares its value, which no reader changes */
        for (void *it = json_object_iter(o); prev && it; it = json_object_iter_next(o, it)) {
            json_t *v = json_object_iter_value(it);
            json_t *pv = json_object_get(prev, json_object_iter_key(it));
            if (pv && pv != v && json_typeof(pv) == json_typeof(v) && json_is_number(v) &&
                json_equal(pv, v))
                json_object_iter_set(o, it, pv);
        }
        json_array_append_new(r->samples, o);
    } else if (!strcmp(type, "regions")) {
        json_array_append_new(r->region_windows, o);
    } else if (!strcmp(type, "probe")) {
        json_array_append_new(r->probes, o);
    } else if (!strcmp(type, "module") || !strcmp(type, "stack") ||
               !strcmp(type, "sites") || !strcmp(type, "pyframe") || !strncmp(type, "cpu", 3)) {
        json_array_append_new(r->site_records, o);
    } else if (!strcmp(type, "counter")) {
        json_array_append_new(r->counters, o);
    } else if (!strcmp(type, "exec")) {
        json_decref(r->exec);
        r->exec = o;
        im->exec_pending = 1;
    } else if (!strcmp(type, "untraced")) {
        json_array_append_new(r->untraced, o);
    } else if (!strcmp(type, "table")) {
        json_decref(r->table);
        r->table = o;
    } else if (!strcmp(type, "exec_failed")) {
        json_decref(o);
        im->exec_pending = 0;
    } else if (!strcmp(type, "gap")) {
        json_array_append_new(r->gaps, o);
    } else if (!strcmp(type, "signal")) {
        json_decref(r->signal);
        r->signal = o;
    } else if (!strcmp(type, "summary")) {
        json_decref(r->summary);
        r->summary = o;
        im->exec_pending = 0;
    } else {
        json_decref(o);              /* a record type from a later version */
    }
}

static int by_start(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    double sx = json_num(x->header, "start_unix_s", 0), sy = json_num(y->header, "start_unix_s", 0);
    if (sx != sy)
        return sx < sy ? -1 : 1;
    if (x->pid != y->pid)
        return (x->pid > y->pid) - (x->pid < y->pid);
    return (x->image > y->image) - (x->image < y->image);
}

/* One record of line LINENO: a header starts an image, a cut record is
 * counted as a damaged line, any other goes to the latest image of its
 * pid.  -1 (said on stderr) when the file is not a timeline we can read. */
static int take_record(const char *path, long lineno, struct image **ims, int *n, int *cap,
                       long *damaged, json_t *o)
{
    const char *type = json_string_value(json_object_get(o, "type"));
    if (type && !strcmp(type, "pad")) {
        json_decref(o);                 /* fills a page's end (format.md) */
        return 0;
    }
    if ((type && !strcmp(type, "cut")) || json_object_size(o) == 0) {
        /* a record cut short by a kill, mended by `perfprobe run` (into
         * {} when too short for a cut record) */
        json_decref(o);
        (*damaged)++;
        return 0;
    }
    if (type && !strcmp(type, "header")) {
        const char *fmtname = json_string_value(json_object_get(o, "format"));
        json_t *jv = json_object_get(o, "version");
        /* a number (2.0 is 2); a string, null or none is named as such,
         * not read as version 0 */
        double v = json_is_number(jv) ? json_number_value(jv) : NAN;
        if (!fmtname || strcmp(fmtname, "perfprobe-timeline")) {
            json_decref(o);
            bad(path, lineno, "not a perfprobe timeline header");
            return -1;
        }
        if (!json_is_number(jv)) {
            json_decref(o);
            bad(path, lineno, jv ? "the header's \"version\" is not a number"
                                 : "the header has no \"version\"");
            return -1;
        }
        if (!(v >= 1 && v <= FORMAT_VERSION && v == floor(v))) {
            char msg[160];
            json_decref(o);
            snprintf(msg, sizeof msg, "timeline format version %.15g is not supported "
                     "(this perfprobe reads versions 1 to %d)", v, FORMAT_VERSION);
            bad(path, 0, msg);
            return -1;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 8;
            *ims = realloc(*ims, (size_t)*cap * sizeof **ims);
        }
        /* an exec continues the process of the pid's latest image (which
         * ended with an exec record, or with no word); image 0, or a
         * header after that image's summary, is a new process that was
         * given the same pid */
        long pid = (long)json_num(o, "pid", -1);
        int prev = -1, procs = 0;
        for (int k = 0; k < *n; k++) {
            if ((*ims)[k].run.pid == pid)
                prev = k;
            if ((*ims)[k].run.process >= procs)
                procs = (*ims)[k].run.process + 1;
        }
        struct image *im = &(*ims)[*n];
        image_start(im, path, o);
        im->run.process = procs;
        if (prev >= 0 && im->run.image > 0 &&
            ((*ims)[prev].exec_pending || !(*ims)[prev].run.summary))
            im->run.process = (*ims)[prev].run.process;
        (*n)++;
        return 0;
    }
    if (*n == 0) {
        json_decref(o);
        bad(path, 0, "not a perfprobe timeline (no header line)");
        return -1;
    }
    /* the latest image of the record's pid; version 1 has no pid */
    long pid = (long)json_num(o, "pid", -1);
    struct image *im = &(*ims)[*n - 1];
    if (pid >= 0)
        for (int k = *n - 1; k >= 0; k--)
            if ((*ims)[k].run.pid == pid) {
                im = &(*ims)[k];
                break;
            }
    add_record(im, o, type);
    return 0;
}

/* ---- records written in parts ------------------------------------------------- *
 *
 * A record longer than a page comes in parts (format.md, "Records longer
 * than a page"): "more" records with all but the first items of its
 * longest list (or text), parts 2 to n, then the record itself with
 * "in_parts" and the first items.  The more records wait here, per pid,
 * for their record, which takes their items in order.  More records that
 * another record of the pid follows (their record was never written: the
 * process was killed while it wrote them), or that the file ends on, are
 * let go without a word, as a record never written is; a record whose
 * parts did not all come says so with "parts_missing". */
struct more_wait {
    long pid;
    json_t *list;          /* the more records, in order */
};

struct joins {
    struct more_wait *w;
    int n, cap;
};

static void join_into(json_t *rec, json_t *more, const char *key)
{
    json_t *a = json_object_get(rec, key), *b = json_object_get(more, key);
    if (json_is_array(a) && json_is_array(b)) {
        json_array_extend(a, b);
    } else if (json_is_string(a) && json_is_string(b)) {
        size_t la = json_string_length(a), lb = json_string_length(b);
        char *t = malloc(la + lb + 1);
        memcpy(t, json_string_value(a), la);
        memcpy(t + la, json_string_value(b), lb);
        json_object_set_new(rec, key, json_stringn(t, la + lb));
        free(t);
    }
}

/* O, with the items of the more records LIST holds for it */
static void join_record(json_t *o, json_t *list)
{
    json_int_t parts = json_integer_value(json_object_get(o, "in_parts")), have = 1;
    const char *type = json_string_value(json_object_get(o, "type"));
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        const char *of = json_string_value(json_object_get(m, "of"));
        const char *key = json_string_value(json_object_get(m, "key"));
        if (of && key && type && !strcmp(of, type) &&
            json_integer_value(json_object_get(m, "in_parts")) == parts &&
            json_integer_value(json_object_get(m, "part")) == have + 1) {
            join_into(o, m, key);
            have++;
        }
    }
    json_object_del(o, "in_parts");
    if (have < parts)
        json_object_set_new(o, "parts_missing", json_integer(parts - have));
}

static int take_part(const char *path, long lineno, struct image **ims, int *n, int *cap,
                     long *damaged, struct joins *j, json_t *o)
{
    const char *type = json_string_value(json_object_get(o, "type"));
    if (type && !strcmp(type, "pad"))
        return take_record(path, lineno, ims, n, cap, damaged, o);
    long pid = (long)json_num(o, "pid", -1);
    int k = 0;
    while (k < j->n && j->w[k].pid != pid)
        k++;
    if (type && !strcmp(type, "more")) {
        if (k == j->n) {
            if (j->n == j->cap) {
                j->cap = j->cap ? 2 * j->cap : 4;
                j->w = realloc(j->w, (size_t)j->cap * sizeof *j->w);
            }
            j->w[j->n++] = (struct more_wait){pid, json_array()};
        }
        json_array_append_new(j->w[k].list, o);
        return 0;
    }
    json_t *list = k < j->n ? j->w[k].list : json_array();
    if (k < j->n)
        j->w[k] = j->w[--j->n];
    if (json_object_get(o, "in_parts"))
        join_record(o, list);
    json_decref(list);
    return take_record(path, lineno, ims, n, cap, damaged, o);
}

/* Every process image in one file, in start order.  Records carry the pid
 * of the process that wrote them; a header starts a new image of its pid
 * (the first of a new process, or the next after an exec).  Lines that are
 * not JSON are skipped and counted: a full disk can leave a record cut
 * short, ended by a newline before the next. */
int file_read(const char *path, struct run **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bad(path, 0, strerror(errno));
    struct image *ims = NULL;
    struct joins joins = {NULL, 0, 0};
    int n = 0, cap = 0, rc = -1;
    long lineno = 0, damaged = 0;
    char *line;
    long len;
    struct lines lr;
    lines_init(&lr, fd, MAX_LINE);

    while ((len = lines_next(&lr, &line)) > 0) {
        lineno++;
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            o = NULL;
            if (lineno == 1) {
                bad(path, 0, "not a perfprobe timeline (its first line is not a JSON header)");
                goto out;
            }
            /* damaged; a last line with no newline was cut short by the
             * end of the writer and is not counted */
            if (line[len - 1] != '\n')
                continue;
            damaged++;
            /* a record cut short by a kill, and the next record written
             * glued after it (a file `perfprobe run` did not mend): the
             * glued record is read, and the cut bytes too when only their
             * newline was lost */
            long at = line_resync(line, (size_t)len);
            if (at <= 0)
                continue;
            json_t *cut = json_loadb(line, (size_t)at, 0, &jerr);
            if (json_is_object(cut) && json_text_valid(line, (size_t)at)) {
                if (take_part(path, lineno, &ims, &n, &cap, &damaged, &joins, cut) < 0)
                    goto out;
            } else {
                json_decref(cut);
            }
            o = json_loadb(line + at, (size_t)(len - at), 0, &jerr);
        }
        if (take_part(path, lineno, &ims, &n, &cap, &damaged, &joins, o) < 0)
            goto out;
    }

    if (len == LINE_TOO_LONG) {
        bad(path, lineno + 1, "line longer than 16 MiB");
        goto out;
    }
    if (len == LINE_STOPPED) {
        bad(path, 0, "reading stopped by a signal");
        goto out;
    }
    if (len == LINE_ERROR) {
        bad(path, 0, strerror(errno));
        goto out;
    }
    if (lineno == 0 || n == 0) {
        bad(path, 0, "empty file, not a perfprobe timeline");
        goto out;
    }
    if (damaged)
        fprintf(stderr, "perfprobe: %s: %ld damaged line%s skipped\n", path, damaged,
                damaged == 1 ? "" : "s");
    struct run *runs = calloc((size_t)n, sizeof *runs);
    for (int k = 0; k < n; k++) {
        image_finish(&ims[k]);
        runs[k] = ims[k].run;
    }
    qsort(runs, (size_t)n, sizeof *runs, by_start);
    *out = runs;
    rc = n;
    n = 0;
out:
    for (int k = 0; k < joins.n; k++)
        json_decref(joins.w[k].list);
    free(joins.w);
    for (int k = 0; k < n; k++)
        run_free(&ims[k].run);
    free(ims);
    lines_free(&lr);
    close(fd);
    return rc;
}

/* ---- the main process -------------------------------------------------------- */

static double cpu_of(const struct run *r)
{
    return json_num(r->summary, "cpu_user_s", 0) + json_num(r->summary, "cpu_sys_s", 0);
}

static const char *name_of(const struct run *r)
{
    const char *p = json_string_value(json_object_get(r->header, "program"));
    return p ? p : "";
}

/* The last image of the process of runs[I] (the images of one pid joined
 * by exec), or -1 when I is. */
static int last_image(const struct run *runs, int n, int i)
{
    int best = i;
    for (int k = 0; i >= 0 && k < n; k++)
        if (runs[k].process == runs[i].process && runs[k].image >= runs[best].image)
            best = k;
    return best;
}

/* The first image of PID among the runs (a pid given again later is
 * another process: the first one is the tree's), or -1. */
static int first_of_pid(const struct run *runs, int n, long pid)
{
    for (int i = 0; i < n; i++)
        if (runs[i].pid == pid)
            return i;
    return -1;
}

/* The CPU time of the process of runs[I]: an image that exec'd carries the
 * running total into the next, so it is the largest of its images' figures
 * (the last's, normally), never their sum; tree.c counts it the same way. */
static double process_cpu(const struct run *runs, int n, int i)
{
    double c = 0;
    for (int k = 0; i >= 0 && k < n; k++)
        if (runs[k].process == runs[i].process && cpu_of(&runs[k]) > c)
            c = cpu_of(&runs[k]);
    return c;
}

int run_main(const struct run *runs, int n, const char *choice, const char **why)
{
    static char reason[256];
    if (n <= 0)
        return -1;
    if (choice && *choice) {
        char *end;
        long pid = strtol(choice, &end, 10);
        if (*end == 0 && end != choice) {
            *why = "chosen with --process";
            return last_image(runs, n, first_of_pid(runs, n, pid));
        }
        for (int i = 0; i < n; i++) {
            const char *exe = json_string_value(json_object_get(runs[i].header, "exe"));
            const char *base = exe ? strrchr(exe, '/') : NULL;
            if (!strcmp(name_of(&runs[i]), choice) || (base && !strcmp(base + 1, choice))) {
                *why = "chosen with --process";
                return last_image(runs, n, i);
            }
        }
        return -1;
    }
    /* the root: the process whose parent is not in the file */
    long root = runs[0].root_pid ? runs[0].root_pid : runs[0].pid;
    int root_i = first_of_pid(runs, n, root);
    int main_i = last_image(runs, n, root_i);
    if (main_i < 0)
        main_i = 0;
    *why = "the first process (its last image)";
    if (n == 1)
        return main_i;
    /* A wrapper that spawned its payload and waited did almost no work
     * itself: if the root used under 10% of the tree's CPU and one other
     * process used at least half of it, that process is the main one. */
    double total = 0, best = -1;
    int best_i = -1;
    for (int i = 0; i < n; i++) {
        if (last_image(runs, n, i) != i)
            continue;                  /* each process once, by its last image */
        double c = process_cpu(runs, n, i);
        total += c;
        if ((root_i < 0 || runs[i].process != runs[root_i].process) && c > best) {
            best = c;
            best_i = i;
        }
    }
    double root_cpu = process_cpu(runs, n, root_i);
    if (best_i >= 0 && total > 0 && root_cpu < 0.1 * total && best >= 0.5 * total) {
        snprintf(reason, sizeof reason,
                 "pid %ld used %.0f%% of the tree's CPU while the first process, a "
                 "wrapper, used %.0f%%", runs[best_i].pid, 100 * best / total,
                 100 * root_cpu / total);
        *why = reason;
        return best_i;
    }
    return main_i;
}

const char *run_process_choice;

int run_read(const char *path, struct run *r)
{
    struct run *runs;
    const char *why;
    memset(r, 0, sizeof *r);
    int n = file_read(path, &runs);
    if (n < 0)
        return -1;
    int m = run_main(runs, n, run_process_choice, &why);
    if (m < 0) {
        for (int k = 0; k < n; k++)
            run_free(&runs[k]);
        free(runs);
        return bad(path, 0, "no process matches --process");
    }
    json_t *tree = tree_build(runs, n, 0);
    *r = runs[m];
    r->tree = tree;
    r->processes = n;
    r->main_why = why;
    for (int k = 0; k < n; k++)
        if (k != m)
            run_free(&runs[k]);
    free(runs);
    return 0;
}

void run_free(struct run *r)
{
    free(r->path);
    json_decref(r->header);
    json_decref(r->summary);
    json_decref(r->probes);
    json_decref(r->regions);
    json_decref(r->counters);
    json_decref(r->signal);
    json_decref(r->samples);
    json_decref(r->region_windows);
    json_decref(r->site_records);
    json_decref(r->gaps);
    json_decref(r->exec);
    json_decref(r->untraced);
    json_decref(r->table);
    json_decref(r->tree);
    json_decref(r->inexact);
    memset(r, 0, sizeof *r);
}

/* ---- several files ------------------------------------------------------------ */

static int add_path(const char *p, char ***list, int *n, int *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *list = realloc(*list, (size_t)*cap * sizeof **list);
    }
    (*list)[(*n)++] = strdup(p);
    return 0;
}

int runs_read(int n, char **paths, struct run **out)
{
    char **files = NULL;
    int nf = 0, cap = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(paths[i]);
            struct dirent *e;
            int found = 0;
            while (d && (e = readdir(d))) {
                size_t l = strlen(e->d_name);
                if (l > 6 && !strcmp(e->d_name + l - 6, ".jsonl")) {
                    char full[4096];
                    snprintf(full, sizeof full, "%s/%s", paths[i], e->d_name);
                    add_path(full, &files, &nf, &cap);
                    found++;
                }
            }
            if (d)
                closedir(d);
            if (!found) {
                error("%s: no .jsonl timeline files in this directory", paths[i]);
                return -1;
            }
        } else {
            add_path(paths[i], &files, &nf, &cap);
        }
    }
    struct run *runs = NULL;
    int ok = 0, failed = 0;
    for (int i = 0; i < nf && !failed; i++) {
        struct run *part;
        int k = file_read(files[i], &part);
        if (k < 0) {
            failed = 1;
            break;
        }
        runs = realloc(runs, (size_t)(ok + k) * sizeof *runs);
        memcpy(runs + ok, part, (size_t)k * sizeof *runs);
        free(part);
        ok += k;
    }
    for (int i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    if (failed) {
        for (int j = 0; j < ok; j++)
            run_free(&runs[j]);
        free(runs);
        return -1;
    }
    if (nf > 1)
        qsort(runs, (size_t)ok, sizeof *runs, by_start);
    *out = runs;
    return ok;
}

/* The timeline path of run K of a repeat: "out.jsonl" -> "out.run3.jsonl". */
void run_path(char *out, size_t n, const char *base, int k)
{
    size_t l = strlen(base);
    if (l > 6 && !strcmp(base + l - 6, ".jsonl"))
        snprintf(out, n, "%.*s.run%d.jsonl", (int)(l - 6), base, k);
    else
        snprintf(out, n, "%s.run%d.jsonl", base, k);
}
