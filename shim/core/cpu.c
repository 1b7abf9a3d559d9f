/*
 * cpu.c - where the CPU goes: each thread's user stacks, sampled by the
 * kernel and read by the sampler thread.
 *
 * This file is the policy and the record; the kernel's side (opening an
 * event, its ring buffer, the list of threads) is sys/linux/perf.c.
 *
 * The first rule forbids the usual profiler's tools (a SIGPROF handler, a
 * timer the program can see, work in the hooks), so the sampling is the
 * kernel's: one perf_event_open task-clock event per thread of the process
 * (pid = the thread's id, cpu = -1), which every PERFPROBE_CPU-th of a second
 * of that thread's CPU time writes a sample into a ring buffer mapped here:
 * the user registers (ip, sp, bp), a copy of the top STACK_BYTES of the user
 * stack, and the kernel's frame-pointer walk of the user stack.  Nothing runs
 * in the program's threads; the sampler thread, once a tick:
 *   - lists /proc/self/task (a directory descriptor kept high, read from
 *     offset 0 each tick) and opens an event for each thread it has not
 *     seen, and drains then closes the event of each thread gone;
 *   - drains every ring buffer: each sample's stack is walked over the copy
 *     with cfi.c's call-frame walker, or, where that walk stops short of
 *     the outermost frame, taken from the kernel's frame-pointer chain when
 *     that is longer; stacks are de-duplicated in a tree of this file's
 *     own (a node is a frame and the stack of its callers: only the sampler
 *     thread touches it, no lock), each node written once;
 *   - attributes each sample to the innermost region its thread has open
 *     (region.c, read from outside without the owner's help).
 * The ticks' samples are held and written together, one "cpu" record every
 * BATCH_TICKS ticks (the first ones sooner: 1, 2, 4 ... ticks; and at exit,
 * before an exec, when the batch is full):
 * each tick's read time, and per tick its samples as stack ids, with the
 * batch's threads and regions and its new stack nodes said once a record
 * (docs/format.md).  A record a tick cost more than the samples themselves
 * on a busy program (docs/cpu.md: 1.64 MB a minute of timeline on churn,
 * now under 1); a killed run loses the samples of its last BATCH_TICKS
 * ticks at most.
 * The kernel only samples user mode (exclude_kernel, which
 * perf_event_paranoid 2 requires): time spent in system calls is not seen.
 *
 * An event keeps no descriptor: sys/linux/perf.c opens it, maps its ring
 * buffer and closes the descriptor, apart from the program's descriptor
 * table (sys/linux/apart.c); the mapping keeps the event until it is
 * unmapped.  The one descriptor kept, /proc/self/task's, is opened by the
 * program's thread before the sampler starts (pp_cpu_prime), which also
 * reads the interpreter's symbols there when sites.c did not.  Mappings
 * are made with the raw system call, never through the shim's mmap hook.
 * Where the kernel refuses (perf_event_paranoid 3, a seccomp filter, no
 * perf events in a container) one line from the root says so (a note
 * under PERFPROBE_QUIET, and in the processes it starts) and the run goes
 * on without CPU samples.  A forked child forgets its parent's events (they
 * are the parent's threads; the kernel did not copy their buffers) and
 * opens its own.
 *
 * On macOS the same interface (sys.h) is sys/macos/perf.c: there is no
 * perf_event, so the sampler thread takes each thread's stack itself,
 * suspended for the time of a frame-pointer walk, once a drain when the
 * thread has used a sampling period of CPU time; the samples come with
 * the chain only (walked_fp), and cpu_info names the clock.  Built, not run
 * on a Mac (docs/macos.md).
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <string.h>

#define MAX_EVENTS   1024
#define STACK_BYTES  8192u
#define MAX_FRAMES   128
#define NODE_SLOTS   (1u << 17)              /* the stack tree's index */
#define MAX_NODES    (NODE_SLOTS / 2)        /* its nodes */
#define BATCH_TICKS  50                      /* ticks a cpu record holds at most */
/* A record spans 1 tick, then 2, 4 ... up to BATCH_TICKS: a short-lived
 * image (a forked child that ends with _exit, which runs no code of the
 * shim) loses at most about half of its samples, a long one the last
 * BATCH_TICKS ticks' */
