/*
 * cli.h - what the perfprobe command's files share.
 *
 * perfprobe.c holds main, the command table and `run`; timeline_read.c
 * turns a timeline file into a `struct run` (with jansson: input we did not
 * write is parsed by a well-kept library, never by hand); report.c prints
 * runs as text, JSON, CSV or Markdown; compare.c has `diff` and `check`.
 */
#ifndef PP_CLI_H
#define PP_CLI_H

#include <jansson.h>
#include <stdio.h>

/* exit codes */
enum { EXIT_OK = 0, EXIT_CHECK_FAILED = 1, EXIT_USAGE = 2 };

/* ---- perfprobe.c ----------------------------------------------------------- */

/* prints "perfprobe: ..." on stderr and returns EXIT_USAGE */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "CMD FILE... -o OUT": the count of files, or -1 with *rc set */
int files_and_output(int argc, char **argv, const char *cmd, const char *usage,
                     const char *out_what, char ***files, const char **out, int *rc);

/* ---- timeline_read.c ------------------------------------------------------- */

struct run {
    char   *path;
    json_t *header;      /* the header line */
    json_t *summary;     /* the summary line, or one rebuilt from the samples;
                            always has "complete" */
    json_t *probes;      /* array of probe records */
    json_t *regions;     /* array, from the summary (empty when incomplete) */
    json_t *counters;    /* array of counter records */
    json_t *signal;      /* the signal record, or NULL */
    json_t *samples;     /* array of sample records, in file order */
    json_t *region_windows; /* array of "regions" records (per-window region
                               statistics), in file order */
    json_t *site_records; /* module, stack and sites records (sites.c) */
    json_t *exec;        /* the exec record that ended the image, or NULL */
    json_t *table;       /* the exit table the shim wrote (PERFPROBE_TABLE), or NULL */
    json_t *tree;        /* run_read: the whole file's tree (tree_build) */
    const char *ended;   /* "exit", "exec", "signal" or "unknown" */
    long    pid, ppid, root_pid;
    int     image;       /* the pid's images before this one (execs) */
    int     processes;   /* run_read: how many images the file holds */
    const char *main_why; /* run_read: why this image is the main one */
};

/* a number field of a record, or dflt when missing or not a number */
double json_num(json_t *o, const char *key, double dflt);
int ends_with(const char *s, const char *suffix);

/* Read one timeline file: its main process image (run_main).  On error
 * prints one line and returns -1. */
int run_read(const char *path, struct run *out);
/* Every process image of one file, in start order; the count, or -1. */
int file_read(const char *path, struct run **out);
/* Which image is the main process: CHOICE (a pid or a program name, from
 * --process) or, with NULL, the first process's last image unless it is a
 * wrapper whose child did the work.  *WHY says how it was chosen. */
int run_main(const struct run *runs, int n, const char *choice, const char **why);
/* --process, for run_read (NULL: automatic) */
extern const char *run_process_choice;
void run_free(struct run *r);
/* Expand the arguments (files, or directories of *.jsonl) into runs, sorted
 * by pid.  Returns the count, or -1 after printing the error. */
int runs_read(int n, char **paths, struct run **out);

/* ---- report.c ---------------------------------------------------------------- */

enum format { FMT_TEXT, FMT_JSON, FMT_CSV, FMT_MARKDOWN };
void report_runs(FILE *f, struct run *runs, int n, enum format fmt);
json_t *run_to_json(const struct run *r);
/* S padded to WIDTH columns (UTF-8 aware), on the left when RIGHT */
void pad(FILE *f, const char *s, int width, int right);
/* "12.3 MiB", "1.234 s", "12.34 µs", "1234/s", "12.5%" by the key's unit */
void fmt_value(char *buf, size_t n, const char *key, double v);
/* what a key (or the field after its last dot) measures */
enum unit { U_COUNT, U_BYTES, U_NS, U_SECONDS, U_RATE, U_PCT };
enum unit key_unit(const char *key);
/* the shortest decimal that reads back as v; "" for NaN (CSV cells) */
void fmt_num_csv(char *buf, size_t n, double v);
struct report_opts {
    const char *table;       /* one table only: summary, probes, regions, windows, samples */
    int samples, windows;    /* add the samples / per-window region rows */
    const char *from, *to;   /* --between: probe labels */
};
int report_runs_with(FILE *f, struct run *runs, int n, enum format fmt,
                     const struct report_opts *o);
int cmd_report(int argc, char **argv);
/* region statistics merged from the per-window records that overlap
 * (from, to] seconds; the covered span in *cover_from, *cover_to */
json_t *regions_from_windows(const struct run *r, double from, double to,
                             double *cover_from, double *cover_to);
/* a run without summary regions (killed) gets them from its windows */
void run_fill_regions(struct run *r);

/* ---- compare.c --------------------------------------------------------------- */

int cmd_diff(int argc, char **argv);
int cmd_check(int argc, char **argv);
/* the value of KEY ("peak_rss_bytes", "probe.LABEL.FIELD",
 * "region.PATH.FIELD") in a run; 0 when there is no such value */
int run_value(const struct run *r, const char *key, double *out);
/* "200M" for a _bytes key, "10us" for a _ns key, "0.5" ...; 0 on success */
int parse_limit(const char *key, const char *text, double *out);

/* ---- sites.c: allocation sites (docs/sites.md) ------------------------------ */

/* `report --sites`: the top sites of each run as text; with BETWEEN0 and
 * BETWEEN1 (probe labels) the sites that grew between the two probes.
 * Returns an exit code. */
int sites_report(FILE *f, struct run *runs, int n, const char *between0, const char *between1);
/* the "sites" key of `report --json` (NULL when the run has none) */
json_t *sites_to_json(const struct run *r);
/* `diff`: the sites of two runs matched by their symbolised stacks, as text
 * on F, or as rows appended to JSON_ROWS when not NULL */
void sites_diff(FILE *f, const struct run *a, const struct run *b, json_t *json_rows,
                double noise);
int cmd_flame(int argc, char **argv);
int cmd_pprof(int argc, char **argv);

/* ---- plot.c, trace.c, scale.c, watch.c: pictures (see draw.h) ---------------- */

int cmd_plot(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_scale(int argc, char **argv);
int cmd_watch(int argc, char **argv);
/* The live view of `run --live`: follows the timeline of process CHILD
 * (written to PATTERN as in PERFPROBE_OUTPUT, or the default name when
 * NULL) until it exits; returns its wait status. */
int watch_child(int child, const char *pattern);

/* ---- tree.c ---------------------------------------------------------------------- */

/* The processes of a run (images of one pid joined) and the totals: CPU,
 * the combined RSS over time and its peak ("rss" series WITH_SERIES). */
json_t *tree_build(const struct run *runs, int n, int with_series);
void tree_print(FILE *f, json_t *tree, long main_pid, const char *why, int max_lines);
/* report FILE: the tree, then the main process (every image with ALL) */
int tree_report(FILE *f, const char *path, enum format fmt, const struct report_opts *o, int all);
/* after `run`: the main process's exit table and a line per other process */
void tree_exit_table(const char *path);
/* killed.c: the OOM killer's count in this cgroup (-1: none to read), and
 * run's last line for a program killed by signal SIG */
long oom_kill_count(void);
void killed_line(FILE *f, const char *cmd, long pid, int sig, long oom_before);

#endif
