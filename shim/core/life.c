/*
 * core.c - the shim's life cycle: start-up, fork, exec, exit, and the few
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
 * The hooks here are PP_HOOK definitions (sys.h): exported names on Linux,
 * an __interpose table on macOS, where only exit, _exit, _Exit, fork,
 * execve, posix_spawn and posix_spawnp are hooked (the other exec forms
 * call execve across images there, and the rest is glibc's or Linux's).
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <grp.h>
#include <sched.h>
#include <sys/syscall.h>
#endif

extern char **environ;

struct pp_state pp_state;
static _Atomic int finished, summary_done, exit_calls;
/* set by a vfork child that called exit(): it ran, in the parent's memory,
 * the parent's exit handlers (glibc's list is consumed as it runs) */
static _Atomic int handlers_taken;
static void (*real_exit)(int);
#if defined(__APPLE__)
#define FIND_REAL_EXIT() (real_exit = exit)       /* libSystem's: PP_HOOK */
#else
#define FIND_REAL_EXIT() (*(void **)&real_exit = pp_real_next("exit"))
#endif

/* Is the caller the process whose state this is? (not a vfork or raw
 * clone child) */
static int own_process(void)
{
    return pp_state.active && getpid() == pp_state.pid;
}

/* ---- the environment, changed without the allocator ----------------------- */

/* Put `entry` (static storage) into a copy of environ made with raw mmap.
 * glibc's setenv copies an environ it did not allocate, so later changes by
 * the program still work. */
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
 * DYLD_INSERT_LIBRARIES), so that what this process execs is not traced. */
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

const char *pp_follow_name(void)
{
    return pp_opt.follow == PP_FOLLOW_ALL ? "all" : pp_opt.follow == PP_FOLLOW_EXEC ? "exec" : "none";
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

/* Rewrite PERFPROBE_TREE with this image's pid and image number. */
static void tree_export(uint64_t dev, uint64_t ino, const char *path)
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
    env_set(entry);
}

/* ---- start-up ------------------------------------------------------------- */

static sigset_t program_mask;        /* the main thread's mask at start-up */

static void start_recording(void)
{
    pp_sample_take(&pp_state.first, PP_SAMPLE_RESET | PP_SAMPLE_STATUS);
    pp_timeline_sample(&pp_state.first, 1);
    pp_sampler_start();
}

static void fork_prepare(void)
{
    pp_py_fork_prepare();
    pp_probe_lock();
    pp_timeline_lock();
    pp_map_lock();
}

static void fork_parent(void)
{
    pp_map_unlock();
    pp_timeline_unlock();
    pp_probe_unlock();
    pp_py_fork_done();
}

static void fork_child(void)
{
    int saved = pp_in_hook;
    pp_in_hook = 1;
    pp_py_fork_done();
    pp_map_after_fork_child();
    pp_tid_forget();
    pp_parts_after_fork_child();
    pp_state.ppid = pp_state.pid;
    pp_state.pid = getpid();
    pp_state.is_root = 0;
    pp_state.image = 0;
    atomic_store(&finished, 0);
    atomic_store(&summary_done, 0);
    atomic_store(&exit_calls, 0);
    pp_counters_after_fork_child();
    pp_region_after_fork_child();
    pp_sites_after_fork_child();
    pp_cpu_after_fork_child();
    pp_proc_after_fork();
    pp_probe_after_fork_child();
    pp_probe_unlock();
    if (pp_opt.follow != PP_FOLLOW_ALL) {
        /* not followed: this child and what it execs are not traced */
        pp_timeline_forget();
        pp_timeline_unlock();
        unfollow();
        pp_state.active = 0;
        pp_in_hook = saved;
        return;
    }
    pp_state.start_ns = pp_now_ns();
    pp_state.start_unix_ns = pp_unix_ns();
    pp_timeline_after_fork_child();
    uint64_t dev, ino;
    const char *path;
    if (pp_timeline_identity(&dev, &ino, &path) == 0)
        tree_export(dev, ino, path);
    pp_sample_take(&pp_state.first, PP_SAMPLE_RESET | PP_SAMPLE_STATUS);
    pp_timeline_sample(&pp_state.first, 1);
    pp_sampler_start();
    pp_in_hook = saved;
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

__attribute__((constructor(101))) static void pp_init(void)
{
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;

    pp_resolve();
    FIND_REAL_EXIT();
    pthread_sigmask(SIG_SETMASK, NULL, &program_mask);
    pp_state.pid = getpid();
    pp_state.ppid = getppid();
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
        pp_in_hook = saved;
        errno = saved_errno;
        return;
    }

    pp_state.start_ns = pp_now_ns();
    pp_state.start_unix_ns = pp_unix_ns();
    pp_timeline_open(dev, ino, tree ? tree_path : NULL);
    uint64_t fdev, fino;
    const char *fpath;
    if (pp_timeline_identity(&fdev, &fino, &fpath) == 0)
        tree_export(fdev, fino, fpath);

    start_recording();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    pp_state.active = 1;

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
    pp_sampler_stop();
    pp_allocator_tick();
    pp_counters_flush_self();
    pp_sample_take(&end, PP_SAMPLE_RESET | PP_SAMPLE_PARTS | PP_SAMPLE_STATUS);
    pp_timeline_sample(&end, 1);
    pp_cpu_tick(1);
    pp_sites_exit();
    const char *table = pp_getenv("PERFPROBE_TABLE");
    int table_record = !pp_opt.quiet && table && !strcmp(table, "record");
    if (table_record)
        pp_report_table(&end, 1);      /* perfprobe run prints the main one's */
    pp_timeline_summary(&end);
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
    if (pp_state.active && getpid() != pp_state.pid && atomic_load(&handlers_taken)) {
        int saved = pp_in_hook;
        pp_in_hook = 1;
        pp_os_thread_atexit(parent_exit, NULL);
        pp_in_hook = saved;
        return;
    }
    pp_finish();
}

