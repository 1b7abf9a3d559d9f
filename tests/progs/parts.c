/* parts OUT FILE: does one known thing to each part of RSS between the
 * probes "before" and "after": 40 MiB of touched heap, a 64 MiB anonymous
 * mapping a quarter touched, FILE mapped and read, a thread that touched
 * 2 MiB of its stack (alive at "after"); then 100 MiB of heap never
 * touched, before "untouched". */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "util.h"
#include "perf_probe.h"

#define MiB (1024L * 1024)
static pthread_barrier_t touched, done;

static void *deep(void *arg)
{
    (void)arg;
    test_sink = malloc(16);                    /* a first allocation registers the stack */
    volatile char frame[2 * MiB];
    for (long i = 0; i < 2 * MiB; i += 4096)
        frame[i] = 1;
    pthread_barrier_wait(&touched);
    pthread_barrier_wait(&done);
    return (void *)(long)frame[4096];
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    facts_open(argv[1]);
    pthread_barrier_init(&touched, NULL, 2);
    pthread_barrier_init(&done, NULL, 2);
    perf_probe("before");

    char *heap = malloc(40 * MiB);
    memset(heap, 1, 40 * MiB);
    test_sink = heap;
    char *anon = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(anon, 1, 16 * MiB);
    int fd = open(argv[2], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st))
        return 3;
    char *file = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    long sum = 0;
    for (long i = 0; i < st.st_size; i += 4096)
        sum += file[i];
    pthread_t t;
    pthread_create(&t, NULL, deep, NULL);
    pthread_barrier_wait(&touched);
    perf_probe("after");
    pthread_barrier_wait(&done);
    pthread_join(t, NULL);

    char *big = malloc(100 * MiB);             /* the xz case: handed out, never touched */
    test_sink = big;
    perf_probe("untouched");
    fact("file_bytes", (long long)st.st_size);
    fact("sum", sum);
    return 0;
}
