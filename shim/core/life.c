/*
 * life.c - the shim's life cycle: start-up, fork, exec, exit, and the few
 * moments when the program needs to be alone.
 *
 * Start-up runs as a constructor of the preloaded library, before the
 * program's own constructors, with pp_in_hook set so that nothing the shim
 * does is counted.  The summary is written once, from a destructor: those
 * run from _dl_fini, after the program's atexit handlers and static
 * destructors.  _exit and fatal signals skip destructors, which is why the
 * timeline is streamed, one write(2) a record: a killed process keeps
 * everything up to its last record without any signal handler, so the shim
 * never touches a signal disposition (a handler is visible: CPython only
 * installs KeyboardInterrupt when SIGINT is SIG_DFL, and programs that save
 * and restore handlers with signal() lose SA_RESETHAND).
 *
 * Who may touch the shim's state: the process that set it up.  A vfork
 * child shares the parent's memory until it execs or exits, and a raw
 * clone child has a copy of it but no atfork handlers: both are recognised
 * by their pid and leave every counter, lock and file alone.
 *
 * A process tree writes one file.  The first process creates it and puts
 * PERFPROBE_TREE=<root pid>:<dev>:<ino>:<pid>:<image>:<path> into the
 * environment; every later image (a forked child, an exec'd program, the
 * root after an exec) appends to that file if it is still the same file.
 * PERFPROBE_FOLLOW says how far the shim follows: all, exec (an exec
 * continues the trace, a fork does not: the wrapper case) or none.
 *
 * The interposed functions themselves (exit, the exec family, fork ...)
 * are in hooks/process.c; they call the pp_exit, pp_exec, pp_env and
 * pp_alone functions here.  Fork's own part is the pthread_atfork handlers
 * registered at start-up.
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static _Atomic int finished, summary_done, exit_calls;
/* set by a vfork child that called exit(): it ran, in the parent's memory,
 * the parent's exit handlers (glibc's list is consumed as it runs) */
static _Atomic int handlers_taken;
static void (*real_exit)(int);

/* the process's CPU time so far, user + system */
static uint64_t cpu_now(void)
{
    struct pp_cpu c;
    pp_cpu_read(&c);
    return c.user_ns + c.sys_ns;
}

#if defined(__linux__)
/* the calls that need the program alone under way (pp_alone_begin),
 * and whether the first of them stopped the sampler */
static pp_lock_t alone_lock = PP_LOCK_INIT;
static int alone_depth, alone_stopped;
#endif
#if defined(__APPLE__)
#define FIND_REAL_EXIT() (real_exit = exit)       /* libSystem's: PP_HOOK */
#else
#define FIND_REAL_EXIT() (*(void **)&real_exit = pp_real_next("exit"))
#endif

/* Is the caller the process whose state this is? (not a vfork or raw
 * clone child)  A getpid that fails (a seccomp filter's error answer)
 * cannot tell: taken for this process, whose summary would be lost */
static int own_process(void)
{
    pid_t p = getpid();
    return pp_state.active && (p == pp_state.own_pid || p <= 0);
}

/* ---- the environment, changed without the allocator ----------------------- */

/* Put `entry` (static storage) into a copy of environ made with raw mmap.
 * glibc's setenv copies an environ it did not allocate, so later changes by
 * the program still work.  At start-up only, before main, when nobody has
 * kept environ's address yet.  A forked child's environ is never changed,
 * nor its strings: a program may have kept its address, compare it, or
 * free it with its strings (perl frees an environ that is not the one it
 * started with, and its strings, at its end: a forked child's exit ended
 * with "free(): invalid pointer", and one that set %ENV with SIGSEGV, when
 * the shim put a copy in its place); and a string may be in memory the
 * parent shares. */
static void env_set(const char *entry)
{
    size_t klen = (size_t)(strchr(entry, '=') - entry) + 1, n = 0;
    if (!environ)
        return;
    while (environ[n])
        n++;
    char **copy = pp_os_map((n + 2) * sizeof *copy);
    if (!copy)
        return;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], entry, klen) != 0)
            copy[j++] = environ[i];
    copy[j++] = (char *)entry;
    copy[j] = NULL;
    environ = copy;
}

/* Drop every libperfprobe* entry from LD_PRELOAD (macOS:
 * DYLD_INSERT_LIBRARIES), so that what this process execs is not traced.
 * At start-up only (env_set): a forked child that is not followed leaves
 * environ as it is, and what it starts finds in PERFPROBE_TREE that it is
 * not the process that exported it, so it stays untraced on its own
 * (PERFPROBE_FOLLOW=exec), or finds the shim gone already (none). */
