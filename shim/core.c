/*
 * core.c - the shim's life cycle: start-up, fork, exec, fatal signals, exit.
 *
 * Start-up runs as a constructor of the preloaded library, before the
 * program's own constructors, with pp_in_hook set so that nothing the shim
 * does is counted.  The report is written once, from a destructor: those run
 * from _dl_fini, after the program's atexit handlers and static destructors,
 * and a run-once flag keeps several threads calling exit() from reporting
 * twice.  _exit and fatal signals skip destructors, which is why the
 * timeline is streamed; for the catchable fatal signals whose action is the
 * default, a handler writes a last sample, restores the default action and
 * re-raises, so the process dies exactly as it would have.
 *
 * fork: the child gets its own file, counts and sampler (pthread_atfork,
 * with the shim's locks held across the fork).  exec: LD_PRELOAD carries
 * the shim into new programs; PERFPROBE_FOLLOW=0 removes it.  A traced
 * process marks its descendants with PERFPROBE_ROOT=<pid> in the
 * environment, so that only the first process prints the table.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

struct pp_state pp_state;
static _Atomic int finished;

void pp_warn(const char *a, const char *b, const char *c, const char *d)
{
    char line[1024];
    struct pp_buf buf = {line, 0, sizeof line - 1};
    pp_buf_str(&buf, "perfprobe: warning: ");
    pp_buf_str(&buf, a);
    pp_buf_str(&buf, b);
    pp_buf_str(&buf, c);
    pp_buf_str(&buf, d);
    pp_buf_raw(&buf, "\n", 1);
    if (buf.len == buf.cap)
        line[buf.len - 1] = '\n';
    pp_write_all(2, buf.p, buf.len);
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

/* PERFPROBE_FOLLOW=0: drop every libperfprobe* entry from LD_PRELOAD. */
static void unfollow(void)
{
    static char entry[4096 + 12] = "LD_PRELOAD=";
    const char *v = pp_getenv("LD_PRELOAD");
    struct pp_buf b = {entry, 11, sizeof entry - 1};
    if (!v)
        return;
    while (*v) {
        size_t n = strcspn(v, " :");
        const char *slash = v, *base = v;
        for (; slash < v + n; slash++)
            if (*slash == '/')
                base = slash + 1;
        if (n && strncmp(base, "libperfprobe", 12) != 0) {
            if (b.len > 11)
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

/* ---- signals -------------------------------------------------------------- */

static const int fatal_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void on_fatal_signal(int signo)
{
    int saved_errno = errno, saved_flag = pp_in_hook;
    pp_in_hook = 1;
    if (!atomic_exchange(&finished, 1))
        pp_timeline_signal(signo);
    /* SA_RESETHAND restored the default action: raise again, and the
     * signal is delivered as soon as this handler returns */
    raise(signo);
    pp_in_hook = saved_flag;
    errno = saved_errno;
}

static void install_signal_handlers(void)
{
    for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; i++) {
        struct sigaction old, sa;
        if (sigaction(fatal_signals[i], NULL, &old) != 0 || old.sa_handler != SIG_DFL ||
            (old.sa_flags & SA_SIGINFO))
            continue;                   /* the program's choice stands */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sa.sa_flags = SA_RESETHAND | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(fatal_signals[i], &sa, NULL);
    }
}

/* ---- start-up ------------------------------------------------------------- */

static void start_recording(void)
{
    pp_state.start_ns = pp_now_ns();
    pp_state.start_unix_ns = pp_unix_ns();
    pp_timeline_open();
    pp_sample_take(&pp_state.first, PP_SAMPLE_RESET | PP_SAMPLE_STATUS);
    pp_timeline_sample(&pp_state.first, 1);
    pp_sampler_start();
}

static void fork_prepare(void)
{
    pp_probe_lock();
    pp_timeline_lock();
    pp_map_lock();
    pp_stacks_lock();
}

static void fork_parent(void)
{
    pp_stacks_unlock();
    pp_map_unlock();
    pp_timeline_unlock();
    pp_probe_unlock();
}

static void fork_child(void)
{
    int saved = pp_in_hook;
    pp_in_hook = 1;
    pp_map_after_fork_child();
    pp_tid_forget();
    pp_stacks_after_fork_child();
    pp_stack_register();                 /* the forking thread, if not main */
    pp_parts_after_fork_child();
    pp_state.ppid = pp_state.pid;
    pp_state.pid = getpid();
    pp_state.is_root = 0;
    pp_state.first_image = 0;
    atomic_store(&finished, 0);
    pp_counters_after_fork_child();
    pp_region_after_fork_child();
    pp_proc_after_fork();
    pp_state.start_ns = pp_now_ns();
    pp_state.start_unix_ns = pp_unix_ns();
    pp_timeline_after_fork_child();
    pp_sample_take(&pp_state.first, PP_SAMPLE_RESET | PP_SAMPLE_STATUS);
    pp_probe_after_fork_child();
    pp_probe_unlock();
    pp_timeline_sample(&pp_state.first, 1);
    pp_sampler_start();
    pp_in_hook = saved;
}

/* A relative PERFPROBE_OUTPUT is made absolute once, by the first process,
 * so that descendants that change directory still write beside it. */
static void absolute_output(void)
{
    static char entry[sizeof pp_opt.output + 32] = "PERFPROBE_OUTPUT=";
    struct pp_buf b = {entry, 17, sizeof entry - 1};
    char cwd[4096];
    if (pp_opt.output[0] != '/') {
        if (!getcwd(cwd, sizeof cwd))
            return;
        pp_buf_str(&b, cwd);
        pp_buf_raw(&b, "/", 1);
    }
    pp_buf_str(&b, pp_opt.output);
    if (b.len >= sizeof pp_opt.output + 16)
        return;
    entry[b.len] = 0;
    memcpy(pp_opt.output, entry + 17, b.len - 17 + 1);
    env_set(entry);
}

static void program_name(void)
{
    const char *name = program_invocation_short_name;
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
}

__attribute__((constructor(101))) static void pp_init(void)
{
    static char root_entry[40] = "PERFPROBE_ROOT=";
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;

    pp_resolve();
    pp_state.pid = getpid();
    pp_state.ppid = getppid();
    program_name();
    struct stat st;
    if (fstat(2, &st) == 0) {
        pp_state.stderr_dev = st.st_dev;
        pp_state.stderr_ino = st.st_ino;
    }

    const char *root = pp_getenv("PERFPROBE_ROOT");
    uint64_t root_pid = 0;
    for (const char *p = root; p && *p >= '0' && *p <= '9'; p++)
        root_pid = root_pid * 10 + (uint64_t)(*p - '0');
    /* the root itself after an exec keeps its pid, and stays the root */
    pp_state.is_root = root_pid == 0 || root_pid == (uint64_t)pp_state.pid;
    pp_state.root_pid = pp_state.is_root ? pp_state.pid : (pid_t)root_pid;
    pp_state.first_image = root == NULL;

    /* descendants see the same settings: only the first process warns */
    pp_options_load(pp_state.first_image);
    pp_counters_init();
    pp_region_init();
    if (pp_state.first_image) {
        struct pp_buf b = {root_entry, 15, sizeof root_entry - 1};
        pp_buf_u64(&b, (uint64_t)pp_state.pid);
        root_entry[b.len] = 0;
        env_set(root_entry);
        absolute_output();
    }
    if (!pp_opt.follow)
        unfollow();

    start_recording();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    if (pp_opt.signals)
        install_signal_handlers();
    pp_state.active = 1;

    pp_in_hook = saved;
    errno = saved_errno;
}

/* Called once, at exit (or by the first of several threads calling it). */
void pp_finish(void)
{
    if (!pp_state.active || atomic_exchange(&finished, 1))
        return;
    int saved = pp_in_hook, saved_errno = errno;
    pp_in_hook = 1;
    struct pp_sample end;
    pp_sampler_stop();
    pp_counters_flush_self();
    pp_sample_take(&end, PP_SAMPLE_RESET | PP_SAMPLE_PARTS | PP_SAMPLE_STATUS);
    pp_timeline_sample(&end, 1);
    pp_timeline_summary(&end);
    /* Some programs close stderr in an atexit handler (coreutils do), and
     * the number may since belong to another file: then the table is left
     * out; the timeline has the same figures. */
    struct stat st;
    if (!pp_opt.quiet && pp_state.is_root && fstat(2, &st) == 0 &&
        st.st_dev == pp_state.stderr_dev && st.st_ino == pp_state.stderr_ino)
        pp_report_table(&end);
    pp_in_hook = saved;
    errno = saved_errno;
}

__attribute__((destructor)) static void pp_fini(void)
{
    pp_finish();
}

/* exit() from several threads at once: the first caller runs the exit
 * handlers and the destructors (and so the report); without this, a second
 * caller that finds the handler list already empty goes on to _exit and
 * ends the process before the report is written.  Later callers wait for
 * the first, as glibc itself does since 2.41; a nested call from an exit
 * handler on the exiting thread passes straight through. */
PP_EXPORT void exit(int status)
{
    static _Atomic pid_t exiting;
    pid_t me = pp_tid(), none = 0;
    void (*real_exit)(int) = (void (*)(int))dlsym(RTLD_NEXT, "exit");
    if (!atomic_compare_exchange_strong(&exiting, &none, me) && none != me)
        for (;;)
            pause();
    real_exit(status);
    __builtin_unreachable();
}
