/*
 * timeline.c - the JSON Lines file: a header, samples as they are taken,
 * and a summary at normal exit (docs/format.md).
 *
 * Every record is formatted into a buffer and handed to the kernel with a
 * single write(2) under one mutex, so the file is complete up to the last
 * record whatever kills the process, and lines from different threads never
 * interleave.  Samples whose memory figures did not change since the last
 * written one are skipped, except once a second, which keeps an idle or
 * CPU-bound process's file small without losing a peak.
 *
 * The program may close our descriptor and reuse its number (daemons close
 * every fd): the file's device and inode are checked before each write and
 * the file is reopened for append when they no longer match, so a record
 * never lands in one of the program's files.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FORMAT_VERSION 1

static int fd = -1;
static dev_t fd_dev;
static ino_t fd_ino;
static char path[4200];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t samples_written, samples_taken, last_written_ns;
static struct pp_sample last;
static int have_last, closed;

const char *pp_timeline_path(void) { return path; }
uint64_t pp_timeline_samples(void) { return samples_written; }
void pp_timeline_lock(void) { pthread_mutex_lock(&lock); }
void pp_timeline_unlock(void) { pthread_mutex_unlock(&lock); }

/* ---- the path ------------------------------------------------------------- */

/* Expand %p (pid), %n (program name) and %% in the template.  A process
 * started from a traced one whose template has no %p gets ".PID" before a
 * final ".jsonl" (or at the end), so that it never overwrites another's.
 * `copy` > 1 adds ".COPY" the same way, for a name that is taken. */
static void expand_path(unsigned copy)
{
    struct pp_buf b = {path, 0, sizeof path - 1};
    const char *t = pp_opt.output;
    int add_pid = !strstr(t, "%p") && !pp_state.is_root;
    size_t tlen = strlen(t), cut = tlen;
    if ((add_pid || copy > 1) && tlen > 6 && strcmp(t + tlen - 6, ".jsonl") == 0)
        cut = tlen - 6;
    for (size_t i = 0; i < cut; i++) {
        if (t[i] == '%' && t[i + 1] == 'p') {
            pp_buf_u64(&b, (uint64_t)pp_state.pid);
            i++;
        } else if (t[i] == '%' && t[i + 1] == 'n') {
            pp_buf_str(&b, pp_state.program);
            i++;
        } else if (t[i] == '%' && t[i + 1] == '%') {
            pp_buf_raw(&b, "%", 1);
            i++;
        } else {
            pp_buf_raw(&b, t + i, 1);
        }
    }
    if (add_pid) {
        pp_buf_raw(&b, ".", 1);
        pp_buf_u64(&b, (uint64_t)pp_state.pid);
    }
    if (copy > 1) {
        pp_buf_raw(&b, ".", 1);
        pp_buf_u64(&b, copy);
    }
    pp_buf_raw(&b, t + cut, tlen - cut);
    path[b.len] = 0;
}

static int open_file(int flags)
{
    int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
    struct stat st;
    if (f >= 0 && fstat(f, &st) == 0) {
        fd_dev = st.st_dev;
        fd_ino = st.st_ino;
    }
    return f;
}

/* The descriptor still refers to our file? If not, reopen for append. */
static int check_fd(void)
{
    struct stat st;
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) == 0 && st.st_dev == fd_dev && st.st_ino == fd_ino)
        return 0;
    fd = open_file(O_APPEND);
    return fd < 0 ? -1 : 0;
}

/* Probe and counter lines wait here (under the lock) and go out with the
 * next sample, summary or signal record, in the same write: a probe costs
 * no system call of its own, and a killed process still has every probe
 * taken before its last sample. */
#define PENDING_CAP (256 * 1024)
static char *pending;
static size_t pending_len;

static void flush_pending(void)
{
    if (pending_len && check_fd() == 0)
        pp_write_all(fd, pending, pending_len);
    pending_len = 0;
}

