/*
 * cpu_pprof.c - `pprof --cpu FILE`: the CPU samples as a gzipped
 * profile.proto (sample types samples/count and cpu/nanoseconds), encoded
 * by hand, for `go tool pprof`, Pyroscope and speedscope.  The samples are
 * read by read/cpu.c.
 */
#define _GNU_SOURCE
#include "export/export.h"
#include "export/pb.h"

#include <stdlib.h>
#include <string.h>

/* ---- pprof --cpu: profile.proto, encoded by hand --------------------------- */

static void encode(const struct run *r, struct cprof *p, struct pb *out)
{
    struct pb_strings st = {json_object(), {0}};
    struct pb body = {0}, m = {0}, locs = {0}, funcs = {0};
    pb_str(&st, "");
    pb_field(&m, 1, pb_str(&st, "samples"));
    pb_field(&m, 2, pb_str(&st, "count"));
    pb_message(&body, 1, &m);
    pb_field(&m, 1, pb_str(&st, "cpu"));
    pb_field(&m, 2, pb_str(&st, "nanoseconds"));
    pb_message(&body, 1, &m);
    /* mappings from the module records */
    json_t *o;
    size_t i;
    int nmap = 0;
    struct { uint64_t lo, hi; } *maps = NULL;
    json_array_foreach(r->site_records, i, o) {
        uint64_t lo, hi;
        if (!module_extent(o, &lo, &hi) || !hi)
            continue;
        maps = realloc(maps, (size_t)(nmap + 1) * sizeof *maps);
        maps[nmap].lo = lo;
        maps[nmap].hi = hi;
        nmap++;
        pb_field(&m, 1, nmap);
        pb_field(&m, 2, (int64_t)lo);
        pb_field(&m, 3, (int64_t)hi);
        pb_field(&m, 5, pb_str(&st, json_string_value(json_object_get(o, "path"))));
        pb_field(&m, 6, pb_str(&st, json_string_value(json_object_get(o, "build_id"))));
        pb_field(&m, 7, 1);
        pb_field(&m, 8, 1);
        pb_message(&body, 3, &m);
    }
    json_t *lidx = json_object(), *fidx = json_object();
    for (int k = 0; k < p->n; k++) {
        struct cstack *s = &p->v[k];
        if (s->samples <= 0)
            continue;
        struct pb sample = {0};
        for (int f = 0; f < s->n;) {
            uint64_t addr = s->frames[f].addr;
            int g = pb_frame_group(s->frames, s->n, f);
            char key[64];
            snprintf(key, sizeof key, "%llx/%s", (unsigned long long)addr, s->frames[f].fn);
            json_t *lid = json_object_get(lidx, key);
            if (!lid) {
                lid = json_integer((json_int_t)json_object_size(lidx) + 1);
                json_object_set_new(lidx, key, lid);
                int mid = 0;
                for (int q = 0; q < nmap; q++)
                    if (addr - 1 >= maps[q].lo && addr - 1 < maps[q].hi)
                        mid = q + 1;
                pb_location(&locs, &funcs, fidx, &st, json_integer_value(lid), mid, addr,
                            &s->frames[f], g - f);
            }
            pb_varint(&sample, 1 << 3);
            pb_varint(&sample, (uint64_t)json_integer_value(lid));
            f = g;
        }
        pb_varint(&sample, 2 << 3);
        pb_varint(&sample, (uint64_t)(s->samples + 0.5));
        pb_varint(&sample, 2 << 3);
        pb_varint(&sample, (uint64_t)(s->samples * p->period_ns + 0.5));
        pb_message(&body, 2, &sample);
        free(sample.p);
    }
    pb_put(&body, locs.p, locs.n);
    pb_put(&body, funcs.p, funcs.n);
    pb_field(&m, 1, pb_str(&st, "cpu"));
    pb_field(&m, 2, pb_str(&st, "nanoseconds"));
    pb_message(&body, 11, &m);                        /* period_type */
    pb_field(&body, 12, (int64_t)p->period_ns);     /* period */
    pb_field(&body, 9, (int64_t)(json_num(r->header, "start_unix_s", 0) * 1e9));
    pb_put(out, st.out.p, st.out.n);
    pb_put(out, body.p, body.n);
    free(st.out.p);
    free(body.p);
    free(m.p);
    free(locs.p);
    free(funcs.p);
    free(maps);
    json_decref(st.index);
    json_decref(lidx);
    json_decref(fidx);
}

/* `pprof --cpu [-o OUT] FILE`: the first process image with CPU samples */
int cpu_pprof(int argc, char **argv)
{
    const char *out = NULL, *file = NULL;
    struct cfilter fl = {0};
    if (cpu_args(argc, argv, "pprof", &out, &file, &fl))
        return EXIT_USAGE;
    char *def = NULL;
    if (!out) {
        size_t n = strlen(file);
        if (asprintf(&def, "%.*s.cpu.pb.gz", (int)(ends_with(file, ".jsonl") ? n - 6 : n),
                     file) < 0)
            return error("pprof: out of memory");
        out = def;
    }
    if (outfile_is_input("pprof", out, 1, (char **)&file)) {
        free(def);
        return EXIT_USAGE;
    }
    struct run *runs;
    int nr = cpu_read_one(file, &runs);
    if (nr >= 0 && outfile_is_run("pprof", out, runs, nr)) {
        cpu_runs_free(runs, nr);
        nr = -1;
    }
    if (nr < 0) {
        free(def);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK, done = 0;
    struct pb w = {0};
    for (int r = 0; r < nr && !done && rc == EXIT_OK; r++) {
        struct cprof p;
        int got = cprof_load(&runs[r], &fl, &p);
        if (got < 0)
            rc = EXIT_USAGE;
        if (got > 0 && p.samples > 0) {
            encode(&runs[r], &p, &w);
            done = 1;
        }
        if (got > 0)
            cprof_free(&p);
    }
    if (rc == EXIT_OK && !done)
        rc = error("pprof --cpu: %s: no CPU samples recorded", file);
    if (rc == EXIT_OK) {
        rc = pb_write_gz("pprof", out, &w);
    }
    free(w.p);
    free(def);
    cpu_runs_free(runs, nr);
    return rc;
}