static void unfollow(void)
{
    enum { PREFIX = sizeof PP_PRELOAD_VAR };      /* with the '=' */
    static char entry[4096 + PREFIX + 1] = PP_PRELOAD_VAR "=";
    const char *v = pp_getenv(PP_PRELOAD_VAR);
    struct pp_buf b = {entry, PREFIX, sizeof entry - 1};
    if (!v)
        return;
    while (*v) {
        size_t n = strcspn(v, " :");
        const char *slash = v, *base = v;
        for (; slash < v + n; slash++)
            if (*slash == '/')
                base = slash + 1;
        if (n && strncmp(base, "libperfprobe", 12) != 0) {
            if (b.len > PREFIX)
                pp_buf_raw(&b, ":", 1);
            pp_buf_raw(&b, v, n);
        }
        v += n;
        if (*v)
            v++;
    }
    entry[b.len] = 0;
    env_set(entry);
}

/* ---- the tree ------------------------------------------------------------- */

static uint64_t num(const char **p)
{
    uint64_t v = 0;
    while (**p >= '0' && **p <= '9')
        v = v * 10 + (uint64_t)(*(*p)++ - '0');
    if (**p == ':')
        (*p)++;
    return v;
}

/* this image's PERFPROBE_TREE entry, empty until exported */
static char tree_entry[4096 + 128];

/* Rewrite PERFPROBE_TREE with this image's pid and image number; CHILD:
 * in a forked child, where environ is not changed (env_set): its entry is
 * the new one when it is the shim's string (put there at start-up); when
 * the program copied its environment (bash, perl) it keeps the parent's,
 * which every exec hook replaces in the environment it passes
 * (pp_env_fixed), and which a new process (system, popen, through no
 * hook) does not take for its own.  An exec by the system call itself,
 * past the hooks, would take itself for a new process's first image. */
static void tree_export(uint64_t dev, uint64_t ino, const char *path, int child)
{
    char *entry = tree_entry;
    struct pp_buf b = {entry, 0, sizeof tree_entry - 1};
    pp_buf_str(&b, "PERFPROBE_TREE=");
    pp_buf_u64(&b, (uint64_t)pp_state.root_pid);
    pp_buf_raw(&b, ":", 1);
    pp_buf_u64(&b, dev);
    pp_buf_raw(&b, ":", 1);
    pp_buf_u64(&b, ino);
    pp_buf_raw(&b, ":", 1);
    pp_buf_u64(&b, (uint64_t)pp_state.pid);
    pp_buf_raw(&b, ":", 1);
    pp_buf_u64(&b, (uint64_t)pp_state.image);
    pp_buf_raw(&b, ":", 1);
    pp_buf_str(&b, path);
    if (b.len >= b.cap) {
        entry[0] = 0;
        return;
    }
    entry[b.len] = 0;
    if (!child)
        env_set(entry);
}

/* ---- start-up ------------------------------------------------------------- */

static sigset_t program_mask;        /* the main thread's mask at start-up */
static void core_tick(void);
static void program_gone(void);

/* the sampler thread calls back into this file: once a sample, and when
 * the program's every thread has ended */
static void start_sampler(void)
{
    /* what the sampler reads through kept descriptors, opened here on the
     * program's thread: the sampler thread opens nothing in the program's
     * table while the program runs (sys/linux/apart.c) */
    pp_apart_prime();
    pp_proc_prime();
    pp_cpu_prime();
    pp_peakview_prime();
    pp_fd_solo(0);
    pp_sampler_start(core_tick, program_gone);
}

static void start_recording(void)
{
    pp_sample_take(&pp_state.first, PP_SAMPLE_RESET | PP_SAMPLE_STATUS);
    pp_timeline_sample(&pp_state.first, 1);
    start_sampler();
}

/* this thread is inside fork, between the shim's prepare handler (which
 * took its locks) and its parent or child handler: a set*id or unshare
 * from a signal handler then must not stop the sampler, which may be
 * waiting for one of those locks */
#if defined(__linux__)
static __thread int forking PP_TLS;
#define FORKING(v) (forking = (v))
#else
#define FORKING(v) ((void)0)            /* no pp_alone on macOS */
#endif

static void fork_prepare(void)
{
    FORKING(1);
    pp_py_fork_prepare();
    pp_modules_fork_prepare();
    pp_probe_lock();
    pp_timeline_lock();
    pp_map_lock();
}

