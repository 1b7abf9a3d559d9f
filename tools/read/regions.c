/*
 * regions.c - region statistics from the per-window "regions" records.
 *
 * The shim writes each region's histogram once per window; bucket counts
 * add, so windows merge exactly into the statistics of a phase (report
 * --between), of a killed run (which has no summary) or of the whole run.
 * report, diff, check and the OpenMetrics writer all read them from here.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    return json_num(o, k, NAN);
}

/* ---- regions from the per-window records ------------------------------------ */

/* The histogram layout of shim/region.c (docs/format.md): index i below
 * 128 is the value i; above, each power of two is split into 64 buckets. */
static double bucket_mid(long i)
{
    if (i < 128)
        return (double)i;
    long k = i - 128, e = k / 64 + 7, sub = k % 64;
    double width = ldexp(1.0, (int)e - 6);
    return ldexp(1.0, (int)e) + (double)sub * width + width / 2;
}

#define NBUCKETS (128 + 44 * 64)

struct merged {
    const char *name, *path;
    long depth;
    double count, total_ns, min_ns, max_ns, unit_ns;
    double *b;
    json_t *slowest;
};

/* Every window whose span (t0_s, t_s] overlaps (FROM, TO], merged per
 * region path; *COVER_FROM and *COVER_TO get the span the windows cover.
 * Returns an array of region objects like the summary's. */
json_t *regions_from_windows(const struct run *r, double from, double to, double *cover_from,
                             double *cover_to)
{
    struct merged *m = NULL;
    size_t nm = 0, i, j;
    json_t *w, *x;
    double c0 = INFINITY, c1 = -INFINITY;
    json_array_foreach(r->region_windows, i, w) {
        double t = num(w, "t_s"), t0 = json_num(w, "t0_s", t);
        if (isnan(t) || !(t > from && t0 < to))
            continue;
        c0 = fmin(c0, t0);
        c1 = fmax(c1, t);
        json_array_foreach(json_object_get(w, "regions"), j, x) {
            const char *path = json_string_value(json_object_get(x, "path"));
            if (!path)
                continue;
            size_t k;
            for (k = 0; k < nm && strcmp(m[k].path, path); k++)
                ;
            if (k == nm) {
                m = realloc(m, (nm + 1) * sizeof *m);
                memset(&m[k], 0, sizeof *m);
                m[k].path = path;
                m[k].name = json_string_value(json_object_get(x, "name"));
                m[k].depth = (long)json_num(x, "depth", 0);
                m[k].min_ns = INFINITY;
                m[k].b = calloc(NBUCKETS, sizeof *m[k].b);
                m[k].slowest = json_array();
                nm++;
            }
            struct merged *g = &m[k];
            g->count += json_num(x, "count", 0);
            g->total_ns += json_num(x, "total_ns", 0);
            g->min_ns = fmin(g->min_ns, json_num(x, "min_ns", INFINITY));
            g->max_ns = fmax(g->max_ns, json_num(x, "max_ns", 0));
            json_t *h = json_object_get(x, "hist"), *bk = json_object_get(h, "b");
            g->unit_ns = json_num(h, "unit_ns", g->unit_ns ? g->unit_ns : 1);
            for (size_t q = 0; q + 1 < json_array_size(bk); q += 2) {
                json_int_t idx = json_integer_value(json_array_get(bk, q));
                if (idx >= 0 && idx < NBUCKETS)
                    g->b[idx] += json_number_value(json_array_get(bk, q + 1));
            }
            size_t s;
            json_t *o;
            json_array_foreach(json_object_get(x, "slowest"), s, o)
                json_array_append(g->slowest, o);
        }
    }
    json_t *out = json_array();
    for (size_t k = 0; k < nm; k++) {
        struct merged *g = &m[k];
        double q[4] = {0.50, 0.90, 0.95, 0.99}, v[4];
        for (int p = 0; p < 4; p++) {
            double rank = ceil(q[p] * g->count - 1e-9), seen = 0;
            v[p] = g->max_ns;
            if (rank < 1)
                rank = 1;
            for (long b = 0; b < NBUCKETS; b++) {
                seen += g->b[b];
                if (seen >= rank) {
                    v[p] = fmin(fmax(bucket_mid(b) * g->unit_ns, g->min_ns), g->max_ns);
                    break;
                }
            }
        }
        /* the three slowest of all windows, slowest first */
        json_t *top = json_array();
        for (int t = 0; t < 3; t++) {
            size_t best = (size_t)-1, s;
            json_t *o;
            json_array_foreach(g->slowest, s, o)
                if (best == (size_t)-1 ||
                    num(o, "dur_ns") > num(json_array_get(g->slowest, best), "dur_ns"))
                    best = s;
            if (best == (size_t)-1)
                break;
            json_array_append(top, json_array_get(g->slowest, best));
            json_array_remove(g->slowest, best);
        }
        double span = (c1 - c0) > 0 ? c1 - c0 : NAN;
        json_array_append_new(out, json_pack(
            "{s:s, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:o}",
            "name", g->name ? g->name : "", "path", g->path, "depth", (json_int_t)g->depth,
            "count", g->count, "total_s", g->total_ns * 1e-9,
            "mean_ns", g->count ? g->total_ns / g->count : 0.0,
            "min_ns", isinf(g->min_ns) ? 0.0 : g->min_ns, "max_ns", g->max_ns,
            "p50_ns", v[0], "p90_ns", v[1], "p95_ns", v[2], "p99_ns", v[3],
            "per_s", isnan(span) ? 0.0 : g->count / span, "window_s", isnan(span) ? 0.0 : span,
            "slowest", top));
        free(g->b);
        json_decref(g->slowest);
    }
    free(m);
    if (cover_from)
        *cover_from = c0;
    if (cover_to)
        *cover_to = c1;
    return out;
}

/* A killed run has no summary, so no regions: merge every window it wrote. */
void run_fill_regions(struct run *r)
{
    if (json_array_size(r->regions) || !json_array_size(r->region_windows))
        return;
    json_decref(r->regions);
    r->regions = regions_from_windows(r, -INFINITY, INFINITY, NULL, NULL);
}