/* ---- exit ----------------------------------------------------------------- */

/* exit() from several threads at once: on glibc before 2.41 the first
 * caller runs the exit handlers while a second one, finding the list
 * empty, goes straight on to _exit and ends the process, perhaps before
 * the first has written the summary.  So any caller after the first makes
 * sure the summary is out before it goes on: it writes it itself, or, if
 * another thread is writing it, waits for that write at most 200 ms (as
 * does the destructor of a first caller that finds a later one writing).
 * Nobody is ever held longer than that, and exit itself is unchanged (the
 * real exit runs, with the caller's status, on the caller's thread). */
PP_HOOK(void, exit, (int status))
{
    if (!real_exit)
        FIND_REAL_EXIT();
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
 * the parent's): the lock is only tried, and a vfork child writes nothing.
 * The real _exit is one system call (pp_real_exit_now); no dlsym here. */
PP_HOOK(void, _exit, (int status))
{
    if (own_process())
        pp_timeline_flush(1);
    pp_real_exit_now(status);
}

PP_HOOK(void, _Exit, (int status))
{
    PP_HOOKED(_exit)(status);
}

/* On the sampler thread, once a sample. */
void pp_core_tick(void)
{
    pp_allocator_tick();
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
void pp_program_gone(void)
{
    pp_in_hook = 0;
    pp_single_mark_sampler(0);          /* the process's one thread now */
    pthread_sigmask(SIG_SETMASK, &program_mask, NULL);
    PP_HOOKED(exit)(0);
}

/* ---- exec ----------------------------------------------------------------- */

/* An exec ends this image: its last sample and an "exec" record go out
 * first, and if the exec fails an "exec_failed" record says so. */
static int exec_begin(const char *file, char *const argv[])
{
    if (!own_process())
        return 0;
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    /* the exec record is the image's last: the sampler is stopped first,
     * so that no sample of it can follow (started again if exec fails) */
    int stopped = atomic_load(&finished) ? 0 : pp_sampler_pause();
    if (pp_opt.follow == PP_FOLLOW_NONE && pp_state.is_root && pp_state.image == 0) {
        pp_warn("PERFPROBE_FOLLOW=none: '", file ? file : "?",
                "' started by exec is not traced", "");
    }
    struct pp_sample s;
    pp_counters_flush_self();
    pp_sample_take(&s, PP_SAMPLE_STATUS);
    pp_timeline_sample(&s, 1);
    pp_cpu_flush();                     /* the CPU samples held (cpu.c) */
    pp_timeline_exec(file, argv, 0);
    pp_in_hook = saved;
    errno = saved_errno;
    return stopped ? 2 : 1;
}

static void exec_failed(int began, const char *file)
{
    if (!began)
        return;
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    pp_timeline_exec(file, NULL, saved_errno ? saved_errno : ENOEXEC);
    if (began == 2)
        pp_sampler_start();
    pp_in_hook = saved;
    errno = saved_errno;
}

/* Shells (bash) hand exec their own export list, not environ, and it still
 * holds the PERFPROBE_TREE of the process they forked from: the new image
 * would take itself for that pid's image 0.  The entry in the array passed
 * is replaced by this image's; the copy lives on the stack (or in a raw
 * mapping for a very long environment, unmapped if the exec fails). */
struct env_fix {
    char **envp;
    void *map;
    size_t map_len;
};

static char *const *env_fixed(struct env_fix *f, char *const envp[], char **stack, size_t cap)
{
    f->map = NULL;
    if (!envp || envp == environ || !own_process() || !tree_entry[0])
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

static void env_fix_done(struct env_fix *f)
{
    int saved_errno = errno;
    if (f->map)
        pp_os_unmap(f->map, f->map_len);
    errno = saved_errno;
}

#define ENV_FIX(envp)                                                    \
    struct env_fix fix_;                                                 \
    char *fix_stack_[256];                                               \
    char *const *fixed_envp = env_fixed(&fix_, envp, fix_stack_, 256)

#define REAL(name) PP_REAL_FN(name)

PP_HOOK(int, execve, (const char *file, char *const argv[], char *const envp[]))
{
    REAL(execve);
    ENV_FIX(envp);
    int b = exec_begin(file, argv);
    int rc = real_execve(file, argv, fixed_envp);
    exec_failed(b, file);
    env_fix_done(&fix_);
    return rc;
}

#if defined(__linux__)
/* glibc's exec forms call execve inside libc; libSystem's call it across
 * images, through the table */
PP_EXPORT int execv(const char *file, char *const argv[])
{
    REAL(execv);
    int b = exec_begin(file, argv);
    int rc = real_execv(file, argv);
    exec_failed(b, file);
    return rc;
}

PP_EXPORT int execvp(const char *file, char *const argv[])
{
    REAL(execvp);
    int b = exec_begin(file, argv);
    int rc = real_execvp(file, argv);
    exec_failed(b, file);
    return rc;
}

PP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
    REAL(execvpe);
    ENV_FIX(envp);
    int b = exec_begin(file, argv);
    int rc = real_execvpe(file, argv, fixed_envp);
    exec_failed(b, file);
    env_fix_done(&fix_);
    return rc;
}

PP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
    REAL(fexecve);
    ENV_FIX(envp);
    int b = exec_begin(argv[0] ? argv[0] : "(fexecve)", argv);
    int rc = real_fexecve(fd, argv, fixed_envp);
    exec_failed(b, "(fexecve)");
    env_fix_done(&fix_);
    return rc;
}

/* execveat: glibc has it from 2.34; before, the system call itself. */
PP_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    REAL(execveat);
    ENV_FIX(envp);
    const char *name = path[0] ? path : argv[0] ? argv[0] : "(execveat)";
    int b = exec_begin(name, argv);
    int rc = real_execveat ? real_execveat(dirfd, path, argv, fixed_envp, flags)
                           : (int)syscall(SYS_execveat, dirfd, path, argv, fixed_envp, flags);
    exec_failed(b, name);
    env_fix_done(&fix_);
    return rc;
}
#endif

