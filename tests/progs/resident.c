/* resident - a 1 GiB block of which a known number of pages is touched
 * (big_site), and small blocks each fully touched (small_site), then a
 * normal exit with both still live.  argv[1]: the facts file (pages
 * touched, the small blocks' bytes); argv[2]: the pages to touch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIG (1ul << 30)
#define SMALL 1000
#define NSMALL 20000

char *big;          /* not static: the stores must stay */
char *smalls[NSMALL];

__attribute__((noinline)) static void big_site(long pages)
{
    big = malloc(BIG);
    if (!big)
        exit(1);
    for (long i = 0; i < pages; i++)
        ((volatile char *)big)[i * 4096 * 3] = 1;   /* every third page */
}

__attribute__((noinline)) static void small_site(void)
{
    for (int i = 0; i < NSMALL; i++) {
        smalls[i] = malloc(SMALL);
        memset(smalls[i], 2, SMALL);
    }
}

int main(int argc, char **argv)
{
    long pages = argc > 2 ? atol(argv[2]) : 5000;
    big_site(pages);
    small_site();
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "big_resident %ld\nsmall_bytes %d\n", pages * 4096, SMALL * NSMALL);
    fclose(f);
    return 0;
}
