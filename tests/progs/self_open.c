// link: -pthread -D_FORTIFY_SOURCE=2
/*
 * self_open.c - what a program reads of its own thread count through
 * open(2) and its relatives, and what descriptor it is given: for t0645,
 * which runs it bare and under the shim and compares the "key value" lines
 * it prints.
 *
 * self_open THREADS OTHER_PID: starts THREADS threads that wait, then
 * reads /proc/self/stat (field 20) and /proc/self/status ("Threads:"), and
 * the same under /proc/PID/, through open, open64, openat and openat64
 * (AT_FDCWD, or a directory descriptor beside an absolute path), and
 * through glibc's fortified __open_2, __open64_2, __openat_2 and
 * __openat64_2 (built with _FORTIFY_SOURCE, a call whose flags the
 * compiler cannot see goes there).  For each descriptor: the number it
 * got, whether it is the lowest free one, close-on-exec, its status flags
 * (F_GETFL), its offset, and the first fields (stat: 1-8) or lines
 * (status: 1-8) against a read made with the openat system call itself,
 * which no hook sees.  Then OTHER_PID's stat and status counts (a process
 * the test started bare), and this process's counts read by the system
 * call ("raw": the sampler is counted under the shim).  It first sleeps
 * 50 ms, past the sampler's first tick (as tests/progs/self_stat.c).
 *
 * self_open exitmain: the main thread calls pthread_exit while a worker
 * runs on for 300 ms, then reads its status through open, prints, and
 * exits with status 5.  The shim's sampler ends the process when it sees
 * the main thread gone and two threads left (itself and the zombie): if
 * its own reads were given the edited count it would end it early.
 *
 * self_open grow: closes every descriptor above 2 (the shim's too) 50 ms
 * in, then touches 64 MiB and holds it for 400 ms.  The shim's samples
 * take RSS from its own reads of /proc/self/stat and status, on
 * descriptors it opens again from its sampler thread and keeps: given the
 * edited copy, they would stay at the figure of the moment it was made.
 *
 * self_open create: files made through open, open64, openat, openat64
 * (O_CREAT) and an O_TMPFILE, with modes of their own: the mode each got.
 *
 * self_open hold THREADS: starts THREADS threads and sleeps (up to 60 s,
 * until killed): the other process.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static pthread_barrier_t ready, done;
static char self_dir[64];

static void *waiter(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&done);
    return NULL;
}

static void nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&t, NULL);
}

/* the whole file read from FD into TEXT (NUL-terminated) */
static void slurp(int fd, char *text, size_t cap)
{
    size_t n = 0;
    ssize_t got;
    while (n < cap - 1 && (got = read(fd, text + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    text[n] = 0;
}

/* PATH read by the system call itself, past any hook */
static void raw(const char *path, char *text, size_t cap)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    text[0] = 0;
    if (fd >= 0) {
        slurp(fd, text, cap);
        close(fd);
    }
}

/* status: the value of the "Threads:" line, as psutil reads it */
static long status_threads(const char *text)
{
    const char *p = strstr(text, "\nThreads:");
    return p ? strtol(p + 9, NULL, 10) : -1;
}

/* the count in TEXT, a stat or status file */
static long threads_of(const char *text, int status)
{
    char v[64];
    if (status)
        return status_threads(text);
    stat_field(text, 20, v, sizeof v);
    return v[0] ? strtol(v, NULL, 10) : -1;
}

/* are the first 8 fields (stat) or lines (status) of A and B the same? */
static int same_head(const char *a, const char *b, int status)
{
    if (status) {
        const char *ea = a, *eb = b;
        for (int i = 0; i < 8 && ea && eb; i++) {
            ea = strchr(ea, '\n');
            eb = strchr(eb, '\n');
            if (ea)
                ea++;
            if (eb)
                eb++;
        }
        return ea && eb && ea - a == eb - b && memcmp(a, b, (size_t)(ea - a)) == 0;
    }
    char fa[256], fb[256];
    for (int k = 1; k <= 8; k++) {
        stat_field(a, k, fa, sizeof fa);
        stat_field(b, k, fb, sizeof fb);
        if (strcmp(fa, fb) != 0)
            return 0;
    }
    return 1;
}

enum how { OPEN, OPEN64, OPENAT, OPENAT64, FORT_OPEN, FORT_OPEN64, FORT_OPENAT, FORT_OPENAT64 };
static const char *const how_name[] = {"open",        "open64",       "openat",
                                       "openat64",    "fort_open",    "fort_open64",
                                       "fort_openat", "fort_openat64"};

/* flags the compiler cannot see: with _FORTIFY_SOURCE the call goes to
 * the checked entry point (__open_2 ...) */
static volatile int hidden_flags;

static int open_by(enum how how, int dirfd, const char *path, int flags)
{
    switch (how) {
    case OPEN:
        return flags & O_CLOEXEC ? open(path, O_RDONLY | O_CLOEXEC)
               : flags & O_NONBLOCK ? open(path, O_RDONLY | O_NONBLOCK)
                                    : open(path, O_RDONLY);
    case OPEN64:
        return flags & O_CLOEXEC ? open64(path, O_RDONLY | O_CLOEXEC) : open64(path, O_RDONLY);
    case OPENAT:
        return flags & O_CLOEXEC ? openat(dirfd, path, O_RDONLY | O_CLOEXEC)
                                 : openat(dirfd, path, O_RDONLY);
    case OPENAT64:
        return flags & O_CLOEXEC ? openat64(dirfd, path, O_RDONLY | O_CLOEXEC)
                                 : openat64(dirfd, path, O_RDONLY);
    case FORT_OPEN:
        hidden_flags = flags;
        return open(path, hidden_flags);
    case FORT_OPEN64:
        hidden_flags = flags;
        return open64(path, hidden_flags);
    case FORT_OPENAT:
        hidden_flags = flags;
        return openat(dirfd, path, hidden_flags);
    case FORT_OPENAT64:
        hidden_flags = flags;
        return openat64(dirfd, path, hidden_flags);
    }
    return -1;
}

/* one read through HOW: KEY is "<how>_<which>" */
static void through(enum how how, int dirfd, const char *which, int flags)
{
    char path[96], key[96], text[8192], direct[8192];
    int status = strncmp(which, "status", 6) == 0 || strstr(which, "_status") != NULL;
    snprintf(path, sizeof path, "%s/%s", strncmp(which, "pid_", 4) == 0 ? self_dir : "/proc/self",
             strncmp(which, "pid_", 4) == 0 ? which + 4 : which);
    snprintf(key, sizeof key, "%s_%s%s%s", how_name[how], which,
             flags & O_CLOEXEC ? "_e" : "", flags & O_NONBLOCK ? "_nb" : "");
    int lowest = dup(0);
    close(lowest);
    int fd = open_by(how, dirfd, path, flags);
    if (fd < 0) {
        printf("%s_open 0\n", key);
        return;
    }
    off_t at = lseek(fd, 0, SEEK_CUR);
    slurp(fd, text, sizeof text);
    raw(path, direct, sizeof direct);
    printf("%s_threads %ld\n", key, threads_of(text, status));
    printf("%s_fd %d\n", key, fd);
    printf("%s_lowest_fd %d\n", key, fd == lowest);
    printf("%s_cloexec %d\n", key, (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    printf("%s_flags %#o\n", key, fcntl(fd, F_GETFL));
    printf("%s_offset %lld\n", key, (long long)at);
    printf("%s_head_as_read %d\n", key, same_head(text, direct, status));
    close(fd);
}

static void start(int threads, pthread_t *t)
{
    pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, waiter, NULL);
    pthread_barrier_wait(&ready);
}

static void *late_worker(void *arg)
{
    (void)arg;
    char text[8192];
    nap_ms(300);
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd >= 0) {
        slurp(fd, text, sizeof text);
        close(fd);
        printf("worker_threads %ld\n", status_threads(text));
    }
    printf("worker_done 1\n");
    fflush(stdout);
    exit(5);
}

int main(int argc, char **argv)
{
    pthread_t t[64];
    if (argc > 1 && strcmp(argv[1], "exitmain") == 0) {
        pthread_t w;
        pthread_create(&w, NULL, late_worker, NULL);
        pthread_exit(NULL);
    }
    if (argc > 1 && strcmp(argv[1], "grow") == 0) {
        size_t len = (size_t)64 << 20;
        nap_ms(50);
        /* every descriptor but 0-2, the shim's too: it opens its files
         * again, from its sampler thread */
        printf("close_range %ld\n", syscall(SYS_close_range, 3u, ~0u, 0u));
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 1;
        memset(p, 1, len);
        nap_ms(400);                    /* samples: every ms, fewer when loaded */
        printf("touched %zu\n", len);
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "create") == 0) {
        struct stat st;
        int fds[5] = {open("c_open", O_CREAT | O_WRONLY | O_EXCL, 0640),
                      open64("c_open64", O_CREAT | O_WRONLY, 0604),
                      openat(AT_FDCWD, "c_openat", O_CREAT | O_RDWR | O_CLOEXEC, 0611),
                      openat64(AT_FDCWD, "c_openat64", O_CREAT | O_WRONLY | O_TRUNC, 0444),
                      open(".", O_TMPFILE | O_RDWR, 0654)};
        for (int i = 0; i < 5; i++) {
            printf("create_%d %s", i, fds[i] >= 0 ? "" : "failed ");
            if (fds[i] >= 0 && fstat(fds[i], &st) == 0)
                printf("%o", (unsigned)(st.st_mode & 07777));
            printf("\n");
            if (fds[i] >= 0)
                close(fds[i]);
        }
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "hold") == 0) {
        int n = atoi(argv[2]);
        start(n < 64 ? n : 64, t);
        nap_ms(60000);
        return 0;
    }
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    const char *other = argc > 2 ? argv[2] : "1";
    if (threads > 64)
        threads = 64;
    start(threads, t);
    nap_ms(50);
    snprintf(self_dir, sizeof self_dir, "/proc/%d", (int)getpid());
    int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    through(OPEN, AT_FDCWD, "stat", 0);
    through(OPEN, AT_FDCWD, "status", 0);
    through(OPEN, AT_FDCWD, "pid_status", O_CLOEXEC);
    through(OPEN, AT_FDCWD, "status", O_NONBLOCK);
    through(OPEN64, AT_FDCWD, "stat", O_CLOEXEC);
    through(OPEN64, AT_FDCWD, "pid_status", 0);
    through(OPENAT, AT_FDCWD, "status", 0);
    through(OPENAT, root, "pid_stat", O_CLOEXEC);
    through(OPENAT64, AT_FDCWD, "stat", 0);
    through(OPENAT64, root, "pid_status", O_CLOEXEC);
    through(FORT_OPEN, AT_FDCWD, "stat", 0);
    through(FORT_OPEN, AT_FDCWD, "pid_status", O_CLOEXEC);
    through(FORT_OPEN64, AT_FDCWD, "status", 0);
    through(FORT_OPENAT, root, "status", O_CLOEXEC);
    through(FORT_OPENAT64, AT_FDCWD, "pid_stat", 0);

    /* another process's files: read as they are */
    char path[64], text[8192];
    snprintf(path, sizeof path, "/proc/%s/stat", other);
    int fd = open(path, O_RDONLY);
    slurp(fd, text, sizeof text);
    close(fd);
    printf("other_stat_threads %ld\n", threads_of(text, 0));
    snprintf(path, sizeof path, "/proc/%s/status", other);
    fd = openat(root, path, O_RDONLY | O_CLOEXEC);
    slurp(fd, text, sizeof text);
    close(fd);
    printf("other_status_threads %ld\n", threads_of(text, 1));

    raw("/proc/self/status", text, sizeof text);
    printf("raw_threads %ld\n", threads_of(text, 1));
    close(root);

    pthread_barrier_wait(&done);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return 0;
}
