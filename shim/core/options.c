/*
 * options.c - every PERFPROBE_* setting, in one table.
 *
 * Each row names a variable, its type, its default and a one-line
 * description; the same table is read at start-up and printed as the
 * documentation (`build/pp-options --markdown`, checked against
 * docs/settings.md by the tests), so the two cannot drift apart.
 *
 * Settings are read once, from `environ`, before anything else happens.
 * Nothing here allocates: values are copied into static storage.  A value
 * that does not parse prints one warning line and the default is kept;
 * only the first image of a tree warns (the others see the same values).
 */
#include "core/core.h"

#include <string.h>

extern char **environ;

struct pp_options pp_opt;

enum kind { K_PATH, K_BOOL, K_UINT, K_SIZE, K_FOLLOW, K_STACKS, K_CPU };

struct row {
    const char *name;
    enum kind kind;
    const char *def;
    void *field;
    uint64_t min, max;
    const char *desc;
};

static const struct row rows[] = {
    {"PERFPROBE_OUTPUT", K_PATH, "perfprobe.%n.%p.jsonl", pp_opt.output, 0, 0,
     "Timeline file, one for the whole process tree: `%p` becomes the first "
     "process's pid, `%n` its program name. Every process the program starts "
     "(fork or exec) writes into the same file. Empty: no file, and no warning "
     "(the exit table is still printed; without a file, a program that a traced "
     "process execs starts a tree of its own: its own table). The file is "
     "never opened through a symbolic link, and must be a regular file of the "
     "user's own (docs/robustness.md)."},
    {"PERFPROBE_INTERVAL_MS", K_UINT, "10", &pp_opt.interval_ms, 1, 60000,
     "Sampling interval of the background thread, in milliseconds (1-60000)."},
    {"PERFPROBE_QUIET", K_BOOL, "0", &pp_opt.quiet, 0, 1,
     "Do not print the table on stderr at exit, nor warnings about what the run met "
     "(the kernel refusing perf_event_open, threads CPU sampling does not follow, no sampler thread, a program `PERFPROBE_FOLLOW=none` leaves untraced): they become `note` records "
     "in the timeline. Warnings about settings are still printed."},
    {"PERFPROBE_FOLLOW", K_FOLLOW, "all", &pp_opt.follow, 0, 2,
     "Which processes are traced: `all` (every process of the tree: forks "
     "and execs; also 1/true/yes/on), `exec` (the first process and the "
     "programs it becomes by exec, not its forked children: a wrapper "
     "script that execs the real program) or `none` (the first process "
     "only; also 0/false/no/off)."},
    {"PERFPROBE_BATCH", K_SIZE, "64K", &pp_opt.batch_bytes, 0, 1ull << 30,
     "Cap on the step a thread's heap may grow near a peak before the thread "
     "adds up every thread's figures (the step is max(4 KiB, peak / 512) with several threads, peak / 128 with one); "
     "bounds the error of the heap peak with several threads (see docs/design.md). "
     "0 checks at every allocation near a peak."},
    {"PERFPROBE_HWM", K_BOOL, "1", &pp_opt.hwm, 0, 1,
     "At each probe, reset the kernel's RSS high-water mark (/proc/self/clear_refs) "
     "so that the RSS peak between probes is exact. With 0 the peak is the highest "
     "sampled RSS, probes are cheaper, and the program's VmHWM is left alone."},
    {"PERFPROBE_PARTS", K_BOOL, "1", &pp_opt.parts, 0, 1,
     "Break RSS down into heap, mmap, file, stack and other at every probe and at "
     "exit (docs/rss.md)."},
    {"PERFPROBE_PARTS_STRIDE", K_UINT, "100", &pp_opt.parts_stride, 0, 1000000,
     "Every Nth sample also carries the breakdown (100: every second at the default "
     "interval); 0 for none."},
    {"PERFPROBE_REGION_WINDOW_MS", K_UINT, "1000", &pp_opt.region_window_ms, 10, 3600000,
     "Regions over time: every this many milliseconds the occurrences of each region "
     "that ended in the window are written as a `regions` record (10-3600000)."},
    {"PERFPROBE_STACKS", K_STACKS, "sample", pp_opt.stacks, 0, 0,
     "Allocation sites (docs/sites.md): `sample` records the call stack of a sample "
     "of the allocations, `all` of every one (exact, slower), `off` of none (in any case)."},
    {"PERFPROBE_SAMPLE_BYTES", K_SIZE, "512K", &pp_opt.sample_bytes, 1, 1ull << 40,
     "With `PERFPROBE_STACKS=sample`: the mean number of bytes allocated between two "
     "sampled allocations (per thread)."},
    {"PERFPROBE_DUMP_AT", K_SIZE, "0", &pp_opt.dump_at, 0, 1ull << 50,
     "When RSS or the heap reaches this size, write the site views at once, and again "
     "each time it grows by a further eighth of it (docs/sites.md); 0 for never."},
    {"PERFPROBE_STACK_DEPTH", K_UINT, "64", &pp_opt.stack_depth, 1, 256,
     "Frames kept per call stack (1-256); deeper stacks are cut."},
    {"PERFPROBE_STACK_TABLE", K_SIZE, "64M", &pp_opt.stack_table, 1ull << 20, 1ull << 36,
     "Memory for the table of distinct call stacks; when it is full, new stacks "
     "count under one `(overflow)` site."},
    {"PERFPROBE_TOP", K_UINT, "100", &pp_opt.top, 1, 100000,
     "Sites written at each probe and at exit: the top N by live bytes and the top N "
     "by allocated bytes; the others are summed in one row."},
    {"PERFPROBE_SEED", K_UINT, "0", &pp_opt.seed, 0, UINT64_MAX,
     "Seed of the sampling of allocation sites; 0 seeds from the clock. With a seed, "
     "a run that allocates the same way samples the same blocks."},
    {"PERFPROBE_CPU", K_CPU, "99", pp_opt.cpu, 1, 10000,
     "CPU stacks (docs/cpu.md): samples a second of each thread's CPU time, taken by "
     "the kernel (perf_event_open) and read by the sampler thread (1-10000), or `off` "
     "(in any case; also 0/false/no)."},
    {"PERFPROBE_NAMESPACES", K_BOOL, "1", &pp_opt.namespaces, 0, 1,
     "1: count a library the program opens with dlmopen into a new link namespace: "
     "the namespace's first object needs libperfprobe-ns.so (beside the shim), then "
     "the library, so that the object's hooks come first in the namespace's scope "
     "and each calls what the library would find first bare, its own allocator "
     "included (docs/design.md, \"Link namespaces\"). 0: such a library is left "
     "alone, and the heap figures say that they miss it."},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* getenv without touching the allocator or locale machinery. */
const char *pp_getenv(const char *name)
{
    size_t n = strlen(name);
    if (!environ)
        return NULL;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static int lower_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char c = *a;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != *b)
            return 0;
    }
    return *a == 0 && *b == 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"};
    static const char *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (lower_eq(s, yes[i])) { *out = 1; return 0; }
        if (lower_eq(s, no[i]))  { *out = 0; return 0; }
    }
    return -1;
}