#define MAX_ENTRIES  8192                    /* (tick, thread, stack) counts a record */
#define MAX_THREADS  256                     /* (thread, region) pairs a record */
#define MAX_PENDING  4096                    /* new nodes a record */
#define OUT_BYTES    (256u << 10)
#define OUT_ROOM     (OUT_BYTES - 32768)     /* the estimate that ends a record (a sample adds 14 KB at most) */
#define MAX_TIDS     8192                    /* threads listed a tick */
#define SCRATCH      (STACK_BYTES + 4096 + MAX_FRAMES * 8)
/* what cpu_info says the samples are: the kernel's task-clock event and its
 * copy of the stack; on macOS the sampler's own (thread user time, no copy) */
#if defined(__APPLE__)
#define SAMPLE_CLOCK "thread-user-time"
#define COPIED_BYTES 0u
#else
#define SAMPLE_CLOCK "task-clock"
#define COPIED_BYTES STACK_BYTES
#endif

struct node { uintptr_t frame; uint32_t up; };      /* up: the callers' node, 0 none */
struct pend { uintptr_t frame; uint32_t id, up; };  /* a node not yet written */
struct ent { uint32_t stack, count, thr; };         /* samples of a tick, thread, stack */
struct tick { uint64_t us; uint32_t first; };       /* read at; its first entry */
struct thr { pid_t tid; const char *region; };

static struct pp_perf_ev *evs;
static int n_evs;
static int state;                    /* 0 not tried, 1 on, -1 off */
/* every buffer of start() is mapped: set last, so that a child forked
 * while the parent's sampler was inside start() (some pointers set, others
 * not yet) maps what is missing instead of taking the buffers for ready */
static int started;
static int warned_limit, info_written;
static struct pp_fd task_dir = {-1, 0, 0};
static uint64_t period_ns, hz;
static size_t data_pages;
static pid_t self_tid;

static uint32_t *node_index;          /* NODE_SLOTS: node id, 0 empty */
static struct node *nodes;            /* by id (0 unused) */
static uint32_t n_nodes;

/* the batch: the record being gathered */
static struct pend *pend;
static uint32_t n_pend;
static struct ent *ents;
static uint32_t n_ents, tick_first;   /* entries; the open tick's first */
static struct tick *tks;
static uint32_t n_tks;                /* ticks closed in the batch */
static struct thr *thrs;
static uint32_t n_thrs;
static uint64_t tick_no, batch_tick;  /* sampler ticks; the batch's first */
static unsigned batch_len = 1;        /* ticks this record may span */
static size_t est;                    /* bytes the record may take */
static uint64_t lost, total, by_cfi, by_fp, t_first;
static uint64_t py_samples, py_unreadable, py_missed;   /* final record */
static uint64_t py_age[3];           /* read < 1 ms, < 5 ms, later after the sample */
static uint64_t py_read_ns;          /* when the thread's Python frames were read */

/* the Python frames of the thread being drained, read once a drain at the
 * first sample whose stack is in the interpreter (py_read: 0 not yet, 1
 * read, -1 not to be read: the thread has ended) */
static struct pp_py_stack py;
static int py_read;

/* The Python frames are read when the sampler drains a thread's buffer,
 * not when the kernel took the sample: a tick (10 ms) later at worst, and
 * the program may have moved on.  So a thread whose samples had Python
 * frames is drained again between ticks, READ_AFTER past the moment its
 * next sample is due if it keeps running (its last sample's time plus the
 * period: the period is of the thread's CPU time), but no sooner than
 * READ_GAP after this read (at high rates: fewer wake-ups).  A thread that
 * does not run meanwhile has no sample then; it is read at the tick. */
#define READ_AFTER 200000u
#define READ_GAP   1000000u
static uint64_t read_at;              /* 0: at the next tick */
static uint64_t drained_early;
static char *out;
static char *scratch;                /* a record that wraps the ring */
static pid_t *tids;                  /* this tick's list */

