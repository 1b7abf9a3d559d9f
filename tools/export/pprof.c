/*
 * pprof.c - `perfprobe pprof`: allocation sites as a gzip'd profile.proto,
 * the format of pprof, Pyroscope, Parca, Perfetto's UI and speedscope.
 *
 * The heap-profile convention: four sample types, alloc_objects/count,
 * alloc_space/bytes, inuse_objects/count and inuse_space/bytes (the default),
 * one sample per site, one location per return address (with a line per
 * inlined call, innermost first), one function per name and file, one
 * mapping per module with its build id.  "In use" is live at exit (the
 * leaks), at the heap peak, or at a probe (--at).
 *
 * The messages are few and flat, so they are encoded here by hand from the
 * published schema (github.com/google/pprof, proto/profile.proto):
 * varints and length-delimited fields, repeated fields unpacked (which every
 * protobuf reader accepts); the result is compressed with zlib.
 */
#define _GNU_SOURCE
#include "export/export.h"
#include "export/pb.h"

#include <stdlib.h>
#include <string.h>

/* ---- the profile ------------------------------------------------------------ */

static const char pprof_usage[] =
    "usage: perfprobe pprof [--at exit|peak|PROBE] [-o OUT.pb.gz] FILE\n"
    "\n"
    "Writes the allocation sites of FILE as a gzip'd pprof profile (heap\n"
    "convention: alloc_objects, alloc_space, inuse_objects, inuse_space).\n"
    "In use means live at exit (default), at the heap peak, or at the first\n"
    "probe labelled PROBE.  OUT defaults to FILE with .pb.gz for .jsonl.\n";

static uint64_t find_mapping(json_t *mods, uint64_t addr)
{
    size_t i;
    json_t *m;
    uint64_t found = 0;
    json_array_foreach(mods, i, m) {
        if (addr >= (uint64_t)json_num(m, "lo", 0) && addr < (uint64_t)json_num(m, "hi", 0))
            found = i + 1;
    }
    return found;
}

/* the end of the frames of one return address: an address inside inlined
 * code has a frame per inlined call, the last one not marked inlined */
static void encode(const struct run *r, struct sites *s, int at_peak, int at_probe, struct pb *out)
{
    struct pb_strings st = {json_object(), {0}};
    struct pb tmp = {0}, body = {0};
    pb_str(&st, "");
    static const char *const types[][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                           {"inuse_objects", "count"}, {"inuse_space", "bytes"},
                                           {"resident_space", "bytes"}};
    for (int k = 0; k < 5; k++) {
        pb_field(&tmp, 1, pb_str(&st, types[k][0]));
        pb_field(&tmp, 2, pb_str(&st, types[k][1]));
        pb_message(&body, 1, &tmp);               /* sample_type */
    }
    /* mappings: the module records */
    json_t *mods = json_array(), *o;
    size_t i;
    json_array_foreach(r->site_records, i, o) {
        uint64_t lo, hi;
        if (!module_extent(o, &lo, &hi) || !hi)
            continue;
        json_array_append_new(mods, json_pack("{s:f, s:f}", "lo", (double)lo, "hi", (double)hi));
        pb_field(&tmp, 1, (int64_t)json_array_size(mods));
        pb_field(&tmp, 2, (int64_t)lo);
        pb_field(&tmp, 3, (int64_t)hi);
        pb_field(&tmp, 5, pb_str(&st, json_string_value(json_object_get(o, "path"))));
        pb_field(&tmp, 6, pb_str(&st, json_string_value(json_object_get(o, "build_id"))));
        pb_field(&tmp, 7, 1);                     /* has_functions */
        pb_field(&tmp, 8, 1);
        pb_field(&tmp, 9, 1);
        pb_field(&tmp, 10, 1);
        pb_message(&body, 3, &tmp);
    }
    /* functions and locations, one location per distinct return address */
    json_t *funcs = json_object(), *locs = json_object();
    struct pb fbody = {0}, lbody = {0};
    for (int k = 0; k < s->n; k++) {
        struct site *x = &s->v[k];
        for (int f = 0; f < x->nframes;) {
            uint64_t addr = x->frames[f].addr;
            int g = pb_frame_group(x->frames, x->nframes, f);
            char key[32];
            snprintf(key, sizeof key, "%llx", (unsigned long long)addr);
            if (!json_object_get(locs, key)) {
                int64_t lid = (int64_t)json_object_size(locs) + 1;
                json_object_set_new(locs, key, json_integer(lid));
                pb_location(&lbody, &fbody, funcs, &st, lid, find_mapping(mods, addr ? addr - 1 : 0),
                            addr, &x->frames[f], g - f);
            }
            f = g;
        }
        /* the sample */
        double live_n = at_peak ? x->peak_blocks : at_probe ? x->n0 : x->live_blocks;
        double live_b = at_peak ? x->peak_bytes : at_probe ? x->v0 : x->live_bytes;
        double alloc_n = at_probe ? x->c0 : x->allocs, alloc_b = at_probe ? x->a0 : x->alloc_bytes;
        if (live_b <= 0 && alloc_b <= 0)
            continue;
        for (int f = 0; f < x->nframes;) {
            char key[32];
            uint64_t addr = x->frames[f].addr;
            snprintf(key, sizeof key, "%llx", (unsigned long long)addr);
            pb_varint(&tmp, 1 << 3);
            pb_varint(&tmp, (uint64_t)json_integer_value(json_object_get(locs, key)));
            f = pb_frame_group(x->frames, x->nframes, f);
        }
        /* resident: of the live bytes (unknown at a probe, or not scanned: 0) */
        double res_b = at_peak ? x->peak_resident : at_probe ? -1 : x->resident;
        int64_t v[5] = {(int64_t)(alloc_n + 0.5), (int64_t)(alloc_b + 0.5), (int64_t)(live_n + 0.5),
                        (int64_t)(live_b + 0.5), res_b > 0 ? (int64_t)(res_b + 0.5) : 0};
        for (int q = 0; q < 5; q++) {            /* values: zero is written too */
            pb_varint(&tmp, 2 << 3);
            pb_varint(&tmp, (uint64_t)v[q]);
        }
        pb_message(&body, 2, &tmp);
    }
    pb_put(&body, lbody.p, lbody.n);
    pb_put(&body, fbody.p, fbody.n);
    /* period_type and period: one sample every sample_bytes */
    pb_field(&tmp, 1, pb_str(&st, "space"));
    pb_field(&tmp, 2, pb_str(&st, "bytes"));
    pb_message(&body, 11, &tmp);
    pb_field(&body, 12, s->estimated ? (int64_t)s->sample_bytes : 1);
    pb_field(&body, 9, (int64_t)(json_num(r->header, "start_unix_s", 0) * 1e9));
    pb_field(&body, 14, 4);                        /* default_sample_type: inuse_space */
    pb_put(out, st.out.p, st.out.n);
    pb_put(out, body.p, body.n);
    free(tmp.p);
    free(body.p);
    free(lbody.p);
    free(fbody.p);
    free(st.out.p);
    json_decref(st.index);
    json_decref(mods);
    json_decref(funcs);
    json_decref(locs);
}