/* Add a finished line to the pending ones; 0 if the line was cut short. */
static int queue(struct pp_buf *b)
{
    pp_buf_raw(b, "\n", 1);
    if (b->len == b->cap)              /* cut short: keep the file valid */
        return 0;
    if (!pending && !(pending = pp_os_map(PENDING_CAP)))
        pending_len = 0;
    if (pending && pending_len + b->len > PENDING_CAP)
        flush_pending();
    if (pending && b->len <= PENDING_CAP) {
        memcpy(pending + pending_len, b->p, b->len);
        pending_len += b->len;
    } else if (check_fd() == 0) {
        pp_write_all(fd, b->p, b->len);
    }
    return 1;
}

/* A line that goes out now, with whatever is pending before it. */
static void emit(struct pp_buf *b)
{
    queue(b);
    flush_pending();
}

/* ---- records -------------------------------------------------------------- */

static void key_u64(struct pp_buf *b, const char *k, uint64_t v) { pp_buf_key(b, k); pp_buf_u64(b, v); }
static void key_i64(struct pp_buf *b, const char *k, int64_t v) { pp_buf_key(b, k); pp_buf_i64(b, v); }
static void key_s(struct pp_buf *b, const char *k, uint64_t ns, unsigned dec)
{
    pp_buf_key(b, k);
    pp_buf_fixed(b, (int64_t)ns, 9, dec);
}

static void header(void)
{
    static char cmd[4096];
    char line[8192];
    struct pp_buf b = {line, 0, sizeof line - 1};
    int cf = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = cf >= 0 ? read(cf, cmd, sizeof cmd - 1) : -1;
    if (cf >= 0)
        close(cf);
    pp_buf_str(&b, "{\"type\":\"header\",\"format\":\"perfprobe-timeline\"");
    key_u64(&b, "version", FORMAT_VERSION);
    key_u64(&b, "pid", (uint64_t)pp_state.pid);
    key_u64(&b, "ppid", (uint64_t)pp_state.ppid);
    key_u64(&b, "root_pid", (uint64_t)pp_state.root_pid);
    pp_buf_key(&b, "program");
    pp_buf_json_str(&b, pp_state.program, sizeof pp_state.program);
    pp_buf_key(&b, "argv");
    pp_buf_raw(&b, "[", 1);
    for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strlen(cmd + i) + 1) {
        cmd[n] = 0;
        if (i)
            pp_buf_raw(&b, ",", 1);
        pp_buf_json_str(&b, cmd + i, (size_t)(n - i));
    }
    pp_buf_raw(&b, "]", 1);
    pp_buf_key(&b, "start_unix_s");
    pp_buf_fixed(&b, (int64_t)pp_state.start_unix_ns, 9, 6);
    key_u64(&b, "interval_ms", pp_opt.interval_ms);
    key_u64(&b, "batch_bytes", pp_opt.batch_bytes);
    key_u64(&b, "page_size", (uint64_t)sysconf(_SC_PAGESIZE));
    pp_buf_key(&b, "allocator");
    pp_buf_json_str(&b, pp_allocator_name(), 32);
    pp_buf_key(&b, "usable_size");
    pp_buf_json_str(&b, pp_usable_method(), 32);
    pp_buf_raw(&b, "}", 1);
    emit(&b);
}

/* The first traced process replaces an old file of the same name, as a
 * re-run should; any later image (a descendant, or the root after exec,
 * which keeps its pid) never does, and takes the next free ".N" instead. */
void pp_timeline_open(void)
{
    unsigned copy = 1;
    do {
        expand_path(copy);
        fd = open_file(pp_state.first_image ? O_TRUNC : O_EXCL);
    } while (fd < 0 && errno == EEXIST && ++copy < 1000);
    if (fd < 0) {
        if (pp_state.first_image)
            pp_warn("cannot write the timeline to '", path, "': ", strerror(errno));
        path[0] = 0;
        return;
    }
    header();
}

/* The compact sample line; keys are short because it is the bulk of the
 * file, and "hwm" appears only when the high-water mark moved since the
 * previous sample line (readers carry the last value forward). */
