// link: -ldl
/* loader_race SECONDS: one thread that loads zlib, spends a few
 * milliseconds in its crc32, allocates, and unloads it again, over and
 * over for SECONDS; prints how many rounds.  Under CPU sampling the
 * sampler walks stacks in a library that is being unloaded, and the
 * program takes the loader's locks all the time (t0980). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef unsigned long (*crc_fn)(unsigned long, const unsigned char *, unsigned);

int main(int argc, char **argv)
{
    static unsigned char buf[65536];
    if (argc != 2)
        return 2;
    double end = now() + atof(argv[1]);
    long rounds = 0;
    volatile unsigned long sink = 0;
    while (now() < end) {
        void *h = dlopen("libz.so.1", RTLD_NOW);
        if (!h) {
            fprintf(stderr, "%s\n", dlerror());
            return 1;
        }
        crc_fn crc;
        *(void **)&crc = dlsym(h, "crc32");
        if (!crc)
            return 1;
        for (int i = 0; i < 20; i++)
            sink += crc(0, buf, sizeof buf);
        void *p = malloc(4096 + (size_t)(rounds % 64) * 4096);
        sink += (unsigned long)(p != NULL);
        free(p);
        dlclose(h);
        rounds++;
    }
    printf("rounds %ld\n", rounds);
    return 0;
}