static void fork_parent(void)
{
    pp_timeline_tree();
    pp_map_unlock();
    pp_timeline_unlock();
    pp_probe_unlock();
    pp_modules_fork_parent();
    pp_py_fork_done();
    FORKING(0);
}

/* a forked child's start: SAMPLER 0 for one with no sampler thread */
static void child_begins(int sampler)
{
    int saved = pp_in_hook;
    pp_in_hook = 1;
    FORKING(0);
    pp_fd_solo(1);
    pp_fsize_check(1);          /* this process's limit from here on */
    pp_py_fork_done();
    pp_map_after_fork_child();
    pp_tid_forget();
    pp_parts_after_fork_child();
#if defined(__linux__)
    pp_lock_reset(&alone_lock);         /* another thread's call: not this child's */
    alone_depth = alone_stopped = 0;
#endif
    pp_state.ppid = pp_state.pid;
    pp_state.own_pid = getpid();
    pp_state.pid = pp_os_pid_seen(pp_state.own_pid, NULL);
    pp_state.is_root = 0;
    pp_state.image = 0;
    pp_state.forked = 1;
    atomic_store(&finished, 0);
    atomic_store(&summary_done, 0);
    atomic_store(&exit_calls, 0);
    pp_counters_after_fork_child();
    pp_region_after_fork_child();
    pp_sites_after_fork_child();
    pp_cpu_after_fork_child();
    pp_apart_after_fork();
    pp_proc_after_fork();
    pp_probe_after_fork_child();
    pp_probe_unlock();
    if (pp_opt.follow != PP_FOLLOW_ALL) {
        /* not followed: this child and what it execs are not traced */
        pp_timeline_forget();
        pp_timeline_unlock();
        pp_state.active = 0;
        pp_fd_solo(0);
        pp_in_hook = saved;
        return;
    }
    pp_state.start_ns = pp_now_ns();
    pp_state.start_unix_ns = pp_unix_ns();
    pp_state.cpu_before_ns = cpu_now();
    pp_timeline_after_fork_child();
    uint64_t dev, ino;
    const char *path;
    if (pp_timeline_identity(&dev, &ino, &path) == 0)
        tree_export(dev, ino, path, 1);
    pp_sample_take(&pp_state.first, PP_SAMPLE_RESET | PP_SAMPLE_STATUS);
    pp_timeline_sample(&pp_state.first, 1);
    if (sampler)
        start_sampler();
    pp_fd_solo(0);
    pp_in_hook = saved;
}

static void fork_child(void)
{
    child_begins(1);
}

/* A fork made by a link namespace's libc runs none of the base libc's
 * preparations; hooks/namespace.c calls these around it.  The shim's own
 * locks are taken and given back as at any fork, and the child records,
 * but with no sampler thread: starting one (the base libc's
 * pthread_create, its allocator) could wait on a lock that a thread of
 * the parent held, since the base libc never prepared for the fork.  Such
 * a child has its first and last samples, its hooks' figures and its
 * summary.  Begin answers whether the fork is this process's to follow;
 * end is called with it, and whether this is the child. */
int pp_fork_foreign_begin(void)
{
    if (!own_process())
        return 0;
    fork_prepare();
    return 1;
}

void pp_fork_foreign_end(int began, int child)
{
    if (!began)
        return;
    if (child)
        child_begins(0);
    else
        fork_parent();
}

/* A relative PERFPROBE_OUTPUT is made absolute once, by the first process,
 * so that descendants that change directory still write to the same file. */
static void absolute_output(void)
{
    char cwd[4096];
    struct pp_buf b;
    static char abs_path[sizeof pp_opt.output];
    if (!pp_opt.output[0] || pp_opt.output[0] == '/')
        return;
    if (!getcwd(cwd, sizeof cwd))
        return;
    b = (struct pp_buf){abs_path, 0, sizeof abs_path - 1};
    pp_buf_str(&b, cwd);
    pp_buf_raw(&b, "/", 1);
    pp_buf_str(&b, pp_opt.output);
    if (b.len >= b.cap)
        return;
    abs_path[b.len] = 0;
    memcpy(pp_opt.output, abs_path, b.len + 1);
}

static void program_name(void)
{
    const char *name = pp_os_progname();
    size_t j = 0;
    /* keep it usable in a file name */
    for (size_t i = 0; name && name[i] && j < sizeof pp_state.program - 1; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '+';
        pp_state.program[j++] = ok ? c : '_';
    }
    if (j == 0)
        memcpy(pp_state.program, "program", 8);
    else
        pp_state.program[j] = 0;
    pp_os_exe(pp_state.exe, sizeof pp_state.exe);
}

