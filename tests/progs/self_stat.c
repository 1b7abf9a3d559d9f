// link: -pthread
/*
 * self_stat.c - what a program reads of its own thread count, and of the
 * stream it was given, through fopen and fopen64: for t0645, which runs it
 * bare and under the shim and compares the "key value" lines it prints
 * (tests/progs/self_open.c does the same through open(2)).
 *
 * self_stat THREADS: starts THREADS threads that wait, then reads field 20
 * (num_threads) of /proc/self/stat and /proc/PID/stat through fopen and
 * fopen64, with modes "r" and "re"; for each stream also whether its
 * descriptor is the lowest free one (what open would have given) and
 * whether it is close-on-exec; fields 1-8 of the text against a read with
 * the openat system call; the "Threads:" line of /proc/self/status and
 * /proc/PID/status through fopen and fopen64; /proc/1/stat's pid through
 * fopen; and the count read by the system call itself, which no hook sees
 * ("raw").  It first sleeps 50 ms, past the
 * sampler's first tick, whose opens take the lowest free descriptor for a
 * moment (docs/robustness.md, "Known limits"): the lowest-descriptor check
 * is about the stream the shim gives, not that race.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static pthread_barrier_t ready, done;

static void *waiter(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&done);
    return NULL;
}

static void raw(char *text, size_t cap)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, text, cap - 1) : -1;
    text[n > 0 ? n : 0] = 0;
    if (fd >= 0)
        close(fd);
}

static void through(const char *how, const char *path, const char *mode, int wide)
{
    char text[1024], direct[1024], a[256], b[256];
    int lowest = dup(0);
    close(lowest);
    FILE *f = wide ? fopen64(path, mode) : fopen(path, mode);
    if (!f) {
        printf("%s_open 0\n", how);
        return;
    }
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    raw(direct, sizeof direct);
    stat_field(text, 20, a, sizeof a);
    printf("%s_threads %s\n", how, a);
    printf("%s_lowest_fd %d\n", how, fileno(f) == lowest);
    printf("%s_cloexec %d\n", how, (fcntl(fileno(f), F_GETFD) & FD_CLOEXEC) != 0);
    int same = 1;
    for (int k = 1; k <= 8; k++) {
        stat_field(text, k, a, sizeof a);
        stat_field(direct, k, b, sizeof b);
        same &= strcmp(a, b) == 0;
    }
    printf("%s_fields_1_8_as_read %d\n", how, same);
    printf("%s_ends_in_newline %d\n", how, n > 0 && text[n - 1] == '\n');
    fclose(f);
}

/* the "Threads:" line of a status file read through fopen or fopen64 */
static void status(const char *how, const char *path, const char *mode, int wide)
{
    char line[512];
    long v = -1;
    FILE *f = wide ? fopen64(path, mode) : fopen(path, mode);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0)
            v = strtol(line + 8, NULL, 10);
    printf("%s_threads %ld\n", how, v);
    if (f) {
        printf("%s_cloexec %d\n", how, (fcntl(fileno(f), F_GETFD) & FD_CLOEXEC) != 0);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    pthread_t t[64];
    pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&done, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads && i < 64; i++)
        pthread_create(&t[i], NULL, waiter, NULL);
    pthread_barrier_wait(&ready);
    struct timespec nap = {0, 50 * 1000 * 1000};
    nanosleep(&nap, NULL);

    char path[64], text[1024], v[256];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)getpid());
    through("self_r", "/proc/self/stat", "r", 0);
    through("self_re", "/proc/self/stat", "re", 0);
    through("self64_r", "/proc/self/stat", "r", 1);
    through("pid_r", path, "r", 0);
    through("pid64_re", path, "re", 1);
    status("status_r", "/proc/self/status", "r", 0);
    snprintf(path, sizeof path, "/proc/%d/status", (int)getpid());
    status("pid_status64_re", path, "re", 1);
    FILE *one = fopen("/proc/1/stat", "r");
    if (one && fgets(text, sizeof text, one)) {
        stat_field(text, 1, v, sizeof v);
        printf("init_pid %s\n", v);
    }
    if (one)
        fclose(one);
    raw(text, sizeof text);
    stat_field(text, 20, v, sizeof v);
    printf("raw_threads %s\n", v);

    pthread_barrier_wait(&done);
    for (int i = 0; i < threads && i < 64; i++)
        pthread_join(t[i], NULL);
    return 0;
}
