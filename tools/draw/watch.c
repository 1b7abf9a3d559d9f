/*
 * watch.c - the live terminal view: `perfprobe watch FILE` and
 * `perfprobe run --live -- CMD`.
 *
 * The view only reads the timeline file the shim streams (through the
 * reader, like every other command), about once a second, so it never
 * touches the traced program: no signal, no ptrace, no shared memory.  The
 * file is re-read whole at each refresh; the wait between refreshes grows
 * to four times the time a read took, so that on a long run the view takes
 * at most a fifth of a core, and it runs at a lower priority (nice 10).
 *
 * A screen: the process and its state, RSS with its parts as bars (the
 * latest breakdown), the live heap and mappings with their peaks, CPU % and
 * page faults over the last samples, the latest probes, and the regions so
 * far, and the top allocation sites when the file has them (symbolised by
 * sites.c).  It fits 80x24 and adapts to larger terminals.  The last screen
 * stays when the program ends.  When stdout is not a terminal nothing is
 * drawn live: `watch` prints one plain screen of the file as it is and
 * exits, `run --live` prints nothing of its own.
 */
#define _GNU_SOURCE
#include "draw/draw.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- one screen -------------------------------------------------------------- */

struct screen {
    char *buf;
    size_t len;
    FILE *f;
    int rows, cols, lines;
};

/* a line, cut to the terminal's width (counting UTF-8 characters) */
static void put(struct screen *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct screen *s, const char *fmt, ...)
{
    if (s->lines >= s->rows - 1)
        return;                      /* never scroll: the view stays in place */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int cols = 0;
    char *p = line;
    for (; *p; p++) {
        if (((unsigned char)*p & 0xC0) != 0x80 && ++cols > s->cols - 1)
            break;
    }
    *p = 0;
    fprintf(s->f, "%s\n", line);
    s->lines++;
}

static void bar(char *out, size_t n, double v, double full, int width)
{
    int cells = full > 0 ? (int)lround(v / full * width) : 0;
    if (cells > width)
        cells = width;
    size_t k = 0;
    for (int i = 0; i < width && k + 4 < n; i++) {
        const char *c = i < cells ? "█" : "·";
        memcpy(out + k, c, strlen(c));
        k += strlen(c);
    }
    out[k] = 0;
}

/* the latest breakdown: a sample's parts or a probe's rss_parts */
static int latest_parts(const struct run *r, double v[5], double *at)
{
    static const char *const k[5] = {"heap", "mmap", "file", "stack", "other"};
    double ts = -1, tp = -1;
    json_t *s = NULL, *p = NULL;
    for (size_t i = json_array_size(r->samples); i-- > 0;) {
        json_t *x = json_array_get(r->samples, i);
        if (json_array_size(json_object_get(x, "parts")) >= 5) {
            s = x;
            ts = json_num(x, "t_s", 0);
            break;
        }
    }
    for (size_t i = json_array_size(r->probes); i-- > 0;) {
        json_t *x = json_array_get(r->probes, i);
        if (json_is_object(json_object_get(x, "rss_parts"))) {
            p = x;
            tp = json_num(x, "t_s", 0) + json_num(x, "overhead_s", 0);
            break;
        }
    }
    if (!s && !p)
        return 0;
    if (s && ts >= tp) {
        for (int q = 0; q < 5; q++)
            v[q] = json_number_value(json_array_get(json_object_get(s, "parts"), (size_t)q));
        *at = ts;
    } else {
        for (int q = 0; q < 5; q++)
            v[q] = json_num(json_object_get(p, "rss_parts"), k[q], 0);
        *at = tp;
    }
    return 1;
}

static int by_live(const void *x, const void *y)
{
    double a = json_num(*(json_t *const *)x, "live_bytes", 0);
    double b = json_num(*(json_t *const *)y, "live_bytes", 0);
    return (a < b) - (a > b);
}