#if defined(__linux__)
static void exit_begins(void *arg);
#endif

__attribute__((constructor(101))) static void pp_init(void)
{
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    pp_fd_solo(1);          /* one thread until the sampler's */
    pp_fsize_check(1);

    pp_resolve();
    pp_real_settle();
    FIND_REAL_EXIT();
    /* another copy of the shim came first: it traces the process; this
     * one passes calls on and writes nothing */
    if (pp_real_other_shim((void *)pp_init)) {
        pp_fd_solo(0);
        pp_in_hook = saved;
        errno = saved_errno;
        return;
    }
    pthread_sigmask(SIG_SETMASK, NULL, &program_mask);
    pp_state.own_pid = getpid();
    pp_state.ppid = getppid();
    pp_state.pid = pp_os_pid_seen(pp_state.own_pid, &pp_state.ppid);
    program_name();

    /* PERFPROBE_TREE: root pid, the file's device and inode, the pid and
     * image number of the image that wrote it, the file's path */
    const char *tree = pp_getenv("PERFPROBE_TREE");
    uint64_t root = 0, dev = 0, ino = 0, prev_pid = 0, prev_image = 0;
    const char *tree_path = NULL;
    if (tree) {
        const char *p = tree;
        root = num(&p);
        dev = num(&p);
        ino = num(&p);
        prev_pid = num(&p);
        prev_image = num(&p);
        tree_path = *p ? p : NULL;
    }
    pp_state.first_image = tree == NULL;
    pp_state.root_pid = root ? (pid_t)root : pp_state.pid;
    pp_state.is_root = pp_state.root_pid == pp_state.pid;
    /* the same pid as the image that exported the tree: an exec */
    pp_state.image = prev_pid == (uint64_t)pp_state.pid ? (int)prev_image + 1 : 0;
    pp_state.stderr_ok = pp_fd_identity(2, &pp_state.stderr_dev, &pp_state.stderr_ino);

    /* descendants see the same settings: only the first process warns */
    pp_options_load(pp_state.first_image);
    pp_counters_init();
    pp_sites_init();
    pp_region_init();
    pp_allocator_check(pp_state.first_image);
    if (pp_state.first_image)
        absolute_output();
    if (pp_opt.follow == PP_FOLLOW_NONE)
        unfollow();
    /* PERFPROBE_FOLLOW=exec: a program that a traced process started in a
     * child (not by exec'ing itself) is not traced.  Removing the shim from
     * the child's environ is not enough: shells build their children's
     * environment from their own copy. */
    if (pp_opt.follow == PP_FOLLOW_EXEC && tree && prev_pid != (uint64_t)pp_state.pid) {
        unfollow();
        pp_fd_solo(0);
        pp_in_hook = saved;
        errno = saved_errno;
        return;
    }

    pp_state.start_ns = pp_now_ns();
    pp_state.start_unix_ns = pp_unix_ns();
    pp_state.cpu_before_ns = cpu_now();
    pp_timeline_open(dev, ino, tree ? tree_path : NULL);
    uint64_t fdev, fino;
    const char *fpath;
    if (pp_timeline_identity(&fdev, &fino, &fpath) == 0)
        tree_export(fdev, fino, fpath, 0);

    pp_state.exit_status = -1;
#if defined(__linux__)
    pp_in_hook = PP_IN_HOOK_OWN;
    pp_os_thread_atexit(exit_begins, NULL);
    pp_in_hook = 1;
#endif
    start_recording();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
#if defined(__linux__)
    pp_syscall_alone(pp_alone_begin, pp_alone_end);
#endif
    pp_state.active = 1;
    pp_fd_solo(0);

    pp_in_hook = saved;
    errno = saved_errno;
}

/* Another thread is writing the summary and this one is about to end the
 * process: give it 200 ms at most. */
static void await_summary(void)
{
    for (int i = 0; i < 2000 && !atomic_load(&summary_done); i++) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
}

