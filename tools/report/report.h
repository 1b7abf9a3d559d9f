/*
 * report.h - the commands that print runs as tables (tools/report/).
 *
 *   report.c   `perfprobe report`: runs as text, JSON, CSV or Markdown;
 *              a file that holds a process tree as the tree and its main
 *              process
 *   compare.c  `perfprobe diff` and `perfprobe check` (the CI gate)
 *   cpu.c      `report --cpu`, the "cpu" key of `report --json`, diff's CPU rows
 *
 * A floor above the reader (read/read.h) and under the front end
 * (perfprobe.c, run.c); it calls nothing in draw/ or export/.  compare.c
 * uses report.c (regions of a killed run, text columns), never the
 * other way.
 */
#ifndef PP_REPORT_H
#define PP_REPORT_H

#include "read/read.h"

/* ---- report.c ---------------------------------------------------------------- */

enum format { FMT_TEXT, FMT_JSON, FMT_CSV, FMT_MARKDOWN };
struct report_opts {
    const char *table;       /* one table only: summary, probes, regions, windows, samples */
    int samples, windows;    /* add the samples / per-window region rows */
    const char *from, *to;   /* --between: probe labels */
};

/* `perfprobe report [--json|--csv|--markdown] ... FILE|DIR...` */
int cmd_report(int argc, char **argv);
/* RUNS printed in FMT with the options O; an exit code */
int report_runs_with(FILE *f, struct run *runs, int n, enum format fmt,
                     const struct report_opts *o);
/* the same with no options */
void report_runs(FILE *f, struct run *runs, int n, enum format fmt);
/* report FILE: the tree, then the main process (every image with ALL) */
int tree_report(FILE *f, const char *path, enum format fmt, const struct report_opts *o, int all);
/* one run as the object of `report --json` */
json_t *run_to_json(const struct run *r);
/* S padded to WIDTH columns (UTF-8 aware), on the left when RIGHT */
void pad(FILE *f, const char *s, int width, int right);

/* ---- compare.c --------------------------------------------------------------- */

/* `perfprobe diff A B` */
int cmd_diff(int argc, char **argv);
/* `perfprobe check FILE [--max KEY=VALUE]... [--baseline B] ...` */
int cmd_check(int argc, char **argv);
/* "200M" for a _bytes key, "10us" for a _ns key, "0.5" ...; 0 on success */
int parse_limit(const char *key, const char *text, double *out);

/* ---- cpu.c: CPU samples (docs/cpu.md) --------------------------------------- */

/* `report --cpu`: the functions by self and total samples of each run;
 * REGION and FROM/TO (probe labels) may be NULL.  Returns an exit code. */
int cpu_report(FILE *f, struct run *runs, int n, const char *region, const char *from,
               const char *to);
/* the "cpu" key of `report --json` (NULL when the run has no CPU records) */
json_t *cpu_to_json(const struct run *r);
/* `diff`: CPU seconds by function in two runs, as text on F or as rows
 * appended to JSON_ROWS when not NULL */
void cpu_diff(FILE *f, const struct run *a, const struct run *b, json_t *json_rows,
              double noise);

#endif
