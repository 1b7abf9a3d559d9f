/*
 * read.h - the reader: what every command of perfprobe shares (tools/read/).
 *
 * The bottom floor of the command.  It turns a timeline file into a
 * `struct run` (with jansson: input we did not write is parsed by a
 * well-kept library, never by hand), builds the process tree of a file,
 * names a run's figures, resolves allocation sites to functions and lines,
 * and writes numbers for a person.  Everything above it (report/, draw/,
 * export/, run.c, perfprobe.c) reads runs through this header; nothing in
 * tools/read/ includes a header of a room above it.
 *
 *   usage.c          error() and the "CMD FILE... -o OUT" arguments
 *   outfile.c        an output file written whole or not at all, never over an input
 *   fmt.c            a record's number fields, the unit of a key, a value as text
 *   lines.c          a file's lines, none held longer than a limit
 *   jsonout.c        JSON that --json can always print (any path, any number)
 *   timeline_read.c  a timeline file into runs: one per process image
 *   jsonline.c       a line's JSON validity, and the record glued after a cut one
 *   heap.c           whether an image's heap was counted, and which figures need it
 *   tree.c           the processes of a file as a tree, and its totals
 *   value.c          the figures of a run by name (check, diff, run -n)
 *   symbols_elf.c    return addresses to functions, files and lines (libdw; Linux)
 *   symbols_macho.c  the same from Mach-O symbol tables (macOS; macho.c reads them)
 *   sites.c          the allocation sites of a run, symbolised (docs/sites.md)
 *   cpu.c            the CPU samples of a run, by stack and function (docs/cpu.md)
 */
#ifndef PP_READ_H
#define PP_READ_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* exit codes */
enum { EXIT_OK = 0, EXIT_CHECK_FAILED = 1, EXIT_USAGE = 2 };

/* ---- usage.c: errors and arguments ---------------------------------------- */

/* prints "perfprobe: ..." on stderr and returns EXIT_USAGE */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "CMD FILE... -o OUT": the count of files, or -1 with *rc set */
int files_and_output(int argc, char **argv, const char *cmd, const char *usage,
                     const char *out_what, char ***files, const char **out, int *rc);

/* ---- outfile.c: output files ------------------------------------------------ */

/* An output file being written: a temporary beside PATH, renamed over it
 * by outfile_commit.  PATH NULL or "-" is stdout. */
struct outfile {
    FILE *f;
    const char *cmd, *path;
    char *target, *tmp;
};
/* the stream to write to, or NULL (one line said why) */
FILE *outfile_open(struct outfile *o, const char *cmd, const char *path);
/* closes and puts the file in place: EXIT_OK, or EXIT_USAGE (one line said
 * why; PATH left as it was) when a write or the close failed */
int outfile_commit(struct outfile *o);
/* closes and removes the temporary: PATH left as it was */
void outfile_abort(struct outfile *o);
/* EXIT_USAGE (one line said why) when OUT is one of the N INPUTS (the same
 * file, by device and inode), else 0 */
int outfile_is_input(const char *cmd, const char *out, int n, char *const *inputs);

/* ---- fmt.c: numbers in and out --------------------------------------------- */

/* The timeline path of run K (from 1) of `run -n`: "out.jsonl" -> "out.run3.jsonl" */
void run_path(char *out, size_t n, const char *base, int k);

/* a number field of a record, or dflt when missing or not a number */
double json_num(json_t *o, const char *key, double dflt);
/* a module record's extent: the lowest start and highest end of its
 * "ranges" (HI 0 when it has none); 0 when O is not a module record */
int module_extent(json_t *o, uint64_t *lo, uint64_t *hi);
/* the shortest decimal that reads back as v; "" for NaN (CSV cells) */
void fmt_num_csv(char *buf, size_t n, double v);
int ends_with(const char *s, const char *suffix);
/* what a key (or the field after its last dot) measures */
enum unit { U_COUNT, U_BYTES, U_NS, U_SECONDS, U_RATE, U_PCT };
enum unit key_unit(const char *key);
/* "12.3 MiB", "1.234 s", "12.34 µs", "1234/s", "12.5%" by the key's unit */
void fmt_value(char *buf, size_t n, const char *key, double v);
/* V with PREC decimals (a sign first with PLUS); from 1e15 on "1.000e+308" */
void fmt_fixed(char *buf, size_t n, int prec, double v, int plus);
/* VA and VB by fmt_value into A and B (N bytes each), or, when that makes
 * two different numbers look the same, in the key's base unit with as
 * many digits as tell them apart ("0.082042 s" and "0.0820420001 s") */