/* The summary and the table, once per image. */
void pp_finish(void)
{
    if (!own_process())
        return;
    if (atomic_exchange(&finished, 1)) {
        await_summary();
        return;
    }
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    struct pp_sample end;
#if defined(__linux__)
    /* a pp_alone_end that saw the exit not yet begun has started its
     * sampler by the time the lock is free: the stop below stops it
     * (bounded: a signal handler on a thread holding it) */
    if (pp_lock_until(&alone_lock, pp_now_ns() + 50000000u) == 0)
        pp_unlock(&alone_lock);
#endif
    pp_sampler_stop();
    pp_fsize_check(0);          /* a limit set since the last sample */
    pp_allocator_tick();
    pp_counters_flush_self();
    pp_sample_take(&end, PP_SAMPLE_RESET | PP_SAMPLE_PARTS | PP_SAMPLE_STATUS);
    pp_timeline_sample(&end, 1);
    pp_cpu_tick(1);
    pp_sites_exit();
    /* a forked child's live blocks are mostly its parent's, which it
     * shares: not classified, since reading them through the kernel pins
     * and so copies every page still shared (a child of a 256 MiB heap
     * took 200 ms and 65,000 page faults to exit) */
    pp_sites_exit_view(!pp_state.forked && pp_sites_leak_check() && pp_leaks_classify() == 0);
    const char *table = pp_getenv("PERFPROBE_TABLE");
    int table_record = !pp_opt.quiet && table && !strcmp(table, "record");
    if (table_record)
        pp_report_table(&end, 1);      /* perfprobe run prints the main one's */
    pp_summary_write(&end);
    atomic_store(&summary_done, 1);
    /* Some programs close stderr in an atexit handler (coreutils do), and
     * the number may since belong to another file: then the table is left
     * out; the timeline has the same figures. */
    if (!table_record && !pp_opt.quiet && pp_state.is_root && pp_state.stderr_ok &&
             pp_fd_same(2, pp_state.stderr_dev, pp_state.stderr_ino))
        pp_report_table(&end, 0);
    pp_in_hook = saved;
    errno = saved_errno;
}

/* A vfork child that calls exit() runs this process's exit handlers in
 * its memory, and glibc then forgets them and refuses new ones: the parent
 * would end without a summary.  The thread's TLS destructors, though, run
 * at every exit() before the handlers, and the child (on the parent's
 * thread, with its TLS) has already run them when it reaches this
 * destructor: one registered now is left for the parent's own exit.  It
 * writes the summary only at a process exit (exit() called, or main
 * returned on the main thread), not when a thread ends. */
static void parent_exit(void *arg)
{
    (void)arg;
    if (own_process() && (atomic_load(&exit_calls) > 0 || pp_os_main_thread()))
        pp_finish();
}

__attribute__((destructor)) static void pp_fini(void)
{
    if (pp_state.active && getpid() != pp_state.own_pid && atomic_load(&handlers_taken)) {
        int saved = pp_in_hook;
        pp_in_hook = 1;
        pp_os_thread_atexit(parent_exit, NULL);
        pp_in_hook = saved;
        return;
    }
    pp_finish();
}

/* ---- exit ----------------------------------------------------------------- */

/* The status the process exits with, for the summary.  An exit() the
 * program calls reaches the hook (pp_exit), but main's return value goes
 * to an exit inside glibc, and an exit handler gets it: on_exit's.  One
 * registered at start-up would run too late, after the destructors that
 * write the summary: the loader's own handler, which runs them, is
 * registered after the preloaded constructors, and handlers run last
 * registered first.  The main thread's TLS destructors, though, run at
 * the start of an exit() on that thread, before any handler, and a
 * handler registered there runs first.  A vfork child that calls exit
 * runs both in this process's memory: its status is not kept.
 *
 * glibc allocates the destructor's entry and, when its static block of
 * handlers is full, the handler's: both come from the shim's bootstrap
 * arena (PP_IN_HOOK_OWN), so that glibc's frees of them at exit (in a
 * vfork child too) are not counted as the program's. */
static void exit_seen(int status, void *arg)
{
    (void)arg;
    if (own_process())
        pp_state.exit_status = status & 0xff;
}

#if defined(__linux__)
static void exit_begins(void *arg)
{
    (void)arg;
    if (own_process()) {
        int saved = pp_in_hook;
        pp_in_hook = PP_IN_HOOK_OWN;
        pp_os_on_exit(exit_seen, NULL);
        pp_in_hook = saved;
    }
}
#endif

/* exit(), as the hook (hooks/process.c) makes it, and as the sampler makes
 * it for a program whose threads have all ended.
 *
 * exit() from several threads at once: on glibc before 2.41 the first
 * caller runs the exit handlers while a second one, finding the list
 * empty, goes straight on to _exit and ends the process, perhaps before
 * the first has written the summary.  So any caller after the first makes
 * sure the summary is out before it goes on: it writes it itself, or, if
 * another thread is writing it, waits for that write at most 200 ms (as
 * does the destructor of a first caller that finds a later one writing).
 * Nobody is ever held longer than that, and exit itself is unchanged (the
 * real exit runs, with the caller's status, on the caller's thread). */
