/*
 * cpu_pprof.c - `pprof --cpu FILE`: the CPU samples as a gzipped
 * profile.proto (sample types samples/count and cpu/nanoseconds), encoded
 * by hand, for `go tool pprof`, Pyroscope and speedscope.  The samples are
 * read by read/cpu.c.
 */
#define _GNU_SOURCE
#include "export/export.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ---- pprof --cpu: profile.proto, encoded by hand --------------------------- */

struct wire { unsigned char *p; size_t n, cap; };

static void wput(struct wire *w, const void *d, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 256;
        w->p = realloc(w->p, w->cap);
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void wvar(struct wire *w, uint64_t v)
{
    unsigned char t[10];
    int n = 0;
    for (;;) {
        t[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (!v)
            break;
        t[n++] |= 0x80;
    }
    wput(w, t, (size_t)n + 1);
}

static void wint(struct wire *w, int fieldno, int64_t v)      /* zero is left out */
{
    if (v) {
        wvar(w, (uint64_t)fieldno << 3);
        wvar(w, (uint64_t)v);
    }
}

static void wlen(struct wire *w, int fieldno, const void *d, size_t n)
{
    wvar(w, (uint64_t)fieldno << 3 | 2);
    wvar(w, n);
    wput(w, d, n);
}

static void wmsg(struct wire *w, int fieldno, struct wire *m)
{
    wlen(w, fieldno, m->p, m->n);
    m->n = 0;
}

struct strtab { json_t *index; struct wire w; };

static int64_t sid(struct strtab *s, const char *v)
{
    v = v ? v : "";
    json_t *i = json_object_get(s->index, v);
    if (i)
        return json_integer_value(i);
    int64_t n = (int64_t)json_object_size(s->index);
    json_object_set_new(s->index, v, json_integer(n));
    wlen(&s->w, 6, v, strlen(v));
    return n;
}

static void encode(const struct run *r, struct cprof *p, struct wire *out)
{
    struct strtab st = {json_object(), {0}};
    struct wire body = {0}, m = {0}, sub = {0}, locs = {0}, funcs = {0};
    sid(&st, "");
    wint(&m, 1, sid(&st, "samples"));
    wint(&m, 2, sid(&st, "count"));
    wmsg(&body, 1, &m);
    wint(&m, 1, sid(&st, "cpu"));
    wint(&m, 2, sid(&st, "nanoseconds"));
    wmsg(&body, 1, &m);
    /* mappings from the module records */
    json_t *o;
    size_t i;
    int nmap = 0;
    struct { uint64_t lo, hi; } *maps = NULL;
    json_array_foreach(r->site_records, i, o) {
        const char *type = json_string_value(json_object_get(o, "type"));
        if (!type || strcmp(type, "module"))
            continue;
        uint64_t lo = UINT64_MAX, hi = 0;
        size_t k;
        json_t *rg;
        json_array_foreach(json_object_get(o, "ranges"), k, rg) {
            uint64_t a = (uint64_t)json_number_value(json_array_get(rg, 0));
            uint64_t b = (uint64_t)json_number_value(json_array_get(rg, 1));
            lo = a < lo ? a : lo;
            hi = b > hi ? b : hi;
        }
        if (!hi)
            continue;
        maps = realloc(maps, (size_t)(nmap + 1) * sizeof *maps);
        maps[nmap].lo = lo;
        maps[nmap].hi = hi;
        nmap++;
        wint(&m, 1, nmap);
        wint(&m, 2, (int64_t)lo);
        wint(&m, 3, (int64_t)hi);
        wint(&m, 5, sid(&st, json_string_value(json_object_get(o, "path"))));
        wint(&m, 6, sid(&st, json_string_value(json_object_get(o, "build_id"))));
        wint(&m, 7, 1);
        wint(&m, 8, 1);
        wmsg(&body, 3, &m);
    }
    json_t *lidx = json_object(), *fidx = json_object();
    for (int k = 0; k < p->n; k++) {
        struct cstack *s = &p->v[k];
        if (s->samples <= 0)
            continue;
        struct wire sample = {0};
        for (int f = 0; f < s->n;) {
            uint64_t addr = s->frames[f].addr;
            int g = f + 1;
            while (g < s->n && s->frames[g].addr == addr && s->frames[g - 1].inlined)
                g++;
            char key[64];
            snprintf(key, sizeof key, "%llx/%s", (unsigned long long)addr, s->frames[f].fn);
            json_t *lid = json_object_get(lidx, key);
            if (!lid) {
                lid = json_integer((json_int_t)json_object_size(lidx) + 1);
                json_object_set_new(lidx, key, lid);
                wint(&m, 1, json_integer_value(lid));
                int mid = 0;
                for (int q = 0; q < nmap; q++)
                    if (addr - 1 >= maps[q].lo && addr - 1 < maps[q].hi)
                        mid = q + 1;
                wint(&m, 2, mid);
                wint(&m, 3, (int64_t)addr);
                for (int h = f; h < g; h++) {
                    char fk[1024];
                    snprintf(fk, sizeof fk, "%s\t%s", s->frames[h].fn,
                             s->frames[h].file ? s->frames[h].file : "");
                    json_t *fid = json_object_get(fidx, fk);
                    if (!fid) {
                        fid = json_integer((json_int_t)json_object_size(fidx) + 1);
                        json_object_set_new(fidx, fk, fid);
                        wint(&sub, 1, json_integer_value(fid));
                        wint(&sub, 2, sid(&st, s->frames[h].fn));
                        wint(&sub, 3, sid(&st, s->frames[h].fn));
                        wint(&sub, 4, sid(&st, s->frames[h].file));
                        wmsg(&funcs, 5, &sub);
                    }
                    wint(&sub, 1, json_integer_value(fid));
                    wint(&sub, 2, s->frames[h].line);
                    wmsg(&m, 4, &sub);
                }
                wmsg(&locs, 4, &m);
            }
            wvar(&sample, 1 << 3);
            wvar(&sample, (uint64_t)json_integer_value(lid));
            f = g;
        }
        wvar(&sample, 2 << 3);
        wvar(&sample, (uint64_t)(s->samples + 0.5));
        wvar(&sample, 2 << 3);
        wvar(&sample, (uint64_t)(s->samples * p->period_ns + 0.5));
        wmsg(&body, 2, &sample);
        free(sample.p);
    }
    wput(&body, locs.p, locs.n);
    wput(&body, funcs.p, funcs.n);
    wint(&m, 1, sid(&st, "cpu"));
    wint(&m, 2, sid(&st, "nanoseconds"));
    wmsg(&body, 11, &m);                        /* period_type */
    wint(&body, 12, (int64_t)p->period_ns);     /* period */
    wint(&body, 9, (int64_t)(json_num(r->header, "start_unix_s", 0) * 1e9));
    wput(out, st.w.p, st.w.n);
    wput(out, body.p, body.n);
    free(st.w.p);
    free(body.p);
    free(m.p);
    free(sub.p);
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
    struct run *runs;
    int nr = cpu_read_one(file, &runs);
    if (nr < 0) {
        free(def);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK, done = 0;
    struct wire w = {0};
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
        gzFile gz = gzopen(out, "wb");
        if (!gz || gzwrite(gz, w.p, (unsigned)w.n) != (int)w.n || gzclose(gz) != Z_OK)
            rc = error("pprof: %s: cannot write", out);
    }
    free(w.p);
    free(def);
    cpu_runs_free(runs, nr);
    return rc;
}