void fmt_values_apart(char *a, char *b, size_t n, const char *key, double va, double vb);

/* ---- jsonline.c: damaged lines --------------------------------------------- */

/* P..P+N is one JSON object between optional whitespace, by a strict check
 * that builds nothing (RFC 8259; UTF-8 checked; nesting up to 512) */
int json_text_valid(const char *p, size_t n);
/* the length of the valid UTF-8 sequence at P (LEFT bytes there, LEFT > 0),
 * or 0: not NUL, no overlong forms, no surrogates, nothing above U+10FFFF */
size_t utf8_seq_len(const unsigned char *p, size_t left);
/* A line that is not JSON (LEN bytes, its newline included): the offset of
 * the last `{"type":"` from which the rest of the line is one whole record
 * (for json_text_valid and for jansson), or -1.  Before it: the bytes of a
 * record cut short by a kill, glued to the next record written. */
long line_resync(const char *line, size_t len);
/* the pid a cut record names right after its type, or -1 when the cut
 * bytes do not hold it whole */
long line_cut_pid(const char *cut, size_t len);

/* ---- lines.c: a file's lines, bounded --------------------------------------- */

/* A file read line by line in one buffer that never holds more than MAX
 * bytes of a line (plus a chunk). */
struct lines {
    int fd;
    char *buf;
    size_t cap, start, end, scanned, max;
    int eof;
};
enum { LINE_EOF = 0, LINE_TOO_LONG = -1, LINE_ERROR = -2, LINE_STOPPED = -3 };
void lines_init(struct lines *l, int fd, size_t max);
/* The next line at *P (its newline included; the last line may have
 * none), valid until the next call: its length, or LINE_EOF, LINE_TOO_LONG
 * (longer than MAX: the rest is not read), LINE_ERROR (errno says why) or
 * LINE_STOPPED (read_stop was set). */
long lines_next(struct lines *l, char **p);
void lines_free(struct lines *l);
/* set by a signal handler (serve): reading ends with LINE_STOPPED */
extern volatile sig_atomic_t read_stop;

/* ---- jsonout.c: JSON that --json can always print --------------------------- */

/* a JSON string of S, bytes that are not UTF-8 replaced by U+FFFD (null for NULL) */
json_t *json_text(const char *s);
/* a JSON real, or null when V is not finite */
json_t *json_finite(double v);
/* O, compact, and a newline on F: EXIT_OK, or EXIT_USAGE after one line
 * ("CMD: --json: ...") when O is NULL (it could not be built) or the
 * write failed */
int json_print(FILE *f, json_t *o, const char *cmd);

/* ---- timeline_read.c: a timeline file into runs ---------------------------- */

struct run {
    char   *path;
    json_t *header;      /* the header line */
    json_t *summary;     /* the summary line, or one rebuilt from the samples;
                            always has "complete" */
    json_t *probes;      /* array of probe records */
    json_t *regions;     /* array, from the summary (empty when incomplete) */
    json_t *counters;    /* array of counter records */
    json_t *signal;      /* the signal record, or NULL */
    json_t *gaps;        /* array of gap records: what a full disk kept out of the file */
    json_t *samples;     /* array of sample records, in file order */
    json_t *region_windows; /* array of "regions" records (per-window region
                               statistics), in file order */
    json_t *site_records; /* module, stack and sites records (sites.c) */
    json_t *exec;        /* the exec record that ended the image, or NULL */
    json_t *untraced;    /* array of untraced records: children started
                            (posix_spawn) that run without the shim */
    json_t *table;       /* the exit table the shim wrote (PERFPROBE_TABLE), or NULL */
    json_t *tree;        /* run_read: the whole file's tree (tree_build) */
    const char *ended;   /* "exit", "exec", "signal" or "unknown" */
    long    pid, ppid, root_pid;
    int     image;       /* the pid's images before this one (execs) */
    int     process;     /* which process of the file: the images of one pid
                            joined by exec share it; a pid the kernel gave
                            again to a new process (a header with image 0,
                            or after a summary) gets a new one */
    int     processes;   /* run_read: how many images the file holds */
    const char *main_why; /* run_read: why this image is the main one */
    int     heap_counted; /* 0: the program's malloc was not the shim's, and
                             every heap figure of the image (written as 0)
                             was not measured (heap.c) */
    json_t *inexact;     /* array of strings: the summary's reasons why the
                            heap figures are not exact (empty when none) */
};

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
/* outfile_is_input for the files RUNS were read from (a DIR's included) */
int outfile_is_run(const char *cmd, const char *out, const struct run *runs, int nr);

/* ---- heap.c: whether the heap was counted ------------------------------------ */