void pp_exit(int status)
{
    if (!real_exit)
        FIND_REAL_EXIT();
    exit_seen(status, NULL);
    if (!own_process()) {
        if (pp_state.active)
            atomic_store(&handlers_taken, 1);
    } else if (atomic_fetch_add(&exit_calls, 1) > 0) {
        pp_finish();
    }
    real_exit(status);
    __builtin_unreachable();
}

/* _exit: the probe records the timeline still holds leave first.  It may
 * be called from a signal handler, or by a vfork child (whose memory is
 * the parent's): the lock is only tried, and a vfork child writes nothing. */
void pp_exit_now_begin(void)
{
    if (own_process())
        pp_timeline_flush(1);
}

/* On the sampler thread, once a sample. */
static void core_tick(void)
{
    pp_allocator_tick();
    pp_fsize_check(0);          /* a limit set from outside (prlimit) */
    /* A vfork child that called exit() ran this process's exit handlers
     * as the child, in this process's memory, and glibc forgets them (and
     * accepts no new ones): the program's own handlers will not run at
     * this process's exit (the shim's summary still does, see pp_fini).
     * The timeline says so now. */
    if (atomic_load(&handlers_taken) == 1) {
        atomic_store(&handlers_taken, 2);
        char line[256];
        struct pp_buf b = {line, 0, sizeof line};
        pp_buf_str(&b, "{\"type\":\"note\",\"text\":\"a vfork child called exit() and ran "
                       "this process's exit handlers: the program's will not run at its exit\"}");
        pp_timeline_record(&b);
    }
}

/* The sampler found that every thread of the program has ended (main
 * called pthread_exit, and so did the others): glibc's last thread would
 * now call exit(0), but the sampler keeps the count above zero.  It makes
 * that call itself, as the program's, with the program's signal mask. */
static void program_gone(void)
{
    pp_in_hook = 0;
    pp_single_mark_sampler(0);          /* the process's one thread now */
    pp_apart_mark(0);
    pthread_sigmask(SIG_SETMASK, &program_mask, NULL);
    /* A main thread that ended with a status of its own made the exit
     * system call itself (as a program under a strict seccomp filter
     * must): pthread_exit ends it with 0.  Bare, glibc's count of threads
     * then never reaches zero, so no exit handler runs and no stdio
     * buffer is written out, and the process ends with the status of its
     * last thread: the main thread's, or 0 from a thread that returned
     * after it (seen by a sample; one that ended within a sample of the
     * main thread is taken for the main thread's).  So here too, after
     * the summary.  (The system call's exit(0) looks like pthread_exit,
     * and gets exit's handlers.) */
    int last, code = pp_proc_main_exit_code(&last);
    if (code > 0 && (code & 0x7f) == 0) {
        pp_finish();
        pp_real_exit_now(last ? (code >> 8) & 0xff : 0);
    }
    pp_exit(0);
}

/* ---- exec ----------------------------------------------------------------- */

/* Why the program FILE, started with ENVP (NULL: environ), will run
 * without the shim, or NULL: the preload variable of the environment it
 * gets names no libperfprobe (a program that starts its children with an
 * environment of its own making), or the loader will ignore the variable
 * (sys.h).  SEARCH: FILE is looked up in PATH (execvp, posix_spawnp). */
/* the preload variable of ENVP (NULL: environ) names a libperfprobe */
static int preloaded_in(char *const envp[])
{
    size_t klen = sizeof PP_PRELOAD_VAR;          /* with the '=' */
    for (char *const *e = envp ? envp : environ; e && *e; e++)
        if (!strncmp(*e, PP_PRELOAD_VAR "=", klen))
            return strstr(*e + klen, "libperfprobe") != NULL;
    return 0;
}

const char *pp_untraced(const char *file, char *const envp[], int search)
{
    if (pp_opt.follow == PP_FOLLOW_NONE)
        return NULL;
    if (!own_process()) {
        /* a vfork child (the parent's memory: it writes no record, and
         * its stack may be small) is told only of another ELF class by
         * its path, whose loader would print a line; Python's subprocess
         * execs full paths so */
        return !search && file && strchr(file, '/') && preloaded_in(envp) &&
                       pp_os_exec_other_abi(file)
                   ? pp_os_other_abi
                   : NULL;
    }
    if (!preloaded_in(envp))
        return "no " PP_PRELOAD_VAR " in its environment";
    const char *path = pp_getenv("PATH");
    return pp_os_exec_untraced(file, search ? (path ? path : "/bin:/usr/bin") : NULL);
}