static pp_lock_t lock = PP_LOCK_INIT;

/* ---- starting ------------------------------------------------------------- */

/* A refusal met at run time: said by the tree's first process (a line,
 * or a note under PERFPROBE_QUIET); a note only in the processes it
 * started, which most likely meet what it met and said (one line a run,
 * not one a process of the tree) */
static void say(const char *a, const char *b, const char *c)
{
    if (pp_state.is_root)
        pp_notice(a, b, c);
    else
        pp_timeline_note3(a, b, c);
}

/* The kernel refused to read the process's own memory (a seccomp filter
 * on process_vm_readv): the stacks copied from the ring buffers cannot be
 * walked with the call-frame tables, nor Python's frames read.  Said once
 * a process, as say_off: a line from the root, a note from the others, a
 * note only under PERFPROBE_QUIET. */
static int unread_said;

static void say_unread(void)
{
    int err = unread_said ? 0 : pp_os_peek_refused();
    if (!err)
        return;
    unread_said = 1;
    say("the kernel refuses process_vm_readv on the process itself (", pp_err_text(err),
        "); CPU samples keep only the frames the kernel walked by frame pointers, and "
        "no Python frames");
}

static void say_off(int err)
{
    const char *why = err == EACCES || err == EPERM
                          ? "the kernel refuses perf_event_open (perf_event_paranoid, "
                            "a seccomp filter or the container)"
                      : err == ENOSYS ? "perf_event_open is not available"
                                      : "the kernel has no task-clock event here";
    say(why, "; no CPU samples (PERFPROBE_CPU=off: no attempt)", "");
    struct pp_buf b = {out, 0, OUT_BYTES - 64};
    pp_buf_str(&b, "{\"type\":\"cpu_info\",\"t_s\":");
    pp_buf_fixed(&b, (int64_t)(pp_now_ns() - pp_state.start_ns), 9, 6);
    pp_buf_key(&b, "off");
    pp_buf_json_str(&b, pp_err_text(err), 128);
    pp_buf_str(&b, "}");
    pp_timeline_record(&b);
}

/* PERFPROBE_CPU as options.c keeps it: off or a rate's digits (a bad
 * value was warned about there, by the first image only, and the default
 * kept) */
static int off_wanted(void)
{
    return !pp_opt.cpu[0] || !strcmp(pp_opt.cpu, "off");
}

/* 1 to sample, 0 for off */
static int wanted(void)
{
    const char *v = pp_opt.cpu;
    if (off_wanted())
        return 0;
    uint64_t n = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9' && n < 100000; p++)
        n = n * 10 + (uint64_t)(*p - '0');
    if (*p || n < 1 || n > 10000)
        n = 99;
    hz = n;
    period_ns = 1000000000u / n;
    /* room for four ticks of samples, a power of two of pages */
    uint64_t per_tick = n * pp_opt.interval_ms / 1000 + 1;
    size_t want = (size_t)(per_tick * 4 * (STACK_BYTES + 1024)), pages = 4;
    while (pages * 4096 < want && pages < 256)
        pages *= 2;
    data_pages = pages;
    return 1;
}

static int start(void)
{
    if (!wanted())
        return -1;
    if (!evs)
        evs = pp_os_map(MAX_EVENTS * sizeof *evs);
    if (!node_index)
        node_index = pp_os_map(NODE_SLOTS * sizeof *node_index);
    if (!nodes)
        nodes = pp_os_map((MAX_NODES + 1) * sizeof *nodes);
    if (!pend)
        pend = pp_os_map(MAX_PENDING * sizeof *pend);
    if (!ents)
        ents = pp_os_map(MAX_ENTRIES * sizeof *ents);
    if (!tks)
        tks = pp_os_map((BATCH_TICKS + 2) * sizeof *tks);
    if (!thrs)
        thrs = pp_os_map(MAX_THREADS * sizeof *thrs);
    if (!out)
        out = pp_os_map(OUT_BYTES);
    if (!scratch)
        scratch = pp_os_map(SCRATCH + 4096);
    if (!tids)
        tids = pp_os_map(MAX_TIDS * sizeof *tids);
    if (!evs || !node_index || !nodes || !pend || !ents || !tks || !thrs || !out || !scratch ||
        !tids)
        return -1;
    pp_cfi_ready();
    self_tid = pp_tid();
    started = 1;
    return 1;
}

