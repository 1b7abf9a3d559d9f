/*
 * flame.c - `perfprobe flame`: allocation sites as folded stacks, the input
 * of flamegraph.pl, inferno and speedscope.
 *
 * One line per site, outermost function first: `main;parse;malloc 12345`.
 * The value is the site's allocated bytes (--by alloc, the default), its
 * live bytes at the last record (--by live), at the heap peak (--by peak),
 * or its bytes never freed at exit (--by leaked).  Sites summed in the
 * shim's "rest" row become one `(other sites)` line, so that the totals
 * match `report --sites`.  Inlined calls are frames of their own.
 */
#define _GNU_SOURCE
#include "draw/draw.h"

#include <stdlib.h>
#include <string.h>

static const char flame_usage[] =
    "usage: perfprobe flame [--by alloc|live|peak|leaked|resident] [-o OUT.folded] FILE\n"
    "\n"
    "Writes the allocation sites of FILE as folded stacks (one line per site:\n"
    "frames outermost first, separated by ';', then the value in bytes).\n";

static void fold_name(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == ';' || *s == ' ' || *s == '\n' ? '_' : *s, f);
}

int cmd_flame(int argc, char **argv)
{
    const char *by = "alloc", *out = NULL, *file = NULL;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--cpu"))
            return cpu_flame(argc, argv);        /* cpu_flame.c */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--by") && i + 1 < argc) {
            by = argv[++i];
        } else if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(flame_usage, stdout);
            return EXIT_OK;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fputs(flame_usage, stderr);
            return error("flame: unknown option '%s'", argv[i]);
        } else if (!file) {
            file = argv[i];
        } else {
            fputs(flame_usage, stderr);
            return error("flame: one FILE only");
        }
    }
    int metric = !strcmp(by, "alloc") ? 0 : !strcmp(by, "live") ? 1 : !strcmp(by, "peak") ? 2
                 : !strcmp(by, "leaked") ? 3 : !strcmp(by, "resident") ? 4 : -1;
    if (metric < 0)
        return error("flame: --by %s: not alloc, live, peak, leaked or resident", by);
    if (!file) {
        fputs(flame_usage, stderr);
        return error("flame: no FILE");
    }
    if (outfile_is_input("flame", out, 1, (char **)&file))
        return EXIT_USAGE;
    struct run *runs;
    int nr = runs_read(1, (char **)&file, &runs);
    if (nr < 0)
        return EXIT_USAGE;
    struct outfile of;
    FILE *f = outfile_is_run("flame", out, runs, nr) ? NULL : outfile_open(&of, "flame", out);
    if (!f) {
        for (int i = 0; i < nr; i++)
            run_free(&runs[i]);
        free(runs);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK, any = 0;
    for (int r = 0; r < nr; r++) {
        struct sites s;
        if (sites_load(&runs[r], &s, NULL, NULL) <= 0)
            continue;
        if (metric == 3 && !s.complete) {
            sites_free(&s);
            continue;
        }
        any = 1;
        /* killed before any probe: only the live-at-peak view is there */
        int m = !s.has_final && metric < 2 ? 2 : metric;
        if (!s.complete) {
            char pre[64];
            snprintf(pre, sizeof pre, "flame: pid %ld: %s", runs[r].pid,
                     m != metric ? "--by peak " : "");
            sites_killed_note(stderr, pre, &runs[r], &s);
        }
        for (int i = 0; i < s.n; i++) {
            struct site *x = &s.v[i];
            double v = m == 0 ? x->alloc_bytes : m == 2 ? x->peak_bytes
                       : m == 4 ? (s.has_final ? x->resident : x->peak_resident) : x->live_bytes;
            if (v < 0.5)
                continue;
            if (nr > 1)
                fprintf(f, "pid %ld;", runs[r].pid);
            for (int k = x->nframes; k-- > 0;) {
                if (x->frames[k].python) {   /* "file.py:function:line" */
                    const char *fl = x->frames[k].file ? x->frames[k].file : "?";
                    fold_name(f, strrchr(fl, '/') ? strrchr(fl, '/') + 1 : fl);
                    fputc(':', f);
                    fold_name(f, x->frames[k].fn);
                    fprintf(f, ":%d", x->frames[k].line);
                } else {
                    fold_name(f, x->frames[k].fn);
                }
                if (k)
                    fputc(';', f);
            }
            fprintf(f, " %.0f\n", v);
        }
        double rest = m == 4 ? 0 : m == 0 ? s.rest.alloc_bytes : m == 2 ? s.rest.peak_bytes
                                                                     : s.rest.live_bytes;
        if (rest >= 0.5)
            fprintf(f, "%s(other sites) %.0f\n", nr > 1 ? "pid;" : "", rest);
        sites_free(&s);
    }
    if (!any)
        rc = error("flame: %s: no allocation sites recorded%s", file,
                   metric == 3 ? " at a normal exit" : "");
    if (rc == EXIT_OK)
        rc = outfile_commit(&of);
    else
        outfile_abort(&of);
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}