/* A child started by posix_spawn that will run without the shim: an
 * "untraced" record names it, so that it is never missed without a word. */
void pp_spawned(int rc, const pid_t *pid, const char *file, const char *why)
{
    pp_timeline_tree();
    if (rc != 0)
        return;
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    if (why)
        pp_timeline_untraced(pid ? (long)*pid : -1, file, why);
    pp_in_hook = saved;
    errno = saved_errno;
}

/* An exec ends this image: its last sample and an "exec" record go out
 * first (saying when what it starts will not be traced, and why), and if
 * the exec fails an "exec_failed" record says so. */
int pp_exec_begin(const char *file, char *const argv[], const char *why)
{
    pp_timeline_tree();                 /* (a vfork child: its parent's memory) */
    if (!own_process())
        return 0;
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    /* the exec record is the image's last: the sampler is stopped first,
     * so that no sample of it can follow (started again if exec fails) */
    int stopped = atomic_load(&finished) ? 0 : pp_sampler_pause();
    if (pp_opt.follow == PP_FOLLOW_NONE && pp_state.is_root && pp_state.image == 0) {
        pp_notice("PERFPROBE_FOLLOW=none: '", file ? file : "?",
                  "' started by exec is not traced");
    }
    struct pp_sample s;
    pp_counters_flush_self();
    pp_sample_take(&s, PP_SAMPLE_STATUS);
    pp_timeline_sample(&s, 1);
    pp_cpu_flush();                     /* the CPU samples held (cpu.c) */
    pp_timeline_exec(file, argv, 0, why);
    pp_in_hook = saved;
    errno = saved_errno;
    return stopped ? 2 : 1;
}

void pp_exec_failed(int began, const char *file)
{
    if (!began)
        return;
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    pp_timeline_exec(file, NULL, saved_errno ? saved_errno : ENOEXEC, NULL);
    if (began == 2)
        start_sampler();
    pp_in_hook = saved;
    errno = saved_errno;
}

/* Shells (bash) hand exec their own export list, not environ, and it still
 * holds the PERFPROBE_TREE of the process they forked from: the new image
 * would take itself for that pid's image 0.  So may environ itself, in a
 * forked child (bash makes its export list environ; tree_export changes
 * only the shim's own string).  The entry in
 * the array passed is replaced by this image's; the copy goes into STACK
 * (CAP entries) or, for a very long environment, a raw mapping that
 * pp_env_fix_done unmaps. */
char *const *pp_env_fixed(struct pp_env_fix *f, char *const envp[], char **stack, size_t cap)
{
    f->map = NULL;
    f->pre = NULL;
    if (!envp || !own_process() || !tree_entry[0])
        return envp;
    size_t n = 0, at = (size_t)-1, klen = sizeof "PERFPROBE_TREE=" - 1;
    for (; envp[n]; n++)
        if (at == (size_t)-1 && !strncmp(envp[n], "PERFPROBE_TREE=", klen))
            at = n;
    if (at == (size_t)-1 || !strcmp(envp[at], tree_entry))
        return envp;
    char **copy = stack;
    if (n + 1 > cap) {
        f->map_len = (n + 1) * sizeof *copy;
        copy = f->map = pp_os_map(f->map_len);
        if (!copy)
            return envp;
    }
    for (size_t i = 0; i < n; i++)
        copy[i] = i == at ? tree_entry : envp[i];
    copy[n] = NULL;
    return copy;
}