/* ---- events ------------------------------------------------------------------ */

/* The list of modules and the interpreter's symbols, which sites.c reads
 * when allocation stacks are on, read here otherwise, on the program's
 * thread: pp_py_init asks the loader (dlsym, dladdr1), which takes the
 * loader's lock and, for a name it lacks (the first one, in a program
 * without Python), allocates the message of the failed look-up; the
 * sampler thread does neither (sys/linux/single.c).  Once: a forked
 * child or a sampler started again keeps what was read. */
static void py_prime(void)
{
    static int primed;
    if (primed || pp_sites_mode != PP_STACKS_OFF)
        return;
    primed = 1;
    pp_modules_init();
    pp_py_init();
}

void pp_cpu_prime(void)
{
    if (!off_wanted()) {
        pp_task_dir_open(&task_dir);
        py_prime();
    }
}

/* UNMAP: 0 in a forked child (sys/linux/perf.c) */
static void close_ev(struct pp_perf_ev *e, int unmap)
{
    pp_perf_close(e, unmap);
    *e = evs[--n_evs];
}

/* A new thread's event E, opened (ERR 0; or the thread is gone: ESRCH,
 * taken for 0) or refused with ERR; SAVED: errno for a return */
static void write_info(void);

static void opened(struct pp_perf_ev *e, int err, int saved)
{
    if (err == 0 && e->meta) {
        e->seen = 1;
        evs[n_evs++] = *e;
    }
    if (err == 0 && !info_written && n_evs) {
        info_written = 1;
        write_info();
    }
    if (err == 0)
        return;
    if (n_evs == 0 && state == 1 && total == 0 && !warned_limit) {
        /* the first thread already refused: the kernel says no */
        state = -1;
        say_off(err);
        errno = saved;
    } else if (!warned_limit++) {
        pp_notice("cannot sample a new thread's CPU (", pp_err_text(err),
                  "); it and later refused threads are not sampled");
    }
}

/* ---- stacks ------------------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* the node of FRAME called from stack UP (0 when the tree is full); a new
 * one joins the batch's, *FRESH set */
static uint32_t node(uint32_t up, uintptr_t frame, int *fresh)
{
    uint64_t h = mix(((uint64_t)up << 32) ^ mix(frame));
    for (uint32_t i = (uint32_t)h & (NODE_SLOTS - 1), k = 0; k < NODE_SLOTS;
         k++, i = (i + 1) & (NODE_SLOTS - 1)) {
        uint32_t id = node_index[i];
        if (id) {
            if (nodes[id].up == up && nodes[id].frame == frame)
                return id;
            continue;
        }
        if (n_nodes >= MAX_NODES || n_pend >= MAX_PENDING)
            return 0;
        id = ++n_nodes;
        node_index[i] = id;
        nodes[id] = (struct node){frame, up};
        pend[n_pend++] = (struct pend){frame, id, up};
        est += 48;
        if (!*fresh && !PP_IS_PY_MARK(frame) && pp_modules_find(frame) < 0) {
            pp_modules_refresh();
            pp_py_look();
        }
        *fresh = 1;
        return id;
    }
    return 0;
}

/* the id of stack F[0..n), innermost first: its innermost frame's node
 * (0 when the tree is full) */
static uint32_t intern(const uintptr_t *f, int n)
{
    uint32_t id = 0;
    int fresh = 0;
    for (int i = n; i-- > 0;)
        if ((id = node(id, f[i], &fresh)) == 0)
            break;
    if (fresh) {                     /* before the record that uses them */
        struct pp_buf b = {out, 0, OUT_BYTES - 64};
        pp_sites_write_modules(&b);
        pp_py_write(&b);             /* the Python frames it names */
    }
    return id;
}

/* ---- the batch: the cpu record ------------------------------------------- */