/* Decimal, optionally followed by K, M or G (powers of 1024) when sized. */
static int parse_uint(const char *s, int sized, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        uint64_t d = (uint64_t)(*p - '0');
        if (v > UINT64_MAX / 10 || (v == UINT64_MAX / 10 && d > UINT64_MAX % 10))
            return -1;                  /* past UINT64_MAX */
        v = v * 10 + d;
    }
    if (sized && *p) {
        unsigned shift = 0;
        switch (*p) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        p++;
        if (*p == 'B' || *p == 'b' || *p == 'i')
            p += (*p == 'i' && (p[1] == 'B' || p[1] == 'b')) ? 2 : 1;
        if (v > (UINT64_MAX >> shift))
            return -1;
        v <<= shift;
    }
    if (*p)
        return -1;
    *out = v;
    return 0;
}

static void bad(const struct row *r, const char *val, const char *why)
{
    /* perfprobe: warning: PERFPROBE_INTERVAL_MS="abc" is not a number; using 10
     * (pp_warn keeps it on one line whatever the value holds) */
    char value[80], tail[256];
    size_t n = strnlen(val, 64);
    memcpy(value, val, n);
    value[n] = 0;
    struct pp_buf b = {tail, 0, sizeof tail - 1};
    pp_buf_str(&b, "\" ");
    pp_buf_str(&b, why);
    pp_buf_str(&b, "; using ");
    pp_buf_str(&b, r->def);
    tail[b.len] = 0;
    pp_warn(r->name, "=\"", value, tail);
}