char *const *pp_env_unpreload(struct pp_env_fix *f, char *const envp[], char **stack, size_t cap,
                              const char *why)
{
    if (why != pp_os_other_abi || !envp)
        return envp;
    size_t n = 0, at = (size_t)-1, klen = sizeof PP_PRELOAD_VAR;     /* with the '=' */
    for (; envp[n]; n++)
        if (at == (size_t)-1 && !strncmp(envp[n], PP_PRELOAD_VAR "=", klen))
            at = n;
    if (at == (size_t)-1)
        return envp;
    size_t bufcap = strlen(envp[at]) + 1;
    char *buf = f->pre_stack;
    if (bufcap > PP_ENV_PRE) {
        if (!(buf = pp_os_map(bufcap)))
            return envp;
        f->pre = buf;
        f->pre_len = bufcap;
    }
    /* the entries (separated by ':' or ' ', as the loader takes them) but
     * the shim's */
    struct pp_buf b = {buf, 0, bufcap};
    pp_buf_str(&b, PP_PRELOAD_VAR "=");
    int any = 0;
    for (const char *p = envp[at] + klen; *p;) {
        size_t len = strcspn(p, ": ");
        if (len && !(len >= 12 && memmem(p, len, "libperfprobe", 12))) {
            if (any++)
                pp_buf_raw(&b, ":", 1);
            pp_buf_raw(&b, p, len);
        }
        p += len + (p[len] != 0);
    }
    if (b.len >= b.cap)
        return envp;                    /* too long: left as it is */
    buf[b.len] = 0;
    char **copy = (char **)envp;
    if (envp != (char *const *)stack && envp != (char *const *)f->map) {
        copy = stack;
        if (n + 1 > cap) {
            f->map_len = (n + 1) * sizeof *copy;
            copy = f->map = pp_os_map(f->map_len);
            if (!copy)
                return envp;
        }
        for (size_t i = 0; i <= n; i++)
            copy[i] = envp[i];
    }
    copy[at] = buf;
    return copy;
}

void pp_env_fix_done(struct pp_env_fix *f)
{
    int saved_errno = errno;
    if (f->map)
        pp_os_unmap(f->map, f->map_len);
    if (f->pre)
        pp_os_unmap(f->pre, f->pre_len);
    errno = saved_errno;
}

#if defined(__linux__)
/* ---- moments the program must be alone ------------------------------------ *
 *
 * unshare(CLONE_NEWUSER), unshare(CLONE_FS) and setns into a user or mount
 * namespace fail with EINVAL in a multi-threaded process; close_range with
 * CLOSE_RANGE_UNSHARE keeps the old descriptor table (and what it closes)
 * open while another thread shares it; the set*id calls reach every
 * thread, and a sampler that kept no capabilities (PR_SET_KEEPCAPS and
 * capset are the calling thread's) fails the next one, on which glibc
 * aborts the process.  The program does not know about the sampler
 * thread, so while it makes these calls (hooks/process.c, and through
 * syscall(): sys/linux/syscall.c) the thread is stopped (and its exit
 * awaited), then started again by the calling thread, whose credentials,
 * capabilities and descriptor table it takes.  Linux only: macOS has no
 * namespaces.
 *
 * Threads of the program's may make such calls at once: the first to
 * begin stops the sampler, the last to end starts it (ALONE_LOCK over the
 * count; a forked child frees it).  A call made inside the shim (a
 * signal handler on a thread in a hook, which may hold a lock the
 * sampler waits for) stops nothing: pp_alone_begin returns 0 then, as in
 * a vfork child, after the exit's work began, or with no state to touch.
 * Each call costs a stop and a start of the thread: no wait but the
 * sampler's tick under way and the kernel's removal of the thread (bounded:
 * sampler.c, pp_sampler_pause). */

/* 1: counted (the sampler is stopped, or there was none), to be passed
 * to pp_alone_end; 0: nothing done (a sampler may still run) */
int pp_alone_begin(void)
{
    if (pp_in_hook || forking || !own_process() || atomic_load(&finished))
        return 0;
    int saved_errno = errno;
    pp_in_hook = 1;
    pp_lock(&alone_lock);
    if (alone_depth++ == 0)
        alone_stopped = pp_sampler_pause();
    pp_unlock(&alone_lock);
    pp_in_hook = 0;
    errno = saved_errno;
    return 1;
}

/* A set*id call: the sampler is stopped around every one.  Equal
 * capability sets are not enough to give both threads the same outcome:
 * securebits (SECBIT_NO_SETUID_FIXUP left the sampler every capability
 * after setuid(65534)), a seccomp filter on the calling thread only (the
 * sampler's call succeeded where the caller's failed, and glibc aborted)
 * and LSM labels are per thread too.  -1: not this process's call (a
 * vfork child's, whose memory is the parent's: glibc's view of the
 * threads is left alone). */
int pp_alone_creds_begin(void)
{
    if (!own_process())
        return -1;
    return pp_alone_begin();
}

void pp_alone_end(int began)
{
    if (!began)
        return;
    int saved_errno = errno;
    pp_in_hook = 1;
    pp_lock(&alone_lock);
    if (--alone_depth == 0 && alone_stopped) {
        alone_stopped = 0;
        if (!atomic_load(&finished))     /* not once the exit's work began */
            start_sampler();
    }
    pp_unlock(&alone_lock);
    pp_in_hook = 0;
    errno = saved_errno;
}
#endif