static void close_tick(void)
{
    if (n_ents == tick_first)
        return;                      /* nothing read this tick */
    if (n_tks == 0)
        batch_tick = tick_no;
    tks[n_tks++] = (struct tick){(pp_now_ns() - pp_state.start_ns + 500) / 1000, tick_first};
    tick_first = n_ents;
    est += 24;
}

/* Every tick's read time (µs after "t0", then after the tick before) and
 * its samples: a stack id a sample of the current thread (the batch's first
 * at each tick's start), [stack, count] for several, -(k+1) to make the
 * batch's k-th (thread, region) the current one. */
static void write_ticks(struct pp_buf *b)
{
    if (n_tks) {
        pp_buf_key(b, "t0");
        pp_buf_fixed(b, (int64_t)tks[0].us, 6, 6);
    }
    pp_buf_key(b, "threads");
    pp_buf_raw(b, "[", 1);
    for (uint32_t k = 0; k < n_thrs; k++) {
        pp_buf_str(b, k ? ",[" : "[");
        pp_buf_u64(b, (uint64_t)thrs[k].tid);
        pp_buf_raw(b, ",", 1);
        if (thrs[k].region)
            pp_buf_json_str(b, thrs[k].region, 256);
        else
            pp_buf_str(b, "null");
        pp_buf_raw(b, "]", 1);
    }
    pp_buf_str(b, "]");
    pp_buf_key(b, "stacks");
    pp_buf_raw(b, "[", 1);
    for (uint32_t i = 0; i < n_pend; i++) {
        pp_buf_str(b, i ? ",[" : "[");
        pp_buf_u64(b, pend[i].id);
        pp_buf_raw(b, ",", 1);
        pp_buf_u64(b, pend[i].up);
        pp_buf_raw(b, ",", 1);
        if (PP_IS_PY_MARK(pend[i].frame))
            pp_buf_i64(b, (int64_t)pend[i].frame);   /* a Python frame: its pyframe id, negated */
        else
            pp_buf_u64(b, pend[i].frame);
        pp_buf_raw(b, "]", 1);
    }
    pp_buf_str(b, "]");
    pp_buf_key(b, "ticks");
    pp_buf_raw(b, "[", 1);
    for (uint32_t t = 0; t < n_tks; t++) {
        pp_buf_str(b, t ? ",[" : "[");
        pp_buf_u64(b, tks[t].us - tks[t ? t - 1 : 0].us);
        uint32_t end = t + 1 < n_tks ? tks[t + 1].first : n_ents, cur = 0;
        for (uint32_t i = tks[t].first; i < end; i++) {
            const struct ent *e = &ents[i];
            if (e->thr != cur) {
                cur = e->thr;
                pp_buf_raw(b, ",", 1);
                pp_buf_i64(b, -(int64_t)cur - 1);
            }
            pp_buf_raw(b, ",", 1);
            if (e->count > 1) {
                pp_buf_raw(b, "[", 1);
                pp_buf_u64(b, e->stack);
                pp_buf_raw(b, ",", 1);
                pp_buf_u64(b, e->count);
                pp_buf_raw(b, "]", 1);
            } else {
                pp_buf_u64(b, e->stack);
            }
        }
        pp_buf_raw(b, "]", 1);
    }
    pp_buf_str(b, "]");
}