static void draw(struct screen *s, const struct run *r, const char *path, const char *state)
{
    char a[64], b[64], c[64], d[64], br[256];
    const char *prog = json_string_value(json_object_get(r->header, "program"));
    size_t ns = json_array_size(r->samples);
    json_t *last = ns ? json_array_get(r->samples, ns - 1) : NULL;
    double t = last ? json_num(last, "t_s", 0) : 0;
    fmt_unit(a, sizeof a, AX_SEC, t);
    put(s, "perfprobe live: %s (pid %ld)   %s   %s", prog ? prog : "?", r->pid, a, state);
    put(s, "timeline: %s", path);
    put(s, "%s", "");
    /* memory */
    double rss = last ? json_num(last, "rss", 0) : 0, prss = 0, pheap = 0, pmm = 0;
    for (size_t i = 0; i < ns; i++) {
        json_t *x = json_array_get(r->samples, i);
        prss = fmax(prss, fmax(json_num(x, "rss", 0), json_num(x, "hwm", 0)));
        pheap = fmax(pheap, fmax(json_num(x, "heap", 0), json_num(x, "heap_max", 0)));
        pmm = fmax(pmm, json_num(x, "anon", 0) + json_num(x, "file", 0));
    }
    if (json_is_true(json_object_get(r->summary, "complete"))) {
        prss = fmax(prss, json_num(r->summary, "peak_rss_bytes", 0));
        pheap = fmax(pheap, json_num(r->summary, "peak_heap_bytes", 0));
    }
    int bw = s->cols - 38;          /* " other " + bar + value + "  (parts at 12.3 s)" */
    if (bw > 60)
        bw = 60;
    fmt_unit(a, sizeof a, AX_BYTES, rss);
    fmt_unit(b, sizeof b, AX_BYTES, prss);
    bar(br, sizeof br, rss, prss, bw);
    put(s, "RSS    %s %10s  peak %s", br, a, b);
    double parts[5], at;
    static const char *const pn[5] = {"heap", "mmap", "file", "stack", "other"};
    if (latest_parts(r, parts, &at)) {
        for (int q = 0; q < 5; q++) {
            fmt_unit(a, sizeof a, AX_BYTES, parts[q]);
            bar(br, sizeof br, parts[q], prss, bw);
            if (q == 4) {
                fmt_unit(c, sizeof c, AX_SEC, at);
                put(s, " %-5s %s %10s  (parts at %s)", pn[q], br, a, c);
            } else {
                put(s, " %-5s %s %10s", pn[q], br, a);
            }
        }
    } else {
        put(s, "%s", " (no RSS breakdown yet)");
    }
    fmt_unit(a, sizeof a, AX_BYTES, last ? json_num(last, "heap", 0) : 0);
    fmt_unit(b, sizeof b, AX_BYTES, pheap);
    fmt_unit(c, sizeof c, AX_BYTES, last ? json_num(last, "anon", 0) + json_num(last, "file", 0) : 0);
    fmt_unit(d, sizeof d, AX_BYTES, pmm);
    put(s, "heap   %s (peak %s)   own mmap %s (peak %s)", a, b, c, d);
    /* CPU and faults over the last second of samples */
    if (ns >= 2) {
        size_t i0 = ns - 1;
        while (i0 > 0 && t - json_num(json_array_get(r->samples, i0), "t_s", 0) < 1.0)
            i0--;
        json_t *x = json_array_get(r->samples, i0);
        double dt = t - json_num(x, "t_s", 0);
        if (dt > 0) {
            put(s, "CPU    user %.0f%%  sys %.0f%%   page faults %.0f/s (last %.1f s)",
                (json_num(last, "user_s", 0) - json_num(x, "user_s", 0)) / dt * 100,
                (json_num(last, "sys_s", 0) - json_num(x, "sys_s", 0)) / dt * 100,
                (json_num(last, "minflt", 0) - json_num(x, "minflt", 0)) / dt, dt);
        }
    }
    /* the latest probes */
    size_t np = json_array_size(r->probes);
    int room = s->rows - 1 - s->lines - 3;
    size_t nreg = json_array_size(r->regions), nwin = json_array_size(r->region_windows);
    int want_reg = nreg || nwin ? 3 : 0;
    int show = room - want_reg;
    if (show > 6)
        show = 6;
    if (np && show > 0) {
        put(s, "%s", "");
        put(s, "%-30s %10s %10s %10s", "probe", "time", "RSS", "heap");
        size_t from = np > (size_t)show - 1 ? np - (size_t)(show - 1) : 0;
        for (size_t i = from; i < np; i++) {
            json_t *p = json_array_get(r->probes, i);
            const char *l = json_string_value(json_object_get(p, "label"));
            fmt_unit(a, sizeof a, AX_SEC, json_num(p, "t_s", 0));
            fmt_unit(b, sizeof b, AX_BYTES, json_num(p, "rss_bytes", 0));
            fmt_unit(c, sizeof c, AX_BYTES, json_num(p, "heap_bytes", 0));
            put(s, "%-30.30s %10s %10s %10s", l ? l : "(null)", a, b, c);
        }
    }
    /* regions: exact from the summary at the end; while running, counts so
     * far and the percentiles of the latest window */
    json_t *regs = nreg ? r->regions : NULL;
    if (!regs && nwin)
        regs = json_object_get(json_array_get(r->region_windows, nwin - 1), "regions");
    if (json_array_size(regs)) {
        put(s, "%s", "");
        put(s, "%-30s %10s %10s %10s %s", "region", "count", "p50", "p99",
            nreg ? "" : "(count so far; p50/p99 of the last window)");
        size_t i;
        json_t *g;
        json_array_foreach(regs, i, g) {
            const char *p = json_string_value(json_object_get(g, "path"));
            double count = json_num(g, "count", 0);
            if (!nreg) {                   /* the sum over every window */
                count = 0;
                size_t w;
                json_t *x;
                json_array_foreach(r->region_windows, w, x) {
                    size_t j;
                    json_t *h;
                    json_array_foreach(json_object_get(x, "regions"), j, h) {
                        const char *q = json_string_value(json_object_get(h, "path"));
                        if (p && q && !strcmp(p, q))
                            count += json_num(h, "count", 0);
                    }
                }
            }
            fmt_unit(a, sizeof a, AX_NS, json_num(g, "p50_ns", 0));
            fmt_unit(b, sizeof b, AX_NS, json_num(g, "p99_ns", 0));
            put(s, "%-30.30s %10.0f %10s %10s", p ? p : "?", count, a, b);
        }
    }
    /* top allocation sites by live bytes, when the file has sites and the
     * screen has room */
    if (s->rows - 1 - s->lines >= 4) {
        json_t *sites = sites_to_json(r);
        size_t n = json_array_size(sites);
        if (n) {
            json_t **v = malloc(n * sizeof *v);
            for (size_t i = 0; i < n; i++)
                v[i] = json_array_get(sites, i);
            qsort(v, n, sizeof *v, by_live);
            put(s, "%s", "");
            put(s, "%-41s %10s %10s", "top sites (innermost frame)", "live", "allocated");
            for (size_t i = 0; i < n && i < 3 && s->lines < s->rows - 1; i++) {
                json_t *fr = json_array_get(json_object_get(v[i], "frames"), 0);
                const char *fn = json_string_value(json_object_get(fr, "fn"));
                const char *file = json_string_value(json_object_get(fr, "file"));
                char where[300];
                snprintf(where, sizeof where, "%s%s%s", fn ? fn : "(no stack)",
                         file ? " " : "", file ? (strrchr(file, '/') ? strrchr(file, '/') + 1 : file) : "");
                if (file && json_num(fr, "line", 0) > 0)
                    snprintf(where + strlen(where), sizeof where - strlen(where), ":%.0f",
                             json_num(fr, "line", 0));
                fmt_unit(a, sizeof a, AX_BYTES, json_num(v[i], "live_bytes", 0));
                fmt_unit(b, sizeof b, AX_BYTES, json_num(v[i], "alloc_bytes", 0));
                put(s, "%-41.41s %10s %10s", where, a, b);
            }
            free(v);
        }
        json_decref(sites);
    }
}

