/*
 * demo.c - the bundled example for `make demo`: a small image pipeline
 * whose memory goes up and down in stages, the way the programs perfprobe
 * was made for do.
 *
 *   load     three 16 MiB frames from malloc
 *   blur     a 32 MiB scratch buffer from mmap, touched half-way, unmapped
 *   encode   an output buffer grown with realloc, then a leaked index
 *   cleanup  frames freed
 *
 * It marks each stage with perf_probe and each encoded chunk as a region,
 * through libprobe/perf_probe.h (without the shim those calls do nothing).
 * It prints one line on stdout; everything else comes from the shim.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "perf_probe.h"

#define MiB (1024 * 1024)

void *volatile leaked_index;     /* volatile: the compiler must keep the leak */

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

int main(void)
{
    unsigned char *frame[3];
    for (int i = 0; i < 3; i++) {                     /* load */
        frame[i] = malloc(16 * MiB);
        memset(frame[i], i + 1, 16 * MiB);
        pause_ms(60);
    }
    perf_probe("loaded");
    unsigned char *scratch = mmap(NULL, 32 * MiB, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (scratch == MAP_FAILED)
        return 1;
    unsigned long sum = 0;
    for (long i = 0; i < 16 * MiB; i++) {             /* blur, half of scratch */
        scratch[i] = (unsigned char)((frame[0][i] + frame[1][i] + frame[2][i]) / 3);
        sum += scratch[i];
    }
    pause_ms(80);
    perf_probe("blurred");
    munmap(scratch, 32 * MiB);
    unsigned char *out = NULL;
    size_t len = 0;
    for (int chunk = 0; chunk < 64; chunk++) {        /* encode */
        perf_region_begin("encode_chunk");
        out = realloc(out, len + 256 * 1024);
        memset(out + len, chunk, 256 * 1024);
        len += 256 * 1024;
        perf_region_end("encode_chunk");
    }
    leaked_index = malloc(100000);                    /* leaked on purpose */
    memset(leaked_index, 0, 100000);
    pause_ms(60);
    perf_probe("encoded");
    for (int i = 0; i < 3; i++)                       /* cleanup */
        free(frame[i]);
    free(out);
    pause_ms(40);
    perf_probe("cleaned_up");
    printf("demo: processed 3 frames, checksum %lu\n", sum);
    return 0;
}