static void write_batch(int final)
{
    close_tick();
    if (!n_tks && !n_pend && !final)
        return;
    struct pp_buf b = {out, 0, OUT_BYTES - 64};
    pp_buf_str(&b, "{\"type\":\"cpu\",\"t_s\":");
    pp_buf_fixed(&b, (int64_t)(pp_now_ns() - pp_state.start_ns), 9, 6);
    pp_buf_key(&b, "period_ns");
    pp_buf_u64(&b, period_ns);
    if (lost) {
        pp_buf_key(&b, "lost");
        pp_buf_u64(&b, lost);
        lost = 0;
    }
    if (final) {
        pp_buf_str(&b, ",\"final\":true");
        pp_buf_key(&b, "total");
        pp_buf_u64(&b, total);
        pp_buf_key(&b, "walked_cfi");
        pp_buf_u64(&b, by_cfi);
        pp_buf_key(&b, "walked_fp");
        pp_buf_u64(&b, by_fp);
        pp_buf_key(&b, "events");
        pp_buf_u64(&b, (uint64_t)n_evs);
        if (drained_early) {
            pp_buf_key(&b, "read_between_ticks");
            pp_buf_u64(&b, drained_early);
        }
        if (py_samples || py_missed) {
            pp_buf_key(&b, "python");
            pp_buf_u64(&b, py_samples);
            pp_buf_key(&b, "python_unreadable");
            pp_buf_u64(&b, py_unreadable);
            pp_buf_key(&b, "python_missed");
            pp_buf_u64(&b, py_missed);
            pp_buf_str(&b, ",\"python_read_after\":{\"under_1ms\":");
            pp_buf_u64(&b, py_age[0]);
            pp_buf_str(&b, ",\"under_5ms\":");
            pp_buf_u64(&b, py_age[1]);
            pp_buf_str(&b, ",\"later\":");
            pp_buf_u64(&b, py_age[2]);
            pp_buf_str(&b, "}");
        }
    }
    write_ticks(&b);
    pp_buf_str(&b, "}");
    n_ents = tick_first = n_tks = n_thrs = n_pend = 0;
    est = 0;
    batch_len = batch_len * 2 < BATCH_TICKS ? batch_len * 2 : BATCH_TICKS;
    pp_timeline_record(&b);
}

/* the batch full (or its record as long as it may be): written now, the
 * tick's samples so far as a tick read now */
static void make_room(void)
{
    if (n_ents + 1 >= MAX_ENTRIES || n_thrs + 1 >= MAX_THREADS || est >= OUT_ROOM ||
        n_pend + PP_STACK_MAX >= MAX_PENDING)
        write_batch(0);
}

static void count(pid_t tid, uint32_t stack, const char *region)
{
    for (uint32_t i = n_ents; i-- > tick_first;)
        if (ents[i].stack == stack && thrs[ents[i].thr].tid == tid &&
            thrs[ents[i].thr].region == region) {
            ents[i].count++;
            return;
        }
    make_room();
    uint32_t k = 0;
    while (k < n_thrs && (thrs[k].tid != tid || thrs[k].region != region))
        k++;
    if (k == n_thrs) {
        thrs[n_thrs++] = (struct thr){tid, region};
        est += 40 + (region ? 6 * strlen(region) : 0);
    }
    ents[n_ents++] = (struct ent){stack, 1, k};
    est += 32;
}

/* ---- reading the ring buffers ------------------------------------------------ */

static struct pp_perf_sample one;    /* only the sampler thread: not on its stack */
static pid_t one_tid;                /* the thread of the sample being read */

/* the thread's Python frames, read now, put where the sample's stack has
 * the interpreter's evaluation frames */
static int add_python(uintptr_t *frames, int n, int complete)
{
    if (py_read < 0 || pp_py_evals(frames, n) == 0)
        return n;
    if (py_read == 0) {
        py_read = 1;
        pp_py_read_thread(one_tid, &py);
        py_read_ns = pp_now_ns();
    }
    if (py.n == 0) {
        py_missed++;
        return n;
    }
    n = pp_py_merge_read(&py, frames, n, PP_STACK_MAX, complete);
    py_samples++;
    uint64_t age = py_read_ns > one.time ? py_read_ns - one.time : 0;
    py_age[age < 1000000 ? 0 : age < 5000000 ? 1 : 2]++;
    for (int i = 0; i < n; i++)
        if (pp_py_is_unreadable(frames[i])) {
            py_unreadable++;
            break;
        }
    return n;
}

