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
 * that does not parse prints one warning line and the default is kept.
 */
#include "internal.h"

#include <string.h>

extern char **environ;

struct pp_options pp_opt;

enum kind { K_PATH, K_BOOL, K_UINT, K_SIZE };

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
     "Timeline file. `%p` becomes the pid, `%n` the program name. A process "
     "started by a traced process (fork or exec) whose path has no `%p` gets "
     "`.PID` inserted before `.jsonl`."},
    {"PERFPROBE_INTERVAL_MS", K_UINT, "10", &pp_opt.interval_ms, 1, 60000,
     "Sampling interval of the background thread, in milliseconds (1-60000)."},
    {"PERFPROBE_QUIET", K_BOOL, "0", &pp_opt.quiet, 0, 1,
     "Do not print the table on stderr at exit."},
    {"PERFPROBE_FOLLOW", K_BOOL, "1", &pp_opt.follow, 0, 1,
     "Trace programs this one execs. With 0 the shim removes itself from "
     "LD_PRELOAD at start-up."},
    {"PERFPROBE_BATCH", K_SIZE, "64K", &pp_opt.batch_bytes, 0, 1ull << 30,
     "Per-thread heap bytes counted before they are folded into the global "
     "figure; bounds the error of the global heap peak (see docs/design.md). "
     "0 folds on every call."},
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
    {"PERFPROBE_SIGNALS", K_BOOL, "1", &pp_opt.signals, 0, 1,
     "On SIGINT, SIGTERM, SIGHUP or SIGQUIT whose action is the default, write "
     "a last sample before the process dies of the signal."},
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
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
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
    /* perfprobe: warning: PERFPROBE_INTERVAL_MS="abc" is not a number; using 10 */
    char line[512];
    struct pp_buf b = {line, 0, sizeof line};
    pp_buf_str(&b, "perfprobe: warning: ");
    pp_buf_str(&b, r->name);
    pp_buf_str(&b, "=\"");
    pp_buf_raw(&b, val, strnlen(val, 64));
    pp_buf_str(&b, "\" ");
    pp_buf_str(&b, why);
    pp_buf_str(&b, "; using ");
    pp_buf_str(&b, r->def);
    pp_buf_str(&b, "\n");
    pp_write_all(2, b.p, b.len);
}

static void apply(const struct row *r, const char *val, int quiet)
{
    switch (r->kind) {
    case K_PATH: {
        size_t n = strlen(val);
        if (n == 0 || n >= sizeof pp_opt.output) {
            if (!quiet)
                bad(r, val, n ? "is too long" : "is empty");
            return;
        }
        memcpy(r->field, val, n + 1);
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

void pp_options_load(int warn)
{
    for (size_t i = 0; i < NROWS; i++) {
        apply(&rows[i], rows[i].def, 1);
        const char *v = pp_getenv(rows[i].name);
        if (v)
            apply(&rows[i], v, !warn);
    }
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