static void apply(const struct row *r, const char *val, int quiet)
{
    switch (r->kind) {
    case K_PATH: {                      /* empty: no file (timeline.c) */
        size_t n = strlen(val);
        if (n >= sizeof pp_opt.output) {
            if (!quiet)
                bad(r, val, "is too long");
            return;
        }
        memcpy(r->field, val, n + 1);
        return;
    }
    case K_STACKS: {                    /* kept as off, sample or all */
        const char *m = lower_eq(val, "off") || lower_eq(val, "none") ? "off"
                        : lower_eq(val, "sample")                    ? "sample"
                        : lower_eq(val, "all")                       ? "all"
                                                                     : NULL;
        if (m)
            memcpy(r->field, m, strlen(m) + 1);
        else if (!quiet)
            bad(r, val, "is not off, sample or all");
        return;
    }
    case K_CPU: {                       /* kept as off or the rate's digits */
        int b;
        uint64_t v;
        if (lower_eq(val, "off") || (parse_bool(val, &b) == 0 && !b))
            memcpy(r->field, "off", 4);
        else if (parse_uint(val, 0, &v) == 0 && v >= r->min && v <= r->max) {
            struct pp_buf d = {r->field, 0, sizeof pp_opt.cpu - 1};
            pp_buf_u64(&d, v);
            ((char *)r->field)[d.len] = 0;
        } else if (!quiet)
            bad(r, val, "is not a rate (1-10000) or off");
        return;
    }
    case K_FOLLOW: {
        int b;
        if (lower_eq(val, "all") || (parse_bool(val, &b) == 0 && b))
            *(int *)r->field = PP_FOLLOW_ALL;
        else if (lower_eq(val, "exec"))
            *(int *)r->field = PP_FOLLOW_EXEC;
        else if (lower_eq(val, "none") || parse_bool(val, &b) == 0)
            *(int *)r->field = PP_FOLLOW_NONE;
        else if (!quiet)
            bad(r, val, "is not one of all, exec, none");
        return;
    }
    case K_BOOL:
        if (parse_bool(val, (int *)r->field) && !quiet)
            bad(r, val, "is not a boolean (1/0, true/false, yes/no, on/off)");
        return;
    case K_UINT:
    case K_SIZE: {
        uint64_t v;
        if (parse_uint(val, r->kind == K_SIZE, &v)) {
            if (!quiet)
                bad(r, val, r->kind == K_SIZE ? "is not a size" : "is not a number");
            return;
        }
        if (v < r->min || v > r->max) {
            if (!quiet)
                bad(r, val, "is out of range");
            return;
        }
        *(uint64_t *)r->field = v;
        return;
    }
    }
}

/* Names the shim sets itself, for the processes it starts. */
static const char *const internal_names[] = {"PERFPROBE_TREE", "PERFPROBE_TABLE"};

/* Edit distance between two names (short strings: a small table). */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t d[64], prev;
    if (na > 63 || nb > 63)
        return 99;
    for (size_t j = 0; j <= nb; j++)
        d[j] = j;
    for (size_t i = 1; i <= na; i++) {
        prev = d[0];
        d[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t cur = d[j];
            size_t best = prev + (a[i - 1] != b[j - 1]);
            if (d[j] + 1 < best)
                best = d[j] + 1;
            if (d[j - 1] + 1 < best)
                best = d[j - 1] + 1;
            d[j] = best;
            prev = cur;
        }
    }
    return d[nb];
}

/* A PERFPROBE_* variable that names no setting is most likely a typo. */
static void check_unknown(void)
{
    for (char **e = environ; e && *e; e++) {
        if (strncmp(*e, "PERFPROBE_", 10) != 0)
            continue;
        size_t n = strcspn(*e, "=");
        int known = 0;
        for (size_t i = 0; i < NROWS && !known; i++)
            known = strlen(rows[i].name) == n && strncmp(rows[i].name, *e, n) == 0;
        for (size_t i = 0; i < sizeof internal_names / sizeof *internal_names && !known; i++)
            known = strlen(internal_names[i]) == n && strncmp(internal_names[i], *e, n) == 0;
        if (known)
            continue;
        const char *best = NULL;
        size_t best_d = 99;
        for (size_t i = 0; i < NROWS; i++) {
            size_t d = distance(*e, n, rows[i].name, strlen(rows[i].name));
            if (d < best_d) {
                best_d = d;
                best = rows[i].name;
            }
        }
        char name[80];
        size_t k = n < sizeof name - 1 ? n : sizeof name - 1;
        memcpy(name, *e, k);
        name[k] = 0;
        if (best && best_d <= 4)
            pp_warn("unknown setting ", name, " ignored; did you mean ", best);
        else
            pp_warn("unknown setting ", name, " ignored (see docs/settings.md)", "");
    }
}

void pp_options_load(int warn)
{
    for (size_t i = 0; i < NROWS; i++) {
        apply(&rows[i], rows[i].def, 1);
        const char *v = pp_getenv(rows[i].name);
        if (v)
            apply(&rows[i], v, !warn);
    }
    if (warn)
        check_unknown();
}

const struct pp_option_doc *pp_options_doc(size_t *n)
{
    static struct pp_option_doc doc[NROWS];
    for (size_t i = 0; i < NROWS; i++) {
        doc[i].name = rows[i].name;
        doc[i].def = rows[i].def;
        doc[i].desc = rows[i].desc;
    }
    *n = NROWS;
    return doc;
}

const char *pp_follow_name(void)
{
    return pp_opt.follow == PP_FOLLOW_ALL ? "all" : pp_opt.follow == PP_FOLLOW_EXEC ? "exec" : "none";
}