static void sample(const struct pp_perf_sample *s)
{
    uintptr_t frames[PP_STACK_MAX];
    int n = -1, complete = 0;
    if (s->has_regs && s->copy_len)
        n = pp_cfi_walk_copy(frames, MAX_FRAMES, (uintptr_t)s->reg_ip, (uintptr_t)s->sp,
                             (uintptr_t)s->bp, s->copy, s->copy_len, &complete);
    if (n > 0) {
        frames[0] += 1;        /* recorded as a return address would be */
        by_cfi++;
    }
    if (n <= 0 || (!complete && s->nchain > n)) {
        if (s->nchain == 0) {
            frames[0] = (uintptr_t)s->ip + 1;
            n = 1;
        } else {
            n = s->nchain < MAX_FRAMES ? s->nchain : MAX_FRAMES;
            memcpy(frames, s->chain, (size_t)n * sizeof *frames);
            by_fp++;
        }
        complete = 0;
    }
    one_tid = s->tid;
    n = add_python(frames, n, complete);
    if (!t_first)
        t_first = s->time;
    total++;
    make_room();                     /* the stack's new nodes fit the batch */
    uint32_t id = intern(frames, n);
    count(s->tid, id, pp_region_at(s->tid, s->time));
}

/* DONE: the thread has ended (its Python frames are not read) */
static void drain(struct pp_perf_ev *e, int done)
{
    py_read = done ? -1 : 0;
    uint64_t last = 0;
    while (pp_perf_next(e, &one, scratch, SCRATCH)) {
        sample(&one);
        last = one.time;
    }
    lost += e->lost;
    e->lost = 0;
    if (py_read == 1 && py.n > 0 && last) {
        uint64_t now = pp_now_ns(), at = last + period_ns + READ_AFTER;
        if (at > now) {              /* else overdue: the thread is not running */
            if (at < now + READ_GAP)
                at = now + READ_GAP;
            if (!read_at || at < read_at)
                read_at = at;
        }
    }
}

static void write_info(void);

/* ---- following the threads ------------------------------------------------- */

/* Opening a thread's event makes a task apart and waits for it (perf.c):
 * with hundreds of threads just started and busy, a task each waited its
 * turn for a CPU, and the sampler was held for seconds with no memory
 * sample meanwhile.  A tick opens the new threads' events together, in
 * one task, OPEN_PER_TICK at most; the rest wait for the next ticks. */
#define OPEN_PER_TICK 64

static void opened(struct pp_perf_ev *e, int err, int saved);

static void follow(void)
{
    int n = pp_task_list(&task_dir, tids, MAX_TIDS);
    if (n < 0)
        return;
    for (int i = 0; i < n_evs; i++)
        evs[i].seen = 0;
    int saved = errno, n_new = 0;
    pid_t fresh[OPEN_PER_TICK];
    for (int k = 0; k < n; k++) {
        pid_t tid = tids[k];
        if (tid == self_tid)
            continue;
        int i = 0;
        while (i < n_evs && evs[i].tid != tid)
            i++;
        if (i < n_evs && evs[i].ended) {
            /* the thread of that id ended (its EXIT record), and a new
             * one has the id now: the old event goes, the new thread gets
             * its own */
            drain(&evs[i], 1);
            close_ev(&evs[i], 1);
            i = n_evs;
        }
        if (i < n_evs) {
            evs[i].seen = 1;
            continue;
        }
        if (n_evs >= MAX_EVENTS) {
            if (!warned_limit++)
                pp_notice("more threads than CPU sampling follows (1024); the "
                          "newest are not sampled", "", "");
            continue;
        }
        if (n_new < OPEN_PER_TICK && n_evs + n_new < MAX_EVENTS)
            fresh[n_new++] = tid;    /* else at the next ticks */
    }
    if (n_new) {
        struct pp_perf_ev e[OPEN_PER_TICK];
        int errs[OPEN_PER_TICK];
        pp_perf_open_many(e, fresh, errs, n_new, period_ns, data_pages, STACK_BYTES);
        int k = 0;
        for (; k < n_new && state > 0; k++)
            opened(&e[k], errs[k] == ESRCH ? 0 : errs[k], saved);
        if (state < 0) {             /* sampling is off: the rest opened go */
            for (; k < n_new; k++)
                if (!errs[k] && e[k].meta)
                    pp_perf_close(&e[k], 1);
            return;
        }
    }
    errno = saved;
    if (n == MAX_TIDS)
        return;                      /* a list cut short: no thread is known gone */
    for (int i = 0; i < n_evs;)
        if (!evs[i].seen) {
            drain(&evs[i], 1);       /* the thread ended: its last samples */
            close_ev(&evs[i], 1);
        } else {
            i++;
        }
}

