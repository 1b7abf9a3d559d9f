/*
 * run.c - `perfprobe run [-n RUNS] -- CMD`: runs a program under the shim.
 *
 * It finds the shim (libperfprobe.so, or .dylib on macOS) beside this
 * executable (or in ../lib after make install) and the program as execvp
 * would; sys/ refuses or warns about what the loader will not reach (a
 * static binary; on macOS a protected one) and sets LD_PRELOAD or
 * DYLD_INSERT_LIBRARIES; it sets the shim's settings from the
 * options, forwards the signals it gets to the child, and exits with the
 * child's own status (128 + signal when it was killed).  After the run it
 * prints the main process's exit table and a line per other process
 * (tree_exit_table); with -n it runs the program RUNS times and prints the
 * figures across the runs; with --live it shows the live view (watch.c).
 */
#define _GNU_SOURCE
#include "draw/draw.h"
#include "read/read.h"
#include "report/report.h"
#include "run.h"
#include "killed.h"
#include "mend.h"
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- finding things ------------------------------------------------------- */

/* the shim beside this executable, or in ../lib after make install */
static int find_shim(char *out, size_t len)
{
    char self[PATH_MAX / 2];
    if (sys_self_exe(self, sizeof self) < 0)
        return -1;
    char *slash = strrchr(self, '/');
    *slash = 0;
    static const char *const where[] = {"%s/%s", "%s/../lib/%s"};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        snprintf(out, len, where[i], self, sys_shim_name);
        if (access(out, R_OK) == 0) {
            char real[PATH_MAX];
            if (realpath(out, real))
                snprintf(out, len, "%s", real);
            return 0;
        }
    }
    return -1;
}

/* CMD as execvp would find it: 0, -1 when there is no such file, -2 when
 * there is one but it cannot be executed (OUT names it) */