/* Reads FILE and draws it; STATE NULL means "from the file itself".
 * Returns 1 when the process image is finished (summary or signal). */
static int render(const char *path, const char *state, int tty, double *took)
{
    struct screen s = {0};
    s.rows = 24;
    s.cols = 80;
    struct winsize ws;
    if (tty && ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row >= 10 && ws.ws_col >= 40) {
        s.rows = ws.ws_row;
        s.cols = ws.ws_col;
    }
    if (!tty) {                          /* a file: no screen to fit */
        s.rows = 1000;
        s.cols = 100;
    }
    s.f = open_memstream(&s.buf, &s.len);
    double t0 = now_s();
    struct run *runs = NULL;
    int nr = -1, done = 0;
    if (access(path, R_OK) == 0) {
        /* the reader reports damage on stderr: keep it off the screen */
        int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        char *p = (char *)path;
        nr = runs_read(1, &p, &runs);
        if (saved >= 0) {
            dup2(saved, 2);
            close(saved);
        }
        if (devnull >= 0)
            close(devnull);
    }
    *took = now_s() - t0;
    if (nr <= 0) {
        put(&s, "perfprobe live: waiting for the timeline %s", path);
    } else {
        struct run *r = &runs[main_run(runs, nr)];
        char st[96];
        done = json_is_true(json_object_get(r->summary, "complete")) || r->signal;
        if (!state) {
            if (r->signal)
                snprintf(st, sizeof st, "killed by signal %lld",
                         (long long)json_num(r->signal, "signal", 0));
            else if (done)
                snprintf(st, sizeof st, "exited");
            else if (kill((pid_t)r->pid, 0) < 0 && errno == ESRCH)
                snprintf(st, sizeof st, "gone, no summary");
            else
                snprintf(st, sizeof st, "running");
            state = st;
            if (!done && kill((pid_t)r->pid, 0) < 0 && errno == ESRCH)
                done = 1;
        }
        draw(&s, r, path, state);
        for (int i = 0; i < nr; i++)
            run_free(&runs[i]);
        free(runs);
    }
    fclose(s.f);
    if (tty)
        fputs("\033[H\033[2J", stdout);  /* home, clear: redraw in place */
    fwrite(s.buf, 1, s.len, stdout);
    fflush(stdout);
    free(s.buf);
    return done;
}