/* posix_spawn and posix_spawnp start a new process: no image of this one
 * ends, and the child finds its place in the tree by itself.  Only the
 * environment passed is fixed, as for execve (a shell's export list, or a
 * copy the program made earlier, holds an older PERFPROBE_TREE).  The copy
 * may live on the stack: the child has exec'd or failed when the call
 * returns. */
PP_HOOK(int, posix_spawn, (pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]))
{
    REAL(posix_spawn);
    ENV_FIX(envp);
    int rc = real_posix_spawn(pid, path, fa, attr, argv, fixed_envp);
    env_fix_done(&fix_);
    return rc;
}

PP_HOOK(int, posix_spawnp, (pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]))
{
    REAL(posix_spawnp);
    ENV_FIX(envp);
    int rc = real_posix_spawnp(pid, file, fa, attr, argv, fixed_envp);
    env_fix_done(&fix_);
    return rc;
}

#if defined(__linux__)
/* execl, execlp, execle: the arguments are gathered into an array on the
 * stack and passed to the v-form above, as glibc itself does. */
#define GATHER(first, ap, argv, n, extra)                                  \
    size_t n = 1;                                                          \
    va_start(ap, first);                                                   \
    while (va_arg(ap, char *))                                             \
        n++;                                                               \
    va_end(ap);                                                            \
    char *argv[n + 1];                                                     \
    argv[0] = (char *)first;                                               \
    va_start(ap, first);                                                   \
    for (size_t i = 1; i <= n; i++)                                        \
        argv[i] = va_arg(ap, char *);                                      \
    extra;                                                                 \
    va_end(ap)