static void sample_line(struct pp_buf *b, const struct pp_sample *s)
{
    pp_buf_str(b, "{\"type\":\"sample\"");
    key_s(b, "t_s", s->t_ns, 4);
    key_u64(b, "rss", s->proc.rss);
    if (!have_last || s->proc.hwm != last.proc.hwm)
        key_u64(b, "hwm", s->proc.hwm);
    key_i64(b, "heap", s->heap.bytes);
    key_i64(b, "heap_max", s->heap.window_peak);
    key_u64(b, "anon", s->maps.anon);
    key_u64(b, "file", s->maps.file);
    key_s(b, "user_s", s->cpu.user_ns, 3);
    key_s(b, "sys_s", s->cpu.sys_ns, 3);
    key_u64(b, "minflt", s->cpu.minflt);
    key_u64(b, "majflt", s->cpu.majflt);
    if (s->has_parts) {               /* [heap, mmap, file, stack, other] */
        const struct pp_parts *p = &s->parts;
        uint64_t v[5] = {p->heap, p->mmap, p->file, p->stack, p->other};
        pp_buf_key(b, "parts");
        for (int i = 0; i < 5; i++) {
            pp_buf_raw(b, i ? "," : "[", 1);
            pp_buf_u64(b, v[i]);
        }
        pp_buf_raw(b, "]", 1);
    }
    pp_buf_raw(b, "}", 1);
}

/* "KEY":{"heap":...,"heap_untouched":N[,"jemalloc":{...}]}; the RSS the
 * parts add up to is inside unless the record has it already (probes) */
static void parts_json(struct pp_buf *b, const char *key, const struct pp_parts *p,
                       const uint64_t *t_ns, int with_rss_outside)
{
    pp_buf_key(b, key);
    pp_buf_raw(b, "{", 1);
    if (t_ns)
        key_s(b, "t_s", *t_ns, 4);
    if (t_ns || !with_rss_outside)
        key_u64(b, "rss_bytes", p->rss);
    key_u64(b, "heap", p->heap);
    key_u64(b, "mmap", p->mmap);
    key_u64(b, "file", p->file);
    key_u64(b, "stack", p->stack);
    key_u64(b, "other", p->other);
    key_u64(b, "shmem", p->shmem);
    key_u64(b, "perfprobe", p->perfprobe);
    key_i64(b, "heap_untouched", p->heap_untouched);
    if (p->has_je) {
        pp_buf_key(b, "jemalloc");
        pp_buf_raw(b, "{", 1);
        key_u64(b, "allocated", p->je_allocated);
        key_u64(b, "active", p->je_active);
        key_u64(b, "resident", p->je_resident);
        pp_buf_raw(b, "}", 1);
    }
    pp_buf_raw(b, "}", 1);
}

static int changed(const struct pp_sample *s)
{
    return !have_last || s->proc.rss != last.proc.rss ||
           s->heap.bytes != last.heap.bytes ||
           s->heap.window_peak != last.heap.bytes ||
           s->maps.anon != last.maps.anon || s->maps.file != last.maps.file;
}

void pp_timeline_sample(const struct pp_sample *s, int force)
{
    char line[512];
    pthread_mutex_lock(&lock);
    samples_taken++;
    if (!closed && fd >= 0 &&
        (force || changed(s) || s->t_ns - last_written_ns >= 1000000000u)) {
        struct pp_buf b = {line, 0, sizeof line};
        sample_line(&b, s);
        emit(&b);
        samples_written++;
        last_written_ns = s->t_ns;
        last = *s;
        have_last = 1;
    } else if (pending_len) {
        flush_pending();
    }
    pthread_mutex_unlock(&lock);
}