static int find_command(const char *cmd, char *out, size_t len)
{
    struct stat st;
    if (strchr(cmd, '/')) {
        snprintf(out, len, "%s", cmd);
        if (access(out, X_OK) == 0 && stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
            return 0;
        return access(out, F_OK) == 0 ? -2 : -1;
    }
    char denied[PATH_MAX] = "";
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", cmd);
        if (access(out, X_OK) == 0 && stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
            return 0;
        if (!denied[0] && access(out, F_OK) == 0 && stat(out, &st) == 0 && !S_ISDIR(st.st_mode))
            snprintf(denied, sizeof denied, "%s", out);
        path += n + (path[n] == ':');
    }
    if (denied[0]) {
        snprintf(out, len, "%s", denied);
        return -2;
    }
    return -1;
}

/* ---- the table at the end of `perfprobe run` ---------------------------------- */

static void tree_exit_table(const char *path)
{
    struct run *runs;
    const char *why;
    int n = file_read(path, &runs);
    if (n < 0)
        return;
    int m = run_main(runs, n, run_process_choice, &why);
    if (m < 0)
        m = 0;
    const char *text = json_string_value(json_object_get(runs[m].table, "text"));
    if (text)
        fputs(text, stderr);
    else if (!runs[m].ended || strcmp(runs[m].ended, "exit"))   /* quiet is no news */
        fprintf(stderr, "perfprobe: %s (pid %ld) left no exit table (%s); "
                "perfprobe report %s\n",
                json_string_value(json_object_get(runs[m].header, "program")), runs[m].pid,
                runs[m].ended && !strcmp(runs[m].ended, "signal") ? "killed" : "no summary",
                path);
    /* the shim warns for the first image of a tree only: the table of a
     * program behind env or sh -c exec would show its uncounted heap as 0 */
    if (!runs[m].heap_counted) {
        char nc[1200];
        heap_why(&runs[m], nc, sizeof nc);
        fprintf(stderr, "perfprobe: %s; the heap figures above were not measured\n", nc);
    }
    json_t *tree = tree_build(runs, n, 0);
    if (n > 1)
        tree_print(stderr, tree, runs[m].pid, why, 20);
    untraced_print(stderr, tree);
    json_decref(tree);
    for (int i = 0; i < n; i++)
        run_free(&runs[i]);
    free(runs);
}

/* ---- run ------------------------------------------------------------------- */

/* CMD with its arguments, as execvp runs it: a file without a #! line
 * (ENOEXEC) is a script for /bin/sh, as the shell, env and timeout run it.
 * Returns only when neither could be run, errno set */
static void exec_cmd(const char *cmd, char **cmdv)
{
    execv(cmd, cmdv);
    if (errno != ENOEXEC)
        return;
    size_t n = 0;
    while (cmdv[n])
        n++;
    char **sh = calloc(n + 2, sizeof *sh);
    if (!sh)
        return;
    sh[0] = "/bin/sh";
    sh[1] = (char *)cmd;
    for (size_t i = 1; i < n; i++)
        sh[i + 1] = cmdv[i];
    execv("/bin/sh", sh);
    free(sh);
    errno = ENOEXEC;
}

static const char run_usage[] =
    "usage: perfprobe run [-o FILE] [-i MS] [-q] [-n RUNS [--json]] [--stacks MODE] [--cpu HZ|off] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD under libperfprobe.so and exits with CMD's own status (128 + signal\n"
    "when it was killed).\n"
    "  -o FILE        timeline file (PERFPROBE_OUTPUT; %p = pid, %n = program)\n"
    "  -i MS          sampling interval in milliseconds (PERFPROBE_INTERVAL_MS)\n"
    "  -q             no table on stderr at exit (PERFPROBE_QUIET=1)\n"
    "  -n RUNS        cold repeats: run CMD RUNS times, one timeline each\n"
    "                 (FILE.runK.jsonl), and print per probe and per region the\n"
    "                 mean, stdev, min, median and max across the runs\n"
    "  --stacks MODE  allocation call stacks: sample (default), all or off\n"
    "  --dump-at SIZE write the allocation-site views when RSS or the heap reaches SIZE\n"
    "  --cpu HZ|off   CPU stacks sampled HZ times a second of each thread's CPU\n"
    "  --live         a live view of the timeline in the terminal while CMD runs\n"
    "  --json         with -n: the table across the runs as one JSON object\n";

static int status_of(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

struct stat5 { double mean, stdev, min, median, max; int n; };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static struct stat5 stats(double *v, int n)
{
    struct stat5 s = {NAN, NAN, NAN, NAN, NAN, n};
    if (n == 0)
        return s;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / n;
    for (int i = 0; i < n; i++)
        sq += (v[i] - s.mean) * (v[i] - s.mean);
    s.stdev = n > 1 ? sqrt(sq / (n - 1)) : 0;
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

/* run -n --json: the rows are collected here instead of printed */
static json_t *repeat_json;

static void stat_row(const char *name, const char *key, double *v, int n)
{
    struct stat5 s = stats(v, n);
    char c[5][48];
    double x[5] = {s.mean, s.stdev, s.min, s.median, s.max};
    if (repeat_json) {
        json_t *o = json_pack("{s:s, s:s, s:i}", "name", name, "key", key, "runs", n);
        static const char *const k[] = {"mean", "stdev", "min", "median", "max"};
        for (int q = 0; q < 5; q++)
            json_object_set_new(o, k[q], isnan(x[q]) ? json_null() : json_real(x[q]));
        json_array_append_new(repeat_json, o);
        return;
    }
    if (strlen(name) > 35) {           /* a long label on a line of its own */
        printf("%s\n", name);
        name = "";
    }
    pad(stdout, name, 36, 0);
    for (int i = 0; i < 5; i++) {
        fmt_value(c[i], sizeof c[i], key, x[i]);
        pad(stdout, c[i], 13, 1);
    }
    putchar('\n');
}

/* A row of a heap figure some run did not measure (its heap was not
 * counted): "not counted" in text, the statistics null in JSON */
static void uncounted_row(const char *name, const char *key, int runs)
{
    if (repeat_json) {
        json_array_append_new(repeat_json, json_pack("{s:s, s:s, s:i, s:n, s:n, s:n, s:n, s:n, s:b}",
                              "name", name, "key", key, "runs", runs, "mean", "stdev", "min",
                              "median", "max", "heap_counted", 0));
        return;
    }
    pad(stdout, name, 36, 0);
    pad(stdout, "not counted", 13, 1);
    putchar('\n');
}

/* how many of the N runs did not measure KEY (heap.c) */
static int uncounted_runs(const struct run *runs, int n, const char *key)
{
    int u = 0;
    for (int i = 0; i < n; i++)
        u += !figure_counted(&runs[i], key);
    return u;
}

/* Per summary figure, probe (label and occurrence, from the first run) and
 * region (path): the five statistics across the runs. */
static void repeat_table(struct run *runs, int n)
{
    double *v = calloc((size_t)n, sizeof *v);
    char name[600];
    if (!repeat_json) {
        printf("\n%d runs: mean, stdev, min, median and max across the runs\n", n);
        printf("%-36s %12s %12s %12s %12s %12s\n", "", "mean", "stdev", "min", "median", "max");
    }
    static const char *const keys[] = {"wall_s", "cpu_user_s", "cpu_sys_s", "peak_rss_bytes",
                                       "peak_heap_bytes", "heap_bytes_at_exit", NULL};
    for (int k = 0; keys[k]; k++) {
        int m = 0;
        if (uncounted_runs(runs, n, keys[k])) {
            uncounted_row(keys[k], keys[k], n);
            continue;
        }
        for (int i = 0; i < n; i++)
            if (run_value(&runs[i], keys[k], &v[m]) == 0)
                m++;
        stat_row(keys[k], keys[k], v, m);
    }
    static const char *const pkeys[] = {"dt_s", "d_rss_last", "d_heap_last", NULL};
    size_t j;
    json_t *p;
    json_array_foreach(runs[0].probes, j, p) {
        const char *label = json_string_value(json_object_get(p, "label"));
        int occ = 0;
        for (size_t q = 0; q < j; q++) {
            const char *l = json_string_value(json_object_get(json_array_get(runs[0].probes, q), "label"));
            occ += l && label && !strcmp(l, label);
        }
        for (int k = 0; pkeys[k]; k++) {
            int m = 0;
            for (int i = 0; i < n; i++) {
                int seen = 0;
                size_t q;
                json_t *x;
                json_array_foreach(runs[i].probes, q, x) {
                    const char *l = json_string_value(json_object_get(x, "label"));
                    if (l && label && !strcmp(l, label) && seen++ == occ) {
                        json_t *val = json_object_get(x, pkeys[k]);
                        if (json_is_number(val))
                            v[m++] = json_number_value(val);
                        break;
                    }
                }
            }
            snprintf(name, sizeof name, "probe %.500s %s", label ? label : "(null)", pkeys[k]);
            if (uncounted_runs(runs, n, pkeys[k]))
                uncounted_row(name, pkeys[k], n);
            else
                stat_row(name, pkeys[k], v, m);
        }
    }
    static const char *const rkeys[] = {"mean_ns", "min_ns", "p50_ns", "p95_ns", "p99_ns",
                                        "per_s", NULL};
    json_array_foreach(runs[0].regions, j, p) {
        const char *path = json_string_value(json_object_get(p, "path"));
        for (int k = 0; rkeys[k]; k++) {
            char key[600];
            snprintf(key, sizeof key, "region.%s.%s", path ? path : "", rkeys[k]);
            int m = 0;
            for (int i = 0; i < n; i++)
                if (run_value(&runs[i], key, &v[m]) == 0)
                    m++;
            snprintf(name, sizeof name, "region %.500s %s", path ? path : "", rkeys[k]);
            stat_row(name, rkeys[k], v, m);
        }
    }
    free(v);
}

/* Standard output is a file the runs wrote into (`> out.txt`) and its
 * last byte, just before the offset they share with this process, is not a
 * newline: the program's output ended without one.  A pipe or a terminal
 * keeps no bytes to look at: 0. */
static int stdout_line_open(void)
{
    struct stat st;
    fflush(stdout);
    off_t at = lseek(1, 0, SEEK_CUR);
    if (fstat(1, &st) < 0 || !S_ISREG(st.st_mode) || at <= 0)
        return 0;
    char last = '\n';
    if (pread(1, &last, 1, at - 1) != 1) {      /* opened write-only: read it anew */
        int fd = open("/dev/fd/1", O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return 0;
        if (pread(fd, &last, 1, at - 1) != 1)
            last = '\n';
        close(fd);
    }
    return last != '\n';
}

static int run_repeats(int runs_wanted, const char *out, char **cmdv, const char *cmd)
{
    char base[PATH_MAX];
    const char *name = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
    if (out)
        snprintf(base, sizeof base, "%s", out);
    else
        snprintf(base, sizeof base, "perfprobe.%.200s.jsonl", name);
    if (strchr(base, '%'))
        return error("run: -n needs a plain -o FILE, without %%p or %%n");
    struct run *runs = calloc((size_t)runs_wanted, sizeof *runs);
    int done = 0, rc = 0;
    setenv("PERFPROBE_QUIET", "1", 1);
    for (int k = 1; k <= runs_wanted; k++) {
        char path[PATH_MAX + 16];
        run_path(path, sizeof path, base, k);
        pid_t c = fork();
        if (c < 0)
            return error("run: fork: %s", strerror(errno));
        if (c == 0) {
            setenv("PERFPROBE_OUTPUT", path, 1);
            exec_cmd(cmd, cmdv);
            error("run: cannot execute %s: %s", cmd, strerror(errno));
            _exit(127);
        }
        int st;
        while (waitpid(c, &st, 0) < 0 && errno == EINTR)
            ;
        timeline_mend(path);            /* mend.c */
        if (status_of(st) != 0) {
            fprintf(stderr, "perfprobe: run %d of %d: %s, status %d\n", k, runs_wanted, path,
                    status_of(st));
            rc = status_of(st);
            break;
        }
        if (run_read(path, &runs[done]) < 0) {
            rc = EXIT_USAGE;
            break;
        }
        fprintf(stderr, "perfprobe: run %d of %d: %s, status %d, main process %s (pid %ld",
                k, runs_wanted, path, status_of(st),
                json_string_value(json_object_get(runs[done].header, "program")), runs[done].pid);
        if (runs[done].processes > 1)
            fprintf(stderr, "; %d process images: %s", runs[done].processes, runs[done].main_why);
        fprintf(stderr, ")\n");
        done++;
    }
    if (done)
        repeat_table(runs, done);
    if (repeat_json) {
        json_t *files = json_array();
        for (int k = 0; k < done; k++)
            json_array_append_new(files, json_text(runs[k].path));
        json_t *o = json_pack("{s:i, s:o, s:o}", "runs", done, "files", files, "rows",
                              repeat_json);
        if (stdout_line_open())         /* the JSON starts a line of its own */
            putchar('\n');
        if (json_print(stdout, o, "run") && rc == 0)
            rc = EXIT_USAGE;
        json_decref(o);
        repeat_json = NULL;
    }
    for (int i = 0; i < done; i++)
        run_free(&runs[i]);
    free(runs);
    return rc;
}

/* PERFPROBE_OUTPUT's template for the process PID running CMD: %p, %n and
 * %% expanded as the shim would (the shim then finds no % left). */
static void expand_template(char *out, size_t n, const char *t, long pid, const char *cmd)
{
    const char *base = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
    size_t j = 0;
    for (size_t k = 0; t[k] && j + 1 < n; k++) {
        if (t[k] == '%' && t[k + 1] == 'p') {
            j += (size_t)snprintf(out + j, n - j, "%ld", pid);
            k++;
        } else if (t[k] == '%' && t[k + 1] == 'n') {
            for (const char *c = base; *c && j + 1 < n; c++) {
                int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                         (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.' ||
                         *c == '+';
                out[j++] = ok ? *c : '_';
            }
            k++;
        } else if (t[k] == '%' && t[k + 1] == '%') {
            out[j++] = '%';
            k++;
        } else {
            out[j++] = t[k];
        }
        if (j >= n)
            j = n - 1;
    }
    out[j] = 0;
}

/* The program died of a signal: the shim installs no handler, so the
 * record of it comes from here, appended to the tree's file (after a
 * newline if the last record was cut short by the kill). */
/* The killed program's last record may be cut short: a kill lands between
 * two pages of a write (the OOM killer, when a cgroup at its limit cannot
 * give the write its next page of the page cache).  When the file's last
 * line has no newline and is a record of PID (so not a write of another,
 * live process of the tree still going on), its bytes are overwritten in
 * place by a record saying so, padded with spaces to the same length: the
 * file keeps its size, and every line is JSON again.  A cut too short to
 * name its pid, or to hold that record, stays as it is: once the signal
 * record has ended its line, timeline_mend (mend.c) mends it with every
 * other damaged line of the file. */
static void mend_cut(const char *path, long pid, off_t size)
{
    static char tail[65536];
    off_t from = size > (off_t)sizeof tail ? size - (off_t)sizeof tail : 0;
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int rd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    ssize_t n = rd >= 0 ? pread(rd, tail, (size_t)(size - from), from) : -1;
    if (fd < 0 || n != size - from)
        goto out;
    ssize_t nl = n - 1;
    while (nl >= 0 && tail[nl] != '\n')
        nl--;
    if (nl < 0)                      /* the header itself, or a line too long */
        goto out;
    const char *cut = tail + nl + 1;
    size_t len = (size_t)(n - nl - 1);
    char who[48], rec[96];
    int w = snprintf(who, sizeof who, "\"pid\":%ld", pid);
    const char *at = memmem(cut, len, who, (size_t)w);
    if (strncmp(cut, "{\"type\":\"", 9) != 0 || !at || at + w >= cut + len ||
        (at[w] != ',' && at[w] != '}'))
        goto out;
    int r = snprintf(rec, sizeof rec, "{\"type\":\"cut\",\"pid\":%ld,\"bytes\":%zu}", pid, len);
    if ((size_t)r > len)
        goto out;
    memcpy(tail + nl + 1, rec, (size_t)r);
    memset(tail + nl + 1 + r, ' ', len - (size_t)r);
    struct stat now;
    if (fstat(fd, &now) == 0 && now.st_size == size &&
        pwrite(fd, tail + nl + 1, len, size - (off_t)len) != (ssize_t)len)
        error("run: cannot mend the record cut short in %s: %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rd >= 0)
        close(rd);
}

static void record_signal(const char *path, long pid, int sig, int core)
{
    struct stat st;
    int fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid()) {
        char last = '\n', line[160];
        if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
            last = '\n';
        if (last != '\n')
            mend_cut(path, pid, st.st_size);
        int n = snprintf(line, sizeof line,
                         "%s{\"type\":\"signal\",\"pid\":%ld,\"signal\":%d,\"core\":%s,"
                         "\"recorded_by\":\"perfprobe run\"}\n",
                         last == '\n' ? "" : "\n", pid, sig, core ? "true" : "false");
        if (write(fd, line, (size_t)n) != n)
            error("run: cannot record the signal in %s: %s", path, strerror(errno));
    }
    close(fd);
}

static pid_t child_pid;

/* A signal sent to perfprobe by a process (kill, timeout) is passed on;
 * one from the terminal (Ctrl-C, Ctrl-\\, a hang-up) reached the child
 * already, as a member of the same process group. */
static void forward_signal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    if (child_pid > 0 && !sys_signal_from_kernel(info))
        kill(child_pid, sig);
}

/* Run CMD in a child and wait: perfprobe's own exit mirrors the child's
 * (the same status, or death by the same signal). */
/* run --live: the view when stdout is a terminal (nothing otherwise) */
static int live_view;

static int run_once(const char *out, char **cmdv, const char *cmd)
{
    int st_live = 0;
    char tmpl[PATH_MAX], path[PATH_MAX + 64];
    if (out)
        snprintf(tmpl, sizeof tmpl, "%s", out);
    else
        snprintf(tmpl, sizeof tmpl, "perfprobe.%%n.%%p.jsonl");
    /* every image writes its exit table into the file; this process
     * prints the main one's when the whole tree has ended */
    setenv("PERFPROBE_TABLE", "record", 1);
    fflush(stdout);
    fflush(stderr);
    const char *oom_file;
    long oom_before = oom_kill_count(&oom_file);
    pid_t c = fork();
    if (c < 0)
        return error("run: fork: %s", strerror(errno));
    if (c == 0) {
        expand_template(path, sizeof path, tmpl, (long)getpid(), cmd);
        setenv("PERFPROBE_OUTPUT", path, 1);
        exec_cmd(cmd, cmdv);
        error("run: cannot execute %s: %s", cmd, strerror(errno));
        _exit(127);
    }
    child_pid = c;
    expand_template(path, sizeof path, tmpl, (long)c, cmd);
    const char *quiet = getenv("PERFPROBE_QUIET");
    int table = !(quiet && (!strcmp(quiet, "1") || !strcmp(quiet, "true") ||
                            !strcmp(quiet, "yes") || !strcmp(quiet, "on")));
    if (live_view)
        st_live = watch_child(c, path);     /* watch.c: it waits for the child */
    struct sigaction fwd = {0};
    fwd.sa_sigaction = forward_signal;
    fwd.sa_flags = SA_SIGINFO | SA_RESTART;
    static const int passed[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t k = 0; k < sizeof passed / sizeof *passed; k++)
        sigaction(passed[k], &fwd, NULL);
    int st = st_live;
    while (!live_view && waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st))
        record_signal(path, (long)c, WTERMSIG(st), WCOREDUMP(st) != 0);
    timeline_mend(path);                /* mend.c: every line JSON again */
    if (table && access(path, R_OK) == 0)
        tree_exit_table(path);
    if (WIFSIGNALED(st))
        killed_line(stderr, cmd, (long)c, WTERMSIG(st), oom_before);
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (!WIFSIGNALED(st))
        return 1;
    int sig = WTERMSIG(st);
    /* die the same way, without a core file of perfprobe's own */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    fflush(stdout);
    raise(sig);
    return 128 + sig;
}

/* The directory of -o FILE exists and is writable (a %p or %n in it is
 * left to the shim): else one line and -1, before anything runs. */
static int check_output_dir(const char *out)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(out, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out) + (slash == out) : 1,
             slash ? out : ".");
    struct stat st;
    if (strchr(dir, '%'))
        return 0;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        error("run: -o %s: the directory %s does not exist", out, dir);
        return -1;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        error("run: -o %s: the directory %s is not writable", out, dir);
        return -1;
    }
    return 0;
}