int cmd_pprof(int argc, char **argv)
{
    const char *at = "exit", *out = NULL, *file = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--cpu"))
            return cpu_pprof(argc, argv);        /* cpu_pprof.c */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--at") && i + 1 < argc) {
            at = argv[++i];
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(pprof_usage, stdout);
            return EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fputs(pprof_usage, stderr);
            return error("pprof: unknown option '%s'", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            fputs(pprof_usage, stderr);
            return error("pprof: one FILE only");
        }
    }
    if (!file) {
        fputs(pprof_usage, stderr);
        return error("pprof: no FILE");
    }
    char *def = NULL;
    if (!out) {
        size_t n = strlen(file);
        if (asprintf(&def, "%.*s.pb.gz", (int)(ends_with(file, ".jsonl") ? n - 6 : n), file) < 0)
            return error("pprof: out of memory");
        out = def;
    }
    if (outfile_is_input("pprof", out, 1, (char **)&file)) {
        free(def);
        return EXIT_USAGE;
    }
    struct run *runs;
    int nr = runs_read(1, (char **)&file, &runs);
    if (nr >= 0 && outfile_is_run("pprof", out, runs, nr)) {
        for (int i = 0; i < nr; i++)
            run_free(&runs[i]);
        free(runs);
        nr = -1;
    }
    if (nr < 0) {
        free(def);
        return EXIT_USAGE;
    }
    int peak = !strcmp(at, "peak"), probe = !peak && strcmp(at, "exit");
    int rc = EXIT_OK, done = 0;
    struct pb pbuf = {0};
    /* the first process image that has sites (a profile is one process) */
    for (int r = 0; r < nr && !done && rc == EXIT_OK; r++) {
        struct sites s;
        int got = sites_load(&runs[r], &s, probe ? at : NULL, NULL);
        if (got < 0)
            rc = EXIT_USAGE;
        if (got <= 0)
            continue;
        /* killed before any probe: only the live-at-peak view is there */
        int pk = peak || (!s.has_final && !probe);
        if (!s.complete)
            sites_killed_note(stderr, pk && !peak ? "pprof: --at peak " : "pprof: ", &runs[r], &s);
        encode(&runs[r], &s, pk, probe, &pbuf);
        sites_free(&s);
        done = 1;
    }
    if (rc == EXIT_OK && !done)
        rc = error("pprof: %s: no allocation sites recorded", file);
    if (rc == EXIT_OK) {
        rc = pb_write_gz("pprof", out, &pbuf);
    }
    free(pbuf.p);
    free(def);
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}