void pp_timeline_signal(int signo)
{
    static char line[1024];
    struct pp_sample s;
    if (pthread_mutex_trylock(&lock) != 0)
        return;                        /* never wait in a signal handler */
    if (!closed && fd >= 0) {
        pp_sample_take(&s, PP_SAMPLE_NONBLOCK);
        struct pp_buf b = {line, 0, sizeof line};
        sample_line(&b, &s);
        emit(&b);
        samples_written++;
        b.len = 0;
        pp_buf_str(&b, "{\"type\":\"signal\"");
        key_s(&b, "t_s", s.t_ns, 6);
        key_u64(&b, "signal", (uint64_t)signo);
        pp_buf_raw(&b, "}", 1);
        emit(&b);
    }
    closed = 1;
    pthread_mutex_unlock(&lock);
}

#define LABEL_MAX 4096              /* input bytes of a label or name kept */
static char big[8 * LABEL_MAX];     /* probe and counter lines, under the lock */

void pp_timeline_probe(const struct pp_probe_record *r)
{
    pthread_mutex_lock(&lock);
    if (!closed && fd >= 0) {
        struct pp_buf b = {big, 0, sizeof big};
        pp_buf_str(&b, "{\"type\":\"probe\"");
        pp_buf_key(&b, "label");
        pp_buf_json_str(&b, r->label, LABEL_MAX);
        key_u64(&b, "thread", (uint64_t)pp_tid());
        key_s(&b, "t_s", r->t_ns, 6);
        key_s(&b, "dt_s", r->dt_ns, 6);
        key_s(&b, "overhead_s", r->overhead_ns, 6);
        key_u64(&b, "rss_bytes", r->rss);
        key_i64(&b, "d_rss_start", (int64_t)(r->rss - r->rss_start));
        key_i64(&b, "d_rss_last", (int64_t)(r->rss - r->rss_last));
        key_i64(&b, "heap_bytes", r->heap);
        key_i64(&b, "d_heap_start", r->heap - r->heap_start);
        key_i64(&b, "d_heap_last", r->heap - r->heap_last);
        key_i64(&b, "peak_heap_since_last", r->peak_heap);
        key_u64(&b, "peak_rss_since_last", r->peak_rss);
        pp_buf_key(&b, "peak_rss_source");
        pp_buf_str(&b, r->peak_rss_exact ? "\"hwm\"" : "\"sampled\"");
        key_u64(&b, "allocs_since_last", r->allocs);
        key_u64(&b, "frees_since_last", r->frees);
        key_s(&b, "cpu_user_s_since_last", r->user_ns, 6);
        key_s(&b, "cpu_sys_s_since_last", r->sys_ns, 6);
        if (r->parts)
            parts_json(&b, "rss_parts", r->parts, NULL, 1);
        pp_buf_raw(&b, "}", 1);
        queue(&b);
    }
    pthread_mutex_unlock(&lock);
}

void pp_timeline_counter(const char *name, double value, uint64_t t_ns)
{
    pthread_mutex_lock(&lock);
    if (!closed && fd >= 0) {
        struct pp_buf b = {big, 0, sizeof big};
        pp_buf_str(&b, "{\"type\":\"counter\"");
        key_s(&b, "t_s", t_ns, 6);
        pp_buf_key(&b, "name");
        pp_buf_json_str(&b, name, LABEL_MAX);
        pp_buf_key(&b, "value");
        pp_buf_double(&b, value);
        key_u64(&b, "thread", (uint64_t)pp_tid());
        pp_buf_raw(&b, "}", 1);
        queue(&b);
    }
    pthread_mutex_unlock(&lock);
}

static void key_ns(struct pp_buf *b, const char *k, double ns)
{
    pp_buf_key(b, k);
    pp_buf_double(b, ns < 1e15 ? (double)(int64_t)(ns + 0.5) : ns);
}

