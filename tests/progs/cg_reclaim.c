/* cg_reclaim - makes the kernel reclaim in its memory cgroup without being
 * OOM-killed: holds a known heap from one function (hold_heap: argv[3]
 * blocks of 1 MiB, each touched), then writes argv[2] MiB to the file
 * argv[1] (on a disk file system: page cache, which the kernel reclaims
 * when the cgroup reaches its limit), synced every 4 MiB so that what it
 * reclaims is clean; then waits argv[4] milliseconds (samples after the
 * last reclaim), frees the heap and exits 0.  Prints "held N" (the heap
 * bytes) and "wrote N" on stdout.  The write buffer is static: the only
 * heap blocks are hold_heap's. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char chunk[MIB];
static void *held[1024];

__attribute__((noinline)) static void hold_heap(int n)
{
    for (int i = 0; i < n; i++) {
        held[i] = malloc(MIB);
        if (!held[i])
            exit(3);
        memset(held[i], i + 1, MIB);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5)
        return 2;
    long mib = atol(argv[2]), wait_ms = atol(argv[4]);
    int n = atoi(argv[3]);
    if (n < 0 || n > 1024)
        return 2;
    hold_heap(n);
    printf("held %ld\n", (long)n * MIB);
    fflush(stdout);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return 4;
    memset(chunk, 'x', sizeof chunk);
    long done = 0;
    for (long i = 0; i < mib; i++) {
        if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk)
            return 5;
        done += MIB;
        if (i % 4 == 3)
            fdatasync(fd);
    }
    fdatasync(fd);
    close(fd);
    printf("wrote %ld\n", done);
    fflush(stdout);
    struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    for (int i = 0; i < n; i++)
        free(held[i]);
    return 0;
}