PP_EXPORT int execl(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, argv, n, (void)0);
    return execv(file, argv);
}

PP_EXPORT int execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, argv, n, (void)0);
    return execvp(file, argv);
}

PP_EXPORT int execle(const char *file, const char *arg, ...)
{
    va_list ap;
    char *const *envp;
    GATHER(arg, ap, argv, n, envp = va_arg(ap, char *const *));
    return execve(file, argv, envp);
}

/* ---- moments the program must be alone ------------------------------------ *
 *
 * unshare, setns and the set*id family: Linux and glibc only (macOS has no
 * namespaces, and libSystem's set*id is per process, with no single-thread
 * shortcut to undo; its setgroups and initgroups also differ in type). */

/* unshare(CLONE_NEWUSER), unshare(CLONE_FS) and setns into a user or mount
 * namespace fail with EINVAL in a multi-threaded process.  The program
 * does not know about the sampler thread, so while it makes these calls
 * the thread is stopped (and its exit awaited), then started again. */
static int alone_begin(void)
{
    if (!own_process() || atomic_load(&finished))
        return 0;
    int saved = pp_in_hook;
    pp_in_hook = 1;
    int stopped = pp_sampler_pause();
    pp_in_hook = saved;
    return stopped;
}

static void alone_end(int stopped)
{
    if (!stopped)
        return;
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    pp_sampler_start();
    pp_in_hook = saved;
    errno = saved_errno;
}

PP_EXPORT int unshare(int flags)
{
    REAL(unshare);
    int stopped = alone_begin();
    int rc = real_unshare(flags);
    alone_end(stopped);
    return rc;
}

PP_EXPORT int setns(int fd, int nstype)
{
    REAL(setns);
    int stopped = alone_begin();
    int rc = real_setns(fd, nstype);
    alone_end(stopped);
    return rc;
}

/* ---- credentials ---------------------------------------------------------- *
 *
 * glibc gives new credentials to every thread (set*id, setgroups) only when
 * it knows the process has more than one; in a program with one thread of
 * its own it believes so no longer (single.c), and the sampler would keep
 * the old ones.  So from the first such call on it believes so again. */
#define SETXID_HOOK(name, params, args)                                 \
    PP_EXPORT int name params                                           \
    {                                                                   \
        REAL(name);                                                     \
        (void)pp_single_end();                                          \
        return real_##name args;                                        \
    }
SETXID_HOOK(setuid, (uid_t u), (u))
SETXID_HOOK(setgid, (gid_t g), (g))
SETXID_HOOK(seteuid, (uid_t u), (u))
SETXID_HOOK(setegid, (gid_t g), (g))
SETXID_HOOK(setreuid, (uid_t r, uid_t e), (r, e))
SETXID_HOOK(setregid, (gid_t r, gid_t e), (r, e))
SETXID_HOOK(setresuid, (uid_t r, uid_t e, uid_t s), (r, e, s))
SETXID_HOOK(setresgid, (gid_t r, gid_t e, gid_t s), (r, e, s))
SETXID_HOOK(setgroups, (size_t n, const gid_t *list), (n, list))
SETXID_HOOK(initgroups, (const char *user, gid_t group), (user, group))
#endif /* __linux__ */

/* fork, and daemon, which calls glibc's fork inside libc: see single.c */
PP_HOOK(pid_t, fork, (void))
{
    REAL(fork);
    int ended = pp_single_end();
    pid_t pid = real_fork();
    int saved = errno;
    pp_single_restore(ended);
    errno = saved;
    return pid;
}

#if defined(__linux__)
PP_EXPORT int daemon(int nochdir, int noclose)
{
    REAL(daemon);
    int ended = pp_single_end();
    int rc = real_daemon(nochdir, noclose);
    int saved = errno;
    pp_single_restore(ended);
    errno = saved;
    return rc;
}
#endif
