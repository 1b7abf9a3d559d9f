/* grow_cache - a cache that grows by 64 KiB every 100 us from one function
 * (grow_cache), each block touched, until the process is killed.
 * argv[1]: a file this program maps shared: word 0 its pid, word 1+k the
 * bytes it had allocated k milliseconds after it started (written as it
 * goes, so that whoever kills it can read what it had done by then).
 * argv[2] (optional): stop growing at this many bytes and sleep. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 60000
#define BLOCK (64 * 1024)

struct node { struct node *next; char data[]; };
static struct node *cache;

static uint64_t now_ms(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t ns = (int64_t)(t.tv_sec - t0->tv_sec) * 1000000000 + (t.tv_nsec - t0->tv_nsec);
    return (uint64_t)(ns / 1000000);
}

__attribute__((noinline)) static void grow_cache(void)
{
    struct node *n = malloc(BLOCK);
    if (!n)
        abort();
    memset(n, 1, BLOCK);
    n->next = cache;
    cache = n;
}

int main(int argc, char **argv)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, (SLOTS + 1) * 8) != 0)
        return 1;
    volatile uint64_t *log = mmap(NULL, (SLOTS + 1) * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (log == MAP_FAILED)
        return 1;
    uint64_t stop = argc > 2 ? strtoull(argv[2], NULL, 0) : UINT64_MAX;
    log[0] = (uint64_t)getpid();
    uint64_t total = 0, filled = 0;
    for (;;) {
        if (total < stop) {
            grow_cache();
            total += BLOCK;
        }
        uint64_t ms = now_ms(&t0);
        while (filled <= ms && filled < SLOTS)
            log[1 + filled++] = total;
        if (filled > ms && ms < SLOTS)
            log[1 + ms] = total;
        usleep(100);
    }
}