static void write_info(void)
{
    struct pp_buf b = {out, 0, OUT_BYTES - 64};
    pp_buf_str(&b, "{\"type\":\"cpu_info\",\"t_s\":");
    pp_buf_fixed(&b, (int64_t)(pp_now_ns() - pp_state.start_ns), 9, 6);
    pp_buf_key(&b, "hz");
    pp_buf_u64(&b, hz);
    pp_buf_key(&b, "period_ns");
    pp_buf_u64(&b, period_ns);
    pp_buf_key(&b, "stack_bytes");
    pp_buf_u64(&b, COPIED_BYTES);
    pp_buf_key(&b, "clock");
    pp_buf_str(&b, "\"" SAMPLE_CLOCK "\"}");
    pp_timeline_record(&b);
}

/* ---- the sampler's entry points ----------------------------------------------- */

void pp_cpu_tick(int final)
{
    if (state < 0 || !pp_state.active)
        return;
    if (final) {
        /* at exit, from the exiting thread: the sampler may be mid-tick */
        if (pp_lock_until(&lock, pp_now_ns() + 50000000u) != 0)
            return;
    } else {
        pp_lock(&lock);
    }
    if (!final)
        self_tid = pp_tid();          /* the sampler thread is not sampled */
    if (state == 0)
        state = final ? -1 : started ? 1 : start();
    if (state > 0) {
        if (!final)
            follow();
        if (read_at <= pp_now_ns())
            read_at = 0;              /* a read still to come is kept */
        for (int i = 0; i < n_evs; i++)
            drain(&evs[i], 0);
        say_unread();
        pp_region_remember();
        if (state > 0) {
            close_tick();
            if (final || (n_tks && tick_no + 1 - batch_tick >= batch_len))
                write_batch(final);
        }
    }
    if (final)
        state = -1;     /* a tick of the sampler still under way writes nothing
                         * after the final record, which holds the counts */
    else
        tick_no++;
    pp_unlock(&lock);
}

/* Before an exec (the sampler paused): the samples read or in the ring
 * buffers, written. */
void pp_cpu_flush(void)
{
    if (state <= 0 || !pp_state.active || pp_lock_until(&lock, pp_now_ns() + 50000000u) != 0)
        return;
    for (int i = 0; i < n_evs; i++)
        drain(&evs[i], 0);
    write_batch(0);
    pp_unlock(&lock);
}

uint64_t pp_cpu_read_at(void)
{
    return state > 0 ? read_at : 0;
}

/* between ticks (the sampler thread): every thread's buffer, for the
 * Python frames of the samples just taken */
void pp_cpu_read_soon(void)
{
    read_at = 0;
    if (state <= 0 || !pp_state.active || pp_trylock(&lock))
        return;
    drained_early++;
    for (int i = 0; i < n_evs; i++)
        drain(&evs[i], 0);
    pp_unlock(&lock);
}

/* The parent's events are its threads': forgotten here (the kernel gave
 * the child no copy of their buffers), and the child starts afresh. */
void pp_cpu_after_fork_child(void)
{
    pp_lock_reset(&lock);
    for (int i = n_evs; i-- > 0;)
        close_ev(&evs[i], 0);
    pp_fd_drop(&task_dir);
    n_ents = tick_first = n_tks = n_thrs = n_pend = 0;
    est = 0;
    batch_len = 1;
    lost = total = by_cfi = by_fp = t_first = 0;
    py_samples = py_unreadable = py_missed = drained_early = 0;
    unread_said = 0;                    /* the child's records say it again */
    memset(py_age, 0, sizeof py_age);
    read_at = 0;
    if (state > 0 && n_nodes) {       /* the child's image writes its own */
        memset(node_index, 0, NODE_SLOTS * sizeof *node_index);
        n_nodes = 0;
    }
    if (state > 0)
        state = 0;
    info_written = 0;                 /* cpu_info again, for the child */
}
