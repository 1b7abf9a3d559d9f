/*
 * timeline_read.c - a timeline file (docs/format.md) into a struct run.
 *
 * Every line is parsed by jansson.  A file whose process was killed has no
 * summary: one is rebuilt from the samples (peak RSS from the kernel's
 * high-water marks, peak heap from the per-sample peaks, wall and CPU time
 * so far) and marked "complete": false.  A last line cut short by the kill
 * is dropped; any other damage is an input error: one line on stderr and
 * exit 2, whatever the bytes (empty file, random data, a 1 MB line, invalid
 * UTF-8, a format version this build does not know).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FORMAT_VERSION 1
#define MAX_LINE (16u << 20)

double json_num(json_t *o, const char *key, double dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}


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

int run_read(const char *path, struct run *r)
{
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (!f)
        return bad(path, 0, strerror(errno));
    r->path = strdup(path);
    r->probes = json_array();
    r->counters = json_array();
    r->samples = json_array();
    r->region_windows = json_array();
    r->site_records = json_array();
    struct rebuild rb = {0};
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    ssize_t len;
    int rc = -1;

    while ((len = getdelim(&line, &cap, '\n', f)) > 0) {
        lineno++;
        int last = line[len - 1] != '\n';
        if ((size_t)len > MAX_LINE) {
            bad(path, lineno, "line longer than 16 MiB");
            goto out;
        }
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            if (last && lineno > 1)
                break;                   /* cut short when the process died */
            if (lineno == 1) {
                bad(path, 0, "not a perfprobe timeline (its first line is not a JSON header)");
                goto out;
            }
            char msg[300];
            snprintf(msg, sizeof msg, "not valid JSON: %s", o ? "not an object" : jerr.text);
            bad(path, lineno, msg);
            goto out;
        }
        const char *type = json_string_value(json_object_get(o, "type"));
        if (lineno == 1) {
            const char *fmtname = json_string_value(json_object_get(o, "format"));
            if (!type || strcmp(type, "header") || !fmtname ||
                strcmp(fmtname, "perfprobe-timeline")) {
                json_decref(o);
                bad(path, 0, "not a perfprobe timeline (no header line)");
                goto out;
            }
            json_int_t v = json_integer_value(json_object_get(o, "version"));
            if (v != FORMAT_VERSION) {
                char msg[160];
                json_decref(o);
                snprintf(msg, sizeof msg, "timeline format version %lld is not supported "
                         "(this perfprobe reads version %d)", (long long)v, FORMAT_VERSION);
                bad(path, 0, msg);
                goto out;
            }
            r->header = o;
            r->pid = (long)json_num(o, "pid", 0);
            r->ppid = (long)json_num(o, "ppid", 0);
            r->root_pid = (long)json_num(o, "root_pid", 0);
            continue;
        }
        double t = json_num(o, "t_s", -1);
        if (t > rb.t_s)
            rb.t_s = t;
        if (!type) {
            json_decref(o);
        } else if (!strcmp(type, "sample")) {
            rebuild_sample(&rb, o);
            json_array_append_new(r->samples, o);
        } else if (!strcmp(type, "regions")) {
            json_array_append_new(r->region_windows, o);
        } else if (!strcmp(type, "probe")) {
            json_array_append_new(r->probes, o);
        } else if (!strcmp(type, "module") || !strcmp(type, "stack") ||
                   !strcmp(type, "sites")) {
            json_array_append_new(r->site_records, o);
        } else if (!strcmp(type, "counter")) {
            json_array_append_new(r->counters, o);
        } else if (!strcmp(type, "signal")) {
            json_decref(r->signal);
            r->signal = o;
        } else if (!strcmp(type, "summary")) {
            json_decref(r->summary);
            r->summary = o;
        } else {
            json_decref(o);              /* a record type from a later version */
        }
    }
    if (ferror(f)) {
        bad(path, 0, strerror(errno));
        goto out;
    }
    if (lineno == 0) {
        bad(path, 0, "empty file, not a perfprobe timeline");
        goto out;
    }
    if (r->summary) {
        r->regions = json_incref(json_object_get(r->summary, "regions"));
        json_object_del(r->summary, "regions");
        json_object_del(r->summary, "type");
        json_object_set_new(r->summary, "complete", json_true());
    } else {
        r->summary = rebuild_summary(&rb);
        json_object_set_new(r->summary, "complete", json_false());
        if (r->signal)
            json_object_set(r->summary, "signal", json_object_get(r->signal, "signal"));
    }
    if (!json_is_array(r->regions)) {
        json_decref(r->regions);
        r->regions = json_array();
    }
    rc = 0;
out:
    free(line);
    fclose(f);
    if (rc)
        run_free(r);
    return rc;
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
    memset(r, 0, sizeof *r);
}

/* ---- several files ------------------------------------------------------------ */

static int by_pid(const void *a, const void *b)
{
    const struct run *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

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
    struct run *runs = calloc((size_t)nf, sizeof *runs);
    int ok = 0;
    for (int i = 0; i < nf; i++) {
        if (run_read(files[i], &runs[i]) < 0) {
            for (int j = 0; j < i; j++)
                run_free(&runs[j]);
            free(runs);
            runs = NULL;
            break;
        }
        ok++;
    }
    for (int i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    if (!runs)
        return -1;
    qsort(runs, (size_t)ok, sizeof *runs, by_pid);
    *out = runs;
    return ok;
}
