/*
 * single_view.c FACTS MS [setuid|forkexit] - what glibc believes about a program with
 * one thread of its own, while the shim's sampler thread runs beside it.
 *
 * For MS milliseconds the program maps, touches and unmaps memory (the
 * shim's mappings lock, which the sampler takes too), allocates and frees,
 * marks a probe every 8 rounds (the timeline lock), and reads
 * __libc_single_threaded every round.  With "setuid", run as root, it then
 * takes uid and gid 65534 with setresuid/setresgid and counts the threads
 * of the process that the kernel says have them.  Last it starts and joins
 * a thread of its own.  Facts: the flag at start, its lowest value over the
 * rounds, rounds, probes, the thread counts, the flag after the thread.
 *
 * With "forkexit" it first writes a line to stdout (buffered when stdout is
 * a file) and forks; the child ends with pthread_exit in main, after which
 * glibc calls exit(0), which flushes the child's copy of the line: the
 * line appears twice.
 */
#define _GNU_SOURCE
#include "util.h"

#include <sys/syscall.h>
#include <perf_probe.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/wait.h>

/* threads of this process, and how many of them have uid U (real,
 * effective and saved): the kernel's list itself (getdents64), which the
 * shim's readdir does not edit (it leaves its sampler out of a listing) */
static void count_uid(unsigned u, int *tasks, int *with_u)
{
    char path[320], buf[4096], want[64];
    static char dents[32768];
    int d = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    long got;
    snprintf(want, sizeof want, "\nUid:\t%u\t%u\t%u\t", u, u, u);
    *tasks = *with_u = 0;
    while (d >= 0 && (got = syscall(SYS_getdents64, d, dents, sizeof dents)) > 0) {
        for (long off = 0; off < got;) {
            const char *name = dents + off + 19;
            unsigned short reclen;
            memcpy(&reclen, dents + off + 16, 2);
            off += reclen;
            if (name[0] == '.')
                continue;
            snprintf(path, sizeof path, "/proc/self/task/%s/status", name);
            int fd = open(path, O_RDONLY);
            ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
            if (fd >= 0)
                close(fd);
            if (n <= 0)
                continue;
            buf[n] = 0;
            ++*tasks;
            if (strstr(buf, want))
                ++*with_u;
        }
    }
    if (d >= 0)
        close(d);
}

static void *idle(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    facts_open(argv[1]);
    long long ms = atoll(argv[2]);
    fact("start", __libc_single_threaded);
    if (argc > 3 && strcmp(argv[3], "forkexit") == 0) {
        int status;
        printf("written once, flushed by each process\n");
        pid_t pid = fork();
        if (pid == 0)
            pthread_exit(NULL);
        if (pid < 0 || waitpid(pid, &status, 0) != pid)
            return 6;
        fact("child_status", status);
    }

    int lowest = __libc_single_threaded;
    long long rounds = 0, probes = 0;
    double end = now_ms() + ms;
    while (now_ms() < end) {
        size_t len = (size_t)(rounds % 16 + 1) * 65536;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 3;
        memset(m, 1, len);
        munmap(m, len);
        for (int i = 0; i < 64; i++) {
            test_sink = malloc((size_t)(i * 40 + 16));
            free(test_sink);
        }
        if (rounds % 8 == 0) {
            perf_probe("round");
            probes++;
        }
        if (__libc_single_threaded < lowest)
            lowest = __libc_single_threaded;
        rounds++;
    }
    fact("lowest", lowest);
    fact("rounds", rounds);
    fact("probes", probes);

    if (argc > 3 && strcmp(argv[3], "setuid") == 0 && geteuid() == 0) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            return 4;
        int tasks, with_u;
        count_uid(65534, &tasks, &with_u);
        fact("tasks", tasks);
        fact("tasks_new_uid", with_u);
    }

    pthread_t t;
    if (pthread_create(&t, NULL, idle, NULL) != 0 || pthread_join(t, NULL) != 0)
        return 5;
    fact("after_thread", __libc_single_threaded);
    return 0;
}