/* ---- the commands ---------------------------------------------------------------- */

/* PATTERN (as PERFPROBE_OUTPUT: %p the pid, %n the program) for process
 * PID, the default name when NULL; the first file that exists */
static int find_timeline(const char *pattern, int pid, char *out, size_t n)
{
    char pat[4096];
    size_t k = 0;
    if (!pattern)
        pattern = "perfprobe.%n.%p.jsonl";
    for (const char *p = pattern; *p && k + 32 < sizeof pat; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            k += (size_t)snprintf(pat + k, sizeof pat - k, "%d", pid);
            p++;
        } else if (p[0] == '%' && p[1] == 'n') {
            pat[k++] = '*';
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            pat[k++] = '%';
            p++;
        } else if (strchr("*?[\\", *p)) {
            pat[k++] = '\\';              /* a literal glob character */
            pat[k++] = *p;
        } else {
            pat[k++] = *p;
        }
    }
    pat[k] = 0;
    glob_t g;
    int found = glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0;
    if (found)
        snprintf(out, n, "%s", g.gl_pathv[0]);
    globfree(&g);
    return found ? 0 : -1;
}

int watch_child(int child, const char *pattern)
{
    int st = 0, tty = isatty(1);
    if (!tty) {                            /* piped: nothing live */
        while (waitpid(child, &st, 0) < 0 && errno == EINTR)
            ;
        return st;
    }
    signal(SIGINT, SIG_IGN);               /* ^C is for the program; we follow it */
    signal(SIGQUIT, SIG_IGN);
    if (setpriority(PRIO_PROCESS, 0, 10) < 0)
        (void)0;                           /* lower priority is best effort */
    char path[4096] = "";
    for (;;) {
        int w = waitpid(child, &st, WNOHANG);
        if (!*path)
            find_timeline(pattern, child, path, sizeof path);
        double took = 0;
        if (w == child) {
            char state[64];
            if (WIFSIGNALED(st))
                snprintf(state, sizeof state, "killed by signal %d", WTERMSIG(st));
            else
                snprintf(state, sizeof state, "exited with status %d", WEXITSTATUS(st));
            if (*path)
                render(path, state, 1, &took);
            else
                printf("perfprobe live: the program %s; no timeline was found\n", state);
            return st;
        }
        if (*path)
            render(path, "running", 1, &took);
        sleep_s(fmax(1.0, 4 * took));
    }
}

static const char watch_usage[] =
    "usage: perfprobe watch FILE\n"
    "\n"
    "Shows a timeline as it is written, refreshed about once a second, until its\n"
    "process ends: RSS and its parts, heap, CPU, the latest probes, regions.\n"
    "When stdout is not a terminal it prints the file's current state once.\n";

int cmd_watch(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        fputs(watch_usage, stdout);
        return EXIT_OK;
    }
    if (argc != 2 || (argv[1][0] == '-' && argv[1][1])) {
        fputs(watch_usage, stderr);
        return error("watch: one timeline FILE");
    }
    const char *path = argv[1];
    if (access(path, R_OK) < 0)
        return error("watch: %s: %s", path, strerror(errno));
    int tty = isatty(1);
    double took;
    if (!tty) {
        /* one plain screen; a damaged file is an input error, as elsewhere */
        struct run *runs;
        char *p = (char *)path;
        int nr = runs_read(1, &p, &runs);
        if (nr < 0)
            return EXIT_USAGE;
        for (int i = 0; i < nr; i++)
            run_free(&runs[i]);
        free(runs);
        render(path, NULL, 0, &took);
        return EXIT_OK;
    }
    if (setpriority(PRIO_PROCESS, 0, 10) < 0)
        (void)0;
    while (!render(path, NULL, 1, &took))
        sleep_s(fmax(1.0, 4 * took));
    return EXIT_OK;
}