/* --dump-at SIZE as the shim reads PERFPROBE_DUMP_AT (shim/core/options.c):
 * decimal digits, then optionally K, M or G (powers of 1024, a B, i or iB
 * after it allowed), at most 2^50 bytes.  0 when it is one, else -1. */
static int dump_at_valid(const char *s)
{
    unsigned long long v = 0, limit = 1ull << 50;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > limit)
            return -1;
    }
    unsigned shift = 0;
    if (*p) {
        const char *units = "kKmMgG", *u = strchr(units, *p);
        if (!u)
            return -1;
        shift = 10 * (unsigned)(1 + (u - units) / 2);
        p++;
        if (*p == 'B' || *p == 'b' || *p == 'i')
            p += (*p == 'i' && (p[1] == 'B' || p[1] == 'b')) ? 2 : 1;
    }
    if (*p || v > (limit >> shift))
        return -1;
    return 0;
}

int cmd_run(int argc, char **argv)
{
    int i = 1, repeats = 0;
    const char *out = NULL;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run_usage, stdout);
            return 0;
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
            setenv("PERFPROBE_OUTPUT", out, 1);
        } else if (strcmp(a, "-i") == 0 && i + 1 < argc) {
            char *end;
            long ms = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || ms < 1 || ms > 60000)
                return error("run: -i '%s' is not an interval in milliseconds (1-60000)", argv[i]);
            setenv("PERFPROBE_INTERVAL_MS", argv[i], 1);
        } else if (strcmp(a, "--json") == 0) {
            json_decref(repeat_json);
            repeat_json = json_array();
        } else if (strcmp(a, "-q") == 0) {
            setenv("PERFPROBE_QUIET", "1", 1);
        } else if (strcmp(a, "--live") == 0) {
            live_view = isatty(1);          /* the last screen replaces the table */
            if (live_view)
                setenv("PERFPROBE_QUIET", "1", 1);
        } else if (strcmp(a, "-n") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 10000)
                return error("run: -n '%s' is not a number of runs (1-10000)", argv[i]);
            repeats = (int)n;
        } else if (strcmp(a, "--cpu") == 0 && i + 1 < argc) {
            const char *hz = argv[++i];
            char *end;
            long v = strtol(hz, &end, 10);
            if (strcmp(hz, "off") && (*end || end == hz || v < 1 || v > 10000))
                return error("run: --cpu %s: not a rate (1-10000 a second) or off", hz);
            setenv("PERFPROBE_CPU", hz, 1);
        } else if (strcmp(a, "--dump-at") == 0 && i + 1 < argc) {
            const char *size = argv[++i];
            if (dump_at_valid(size) < 0)
                return error("run: --dump-at '%s' is not a size (digits, then K, M or G; at most 1048576G)",
                             size);
            setenv("PERFPROBE_DUMP_AT", size, 1);
        } else if (strcmp(a, "--stacks") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "none") && strcmp(m, "off") && strcmp(m, "sample") && strcmp(m, "all"))
                return error("run: --stacks %s: not off, sample or all", m);
            setenv("PERFPROBE_STACKS", strcmp(m, "none") ? m : "off", 1);
        } else if (a[0] == '-') {
            fputs(run_usage, stderr);
            return error("run: unknown option '%s'", a);
        } else {
            break;
        }
    }
    if (i >= argc) {
        fputs(run_usage, stderr);
        return error("run: no command given");
    }
    if (repeat_json && !repeats)
        return error("run: --json is for the table of -n RUNS");
    if (out && check_output_dir(out) < 0)
        return EXIT_USAGE;
    char shim[PATH_MAX], cmd[PATH_MAX];
    if (find_shim(shim, sizeof shim) < 0)
        return error("run: %s not found beside the perfprobe executable or in ../lib",
                     sys_shim_name);
    int found = find_command(argv[i], cmd, sizeof cmd);
    if (found == -2)
        return error("run: %s: permission denied (not an executable file)", cmd);
    if (found < 0)
        return error("run: %s: command not found", argv[i]);
    char **cmdv = argv + i;
    int rc = sys_run_prepare(shim, cmd, sizeof cmd, &cmdv);
    if (rc)
        return rc;
    unsetenv("PERFPROBE_TREE");         /* this run starts a new tree */
    if (repeats)
        return run_repeats(repeats, out, cmdv, cmd);
    return run_once(out, cmdv, cmd);
}