/* R's heap_counted and inexact, from its header and summary (a file from
 * before the flag: counted) */
void run_heap_read(struct run *r);
/* 1 when the figure KEY names (a summary key, probe.LABEL.FIELD,
 * region.PATH.FIELD, a sample field) is measured through the malloc hooks:
 * the heap, the allocation counts, a region's allocation figures, the leaks */
int key_from_heap(const char *key);
/* 0 when KEY is such a figure and R's heap was not counted */
int figure_counted(const struct run *r, const char *key);
/* "the heap of PROG (pid N) was not counted: REASON (allocator A, in LIB)" */
void heap_why(const struct run *r, char *buf, size_t n);

/* ---- tree.c: the process tree of a file ------------------------------------- */

/* The processes of a run (images of one pid joined) and the totals: CPU,
 * the combined RSS over time and its peak ("rss" series WITH_SERIES). */
json_t *tree_build(const struct run *runs, int n, int with_series);
/* The tree as text, one line a process (at most MAX_LINES), then the totals;
 * MAIN_PID is marked, WHY says how it was chosen. */
void tree_print(FILE *f, json_t *tree, long main_pid, const char *why, int max_lines);
/* The programs the shim said run without it (an exec of a set-user-ID
 * program, a child given an environment without the shim, ...): an array
 * of {by, how, child, path, why} (the tree's "untraced"); untraced_print
 * writes the tree's list as text, nothing when it is empty. */
json_t *tree_untraced(const struct run *runs, int n);
void untraced_print(FILE *f, json_t *tree);

/* ---- value.c: the figures of a run by name ---------------------------------- */

/* the value of KEY ("peak_rss_bytes", "probe.LABEL.FIELD",
 * "region.PATH.FIELD", "tree.FIELD", or a figure derived from the samples:
 * cpu_pct_mean, cpu_pct_max, avg_rss_bytes, avg_heap_bytes) in a run;
 * 0 when found, -1 (and NaN) when there is no such value */
int run_value(const struct run *r, const char *key, double *out);
/* Every value KEY names in R (probes may repeat a label): calls FN for
 * each; returns how many there were. */
int run_each_value(const struct run *r, const char *key,
                   void (*fn)(void *, const char *, double), void *ctx);

/* ---- regions.c -------------------------------------------------------------- */

/* region statistics merged from the per-window records that overlap
 * (from, to] seconds; the covered span in *cover_from, *cover_to */
json_t *regions_from_windows(const struct run *r, double from, double to,
                             double *cover_from, double *cover_to);
/* a run without summary regions (killed) gets them from its windows */
void run_fill_regions(struct run *r);

/* ---- symbols_elf.c (Linux), symbols_macho.c (macOS): addresses to functions - */

struct sym_frame {
    const char *fn;          /* function, or "module+0xOFF" when unknown */
    const char *file;        /* source file, or NULL */
    int         line;        /* 0 when unknown */
    const char *module;      /* path of the module, or NULL */
    uint64_t    addr;        /* the return address as recorded */
    int         inlined;     /* an inlined call inside the next frame */
    int         python;      /* a Python frame: fn, file, line from a pyframe record */
    int         first_line;  /*   and its function's first line */
};

struct symbols;
/* From a run's module records.  Never fails: unknown modules give
 * "module+0xOFF" or "0xADDR" frames. */
struct symbols *symbols_new(json_t *site_records);
void symbols_free(struct symbols *s);
/* The frames for one return address, innermost first (an address inside
 * inlined code gives several).  Returns the count, at most max; the
 * strings live as long as S. */
int symbols_lookup(struct symbols *s, uint64_t addr, struct sym_frame *out, int max);

/* ---- sites.c: allocation sites (docs/sites.md) ------------------------------ */

/* the Python frame whose pyframe record (in PYFRAMES, keyed by id) has ID,
 * into OUT; 1 */
int python_frame(json_t *pyframes, long id, struct sym_frame *out);

/* The sites are here, under every command, because report, diff, plot,
 * watch, flame and pprof all show them; their text forms (report --sites,
 * the sites part of diff) came with them, being a few lines of the same
 * walk. */

struct site {
    long     stack;
    struct sym_frame *frames;      /* innermost first */
    int      nframes;
    int      truncated;
    double   live_bytes, live_blocks, live_samples;     /* at exit (or last probe) */
    double   peak_bytes, peak_blocks, peak_samples;     /* at the heap peak */
    double   resident, peak_resident;                   /* of live_bytes, peak_bytes; -1 unknown */
    double   lost_bytes, lost_blocks;                   /* of the leaks: unreachable; -1 unknown */
    double   alloc_bytes, allocs, samples;              /* since start */
    double   v0, v1;                                    /* --between: live at the probes */
    double   a0, a1;                                    /*            allocated at the probes */
    double   n0, c0;                                    /*            blocks, allocs at the first */
    double   dump_bytes[4];                             /* live at the last dump view of
                                                         * each label (sites.dump) */
};

