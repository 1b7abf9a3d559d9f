/* mmap_ops OUT FILE: a fixed sequence of mmap, partial munmap, MAP_FIXED,
 * and mremap that grows, shrinks and moves, with the program's own running
 * account of the bytes it has mapped (anonymous and file) and their peak. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "util.h"

#define M (1024L * 1024)
static long long anon, file, peak;
static void note(void)
{
    if (anon + file > peak)
        peak = anon + file;
}
#define CHECK(p) do { if ((p) == MAP_FAILED) return 3; } while (0)

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    facts_open(argv[1]);
    char *a = mmap(NULL, 10 * M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(a); anon += 10 * M; note();
    if (munmap(a + 4 * M, 2 * M)) return 3;             /* a hole in the middle */
    anon -= 2 * M;
    CHECK(mmap(a + M, M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
    char *b = mmap(NULL, M, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(b); anon += M; note();
    b = mremap(b, M, 3 * M, MREMAP_MAYMOVE);             /* grow */
    CHECK(b); anon += 2 * M; note();
    b = mremap(b, 3 * M, M / 2, 0);                       /* shrink in place */
    CHECK(b); anon -= 3 * M - M / 2;
    char *r = mmap(NULL, 2 * M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(r); anon += 2 * M; note();
    /* move b onto the middle of r: b's bytes go, r's are replaced */
    CHECK(mremap(b, M / 2, M / 2, MREMAP_MAYMOVE | MREMAP_FIXED, r + M));
    anon -= M / 2;
    int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, M + 100)) return 3;
    char *f = mmap(NULL, M + 100, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(f); file += M + 4096; note();                   /* rounded to pages */
    if (munmap(f, 4096)) return 3;                        /* the first page */
    file -= 4096;
    /* the kernel may have put f in a's hole, so unmap a's two parts */
    if (munmap(a, 4 * M) || munmap(a + 6 * M, 4 * M)) return 3;
    anon -= 8 * M;
    close(fd);
    fact("anon", anon);
    fact("file", file);
    fact("peak", peak);
    return 0;
}
