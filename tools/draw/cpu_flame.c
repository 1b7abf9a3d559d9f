/*
 * cpu_flame.c - `flame --cpu FILE`: the CPU samples as folded stacks (one
 * line per stack, outermost frame first, its samples as the value), for
 * flamegraph.pl, speedscope and inferno.  The samples are read by
 * read/cpu.c.
 */
#define _GNU_SOURCE
#include "draw/draw.h"

#include <stdlib.h>
#include <string.h>

/* ---- flame --cpu ----------------------------------------------------------- */

static void fold_name(FILE *f, const char *s)
{
    for (; *s; s++)
        fputc(*s == ';' || *s == ' ' || *s == '\n' ? '_' : *s, f);
}




/* `flame --cpu FILE`: one line per stack, outermost first, value samples */
int cpu_flame(int argc, char **argv)
{
    const char *out = NULL, *file = NULL;
    struct cfilter fl = {0};
    if (cpu_args(argc, argv, "flame", &out, &file, &fl))
        return EXIT_USAGE;
    if (outfile_is_input("flame", out, 1, (char **)&file))
        return EXIT_USAGE;
    struct run *runs;
    int nr = cpu_read_one(file, &runs);
    if (nr < 0)
        return EXIT_USAGE;
    struct outfile of;
    FILE *f = outfile_is_run("flame", out, runs, nr) ? NULL : outfile_open(&of, "flame", out);
    if (!f) {
        cpu_runs_free(runs, nr);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK, any = 0;
    for (int r = 0; r < nr && rc == EXIT_OK; r++) {
        struct cprof p;
        int got = cprof_load(&runs[r], &fl, &p);
        if (got < 0)
            rc = EXIT_USAGE;
        if (got <= 0)
            continue;
        for (int i = 0; i < p.n; i++) {
            struct cstack *s = &p.v[i];
            if (s->samples <= 0)
                continue;
            any = 1;
            if (nr > 1)
                fprintf(f, "pid %ld;", runs[r].pid);
            for (int k = s->n; k-- > 0;) {
                if (s->frames[k].python && s->frames[k].file) {
                    /* "file.py:function:line", as flame's allocation stacks */
                    const char *path = s->frames[k].file;
                    fold_name(f, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
                    fputc(':', f);
                    fold_name(f, s->frames[k].fn);
                    fprintf(f, ":%d", s->frames[k].line);
                } else {
                    fold_name(f, s->frames[k].fn);
                }
                if (k)
                    fputc(';', f);
            }
            fprintf(f, " %.0f\n", s->samples);
        }
        cprof_free(&p);
    }
    if (rc == EXIT_OK && !any)
        rc = error("flame --cpu: %s: no CPU samples recorded", file);
    if (rc == EXIT_OK)
        rc = outfile_commit(&of);
    else
        outfile_abort(&of);
    cpu_runs_free(runs, nr);
    return rc;
}
