/* long_records FACTS ROUNDS [ARG...]: records longer than a page, on
 * purpose, for t0967.  Each round (ROUNDS 0: until killed):
 *   sites    60 blocks kept live, one from each depth 1..60 of a recursion
 *            (60 sites, 60 different stacks), the one of depth d of
 *            d x 1000 bytes
 *   deep     one block from depth 220 of another recursion (a stack of
 *            more than 220 frames)
 *   regions  40 regions, each entered and left 3 times
 *   probe    a probe whose label is 4000 characters of ASCII, two-byte
 *            UTF-8 and tabs (written to FACTS.label)
 * and the probe "round" after it.  FACTS gets "key value" lines: sites,
 * the usable size of each site's block (size_D), deep, regions.  The
 * arguments after ROUNDS only make the command line long. */
#include <malloc.h>
#include "perf_probe.h"
#include "util.h"

#define SITES 60
#define DEEP 220
#define REGIONS 40

static void *kept[SITES + 1];

__attribute__((noinline)) static void *site(int d, int depth)
{
    void *p = d < depth ? site(d + 1, depth) : malloc((size_t)depth * 1000);
    __asm__ volatile("" ::: "memory");  /* no tail call: a frame per level */
    return p;
}

__attribute__((noinline)) static void *deep(int d)
{
    void *p = d < DEEP ? deep(d + 1) : malloc(777);
    __asm__ volatile("" ::: "memory");
    return p;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    facts_open(argv[1]);
    long rounds = atol(argv[2]);
    static char label[8192], names[REGIONS][64];
    size_t n = 0;
    for (int i = 0; n < 4000; i++) {
        if (i % 7 == 3) {
            label[n++] = '\t';
        } else if (i % 5 == 1) {
            label[n++] = (char)0xc3;    /* e acute */
            label[n++] = (char)0xa9;
        } else {
            label[n++] = (char)('a' + i % 26);
        }
    }
    label[n] = 0;
    char lpath[4096];
    snprintf(lpath, sizeof lpath, "%s.label", argv[1]);
    int fd = open(lpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, label, n) != (ssize_t)n)
        return 3;
    close(fd);
    for (int r = 0; r < REGIONS; r++)
        snprintf(names[r], sizeof names[r], "region_%02d_of_the_long_summary_record", r);

    for (long round = 0; rounds == 0 || round < rounds; round++) {
        for (int d = 1; d <= SITES; d++) {
            free(kept[d]);
            kept[d] = site(1, d);
        }
        test_sink = deep(1);
        free(test_sink);
        test_sink = NULL;
        for (int k = 0; k < 3; k++)
            for (int r = 0; r < REGIONS; r++) {
                perf_region_begin(names[r]);
                test_sink = malloc(64);
                free(test_sink);
                perf_region_end(names[r]);
            }
        perf_probe(label);
        perf_probe("round");
    }
    fact("sites", SITES);
    for (int d = 1; d <= SITES; d++) {
        char key[32];
        snprintf(key, sizeof key, "size_%d", d);
        fact(key, (long long)malloc_usable_size(kept[d]));
    }
    fact("deep", DEEP);
    fact("regions", REGIONS);
    return 0;
}