static void regions_json(struct pp_buf *b)
{
    struct pp_region_stats st;
    pp_buf_key(b, "regions");
    pp_buf_raw(b, "[", 1);
    for (size_t i = 0; pp_region_stats(i, &st); i++) {
        if (i)
            pp_buf_raw(b, ",", 1);
        pp_buf_raw(b, "{", 1);
        pp_buf_key(b, "name");
        pp_buf_json_str(b, st.name, LABEL_MAX);
        pp_buf_key(b, "path");
        pp_buf_json_str(b, st.path, 4 * LABEL_MAX);
        key_u64(b, "depth", (uint64_t)st.depth);
        key_u64(b, "count", st.count);
        pp_buf_key(b, "total_s");
        pp_buf_double(b, st.total_ns * 1e-9);
        key_ns(b, "mean_ns", st.mean_ns);
        key_ns(b, "min_ns", st.min_ns);
        key_ns(b, "max_ns", st.max_ns);
        key_ns(b, "p50_ns", st.p50_ns);
        key_ns(b, "p90_ns", st.p90_ns);
        key_ns(b, "p95_ns", st.p95_ns);
        key_ns(b, "p99_ns", st.p99_ns);
        key_ns(b, "p999_ns", st.p999_ns);
        pp_buf_key(b, "per_s");
        pp_buf_double(b, st.span_ns > 0 ? (double)st.count / (st.span_ns * 1e-9) : 0);
        pp_buf_raw(b, "}", 1);
    }
    pp_buf_raw(b, "]", 1);
}

void pp_timeline_summary(const struct pp_sample *end)
{
    char small[4096];
    size_t cap = 4096 + pp_region_count() * (1024 + 5 * LABEL_MAX);
    char *line = cap > sizeof small ? pp_os_map(cap) : NULL;
    if (!line) {
        line = small;
        cap = sizeof small;
    }
    struct timespec until;
    /* a thread killed mid-write, or exit() from a signal handler that
     * interrupted a writer, must not hang the exit: wait a second at most */
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    if (pthread_mutex_timedlock(&lock, &until) != 0)
        return;
    if (!closed && fd >= 0) {
        struct pp_buf b = {line, 0, cap};
        pp_buf_str(&b, "{\"type\":\"summary\"");
        key_s(&b, "t_s", end->t_ns, 6);
        key_s(&b, "wall_s", end->t_ns, 6);
        key_s(&b, "cpu_user_s", end->cpu.user_ns, 6);
        key_s(&b, "cpu_sys_s", end->cpu.sys_ns, 6);
        key_u64(&b, "peak_rss_bytes", end->proc.hwm);
        key_u64(&b, "rss_bytes_at_exit", end->proc.rss);
        key_i64(&b, "peak_heap_bytes", end->heap.peak);
        key_i64(&b, "heap_bytes_at_exit", end->heap.bytes);
        key_u64(&b, "peak_mmap_bytes", end->maps.peak);
        key_u64(&b, "mmap_anon_bytes_at_exit", end->maps.anon);
        key_u64(&b, "mmap_file_bytes_at_exit", end->maps.file);
        key_u64(&b, "allocs", end->heap.allocs);
        key_u64(&b, "frees", end->heap.frees);
        key_u64(&b, "reallocs", end->heap.reallocs);
        key_u64(&b, "minflt", end->cpu.minflt);
        key_u64(&b, "majflt", end->cpu.majflt);
        key_u64(&b, "samples", samples_written);
        key_u64(&b, "samples_taken", samples_taken);
        size_t dropped, probes = pp_probe_count(&dropped);
        key_u64(&b, "probes", probes + dropped);
        if (end->has_parts)
            parts_json(&b, "rss_parts_at_exit", &end->parts, NULL, 0);
        struct pp_parts peak;
        uint64_t peak_t;
        if (pp_parts_peak(&peak, &peak_t) == 0)
            parts_json(&b, "rss_parts_at_peak", &peak, &peak_t, 0);
        regions_json(&b);
        pp_buf_raw(&b, "}", 1);
        emit(&b);
    }
    closed = 1;        /* the lock is kept: nothing is written after this */
}

/* In a forked child: the parent's descriptor is the parent's file. */
void pp_timeline_after_fork_child(void)
{
    if (fd >= 0)
        close(fd);
    fd = -1;
    pending_len = 0;                   /* the parent writes those */
    samples_written = samples_taken = last_written_ns = 0;
    have_last = closed = 0;
    pthread_mutex_unlock(&lock);
    if (pp_opt.output[0])
        pp_timeline_open();
}