struct sites {
    struct symbols *sym;
    struct site *v;
    int      n;
    int      estimated;        /* sample mode */
    double   sample_bytes;
    int      complete;         /* an exit record was found */
    int      has_final;        /* an exit or probe record was found */
    int      has_lost;         /* the exit record has the leak check's figures */
    double   peak_t;           /* when the peak view was taken (s), or -1 */
    json_t  *dump[4];          /* the last dump view of each label (dump_at,
                                * cgroup_limit, cgroup_pressure ...), by time */
    int      dumps[4];         /* how many of each */
    int      ndump;
    struct site rest;          /* the sites summed in "rest" rows */
};

/* Every site of run R (exit, peak) with symbolised stacks; with labels, the
 * live and allocated figures at those probes too (BETWEEN1 may be NULL: one
 * probe).  -1 with an error printed when a label is not found; 0 when the
 * run has no site records (s->n == 0), else 1. */
int sites_load(const struct run *r, struct sites *s, const char *between0, const char *between1);
void sites_free(struct sites *s);
/* A killed run (no exit record): say so on F, with when its live-at-peak
 * view was taken (PREFIX starts the line). */
void sites_killed_note(FILE *f, const char *prefix, const struct run *r, const struct sites *s);
/* "fn (file:line)" for frame F */
void frame_text(const struct sym_frame *f, char *buf, size_t n);
/* `report --sites`: the top sites of each run as text; with BETWEEN0 and
 * BETWEEN1 (probe labels) the sites that grew between the two probes.
 * Returns an exit code. */
int sites_report(FILE *f, struct run *runs, int n, const char *between0, const char *between1);
/* the same for the runs of NFILES files: from one file that holds a process
 * tree, its main process (--process chooses it) alone, or with ALL, first
 * and then the others */
int sites_report_files(FILE *f, struct run *runs, int n, int nfiles, int all,
                       const char *between0, const char *between1);
/* the "sites" key of `report --json`, plot and watch (NULL when the run
 * has none) */
json_t *sites_to_json(const struct run *r);
/* `diff`: the sites of two runs matched by their symbolised stacks, as text
 * on F, or as rows appended to JSON_ROWS when not NULL */
void sites_diff(FILE *f, const struct run *a, const struct run *b, json_t *json_rows,
                double noise);

/* ---- cpu.c: CPU samples (docs/cpu.md) -------------------------------------- */

struct cstack {
    long id;
    struct sym_frame *frames;       /* innermost first, inlined calls expanded */
    int n;
    double samples;
};

/* a function; PYTHON: a Python function, FIRST_LINE its first line */
struct cfunc { const char *fn, *file; double self, total; long mark; int python, first_line; };
/* a line of Python code: the samples whose innermost Python frame is there */
struct cline { const char *fn, *file; int line; double samples; };

struct cprof {
    struct symbols *sym;
    struct cstack *v;
    int n;
    json_t *index;                  /* stack id -> index in v */
    double samples, period_ns;
    json_t *threads;                /* tid -> samples */
    struct cfunc *f;
    int nf;
    struct cline *l;                /* by Python line, most samples first */
    int nl;
    int has;                        /* the run has CPU records */
    const char *off;                /* the shim's reason for none */
};

/* which samples count: inside REGION, between probes FROM and TO (NULLs: all) */
struct cfilter { const char *region, *from, *to; };

/* R's samples through FL (NULL: all) into P: 1 with samples, 0 without
 * (P->off may say why), -1 on a bad filter (one line said) */
int cprof_load(const struct run *r, const struct cfilter *fl, struct cprof *p);
void cprof_free(struct cprof *p);
/* ARGV of `CMD --cpu [--region R] [--between P1 P2] [-o OUT] FILE` */
int cpu_args(int argc, char **argv, const char *cmd, const char **out, const char **file,
             struct cfilter *fl);
/* every process image of FILE (runs_read), and their release */
int cpu_read_one(const char *file, struct run **runs);
void cpu_runs_free(struct run *runs, int n);
/* For each row of each cpu record of R, in file order: EMIT(CTX, time the
 * samples were read, thread, innermost function, region or NULL, samples). */
void cpu_each_row(const struct run *r,
                  void (*emit)(void *ctx, double t_s, long tid, const char *fn,
                               const char *region, double samples),
                  void *ctx);

#endif
