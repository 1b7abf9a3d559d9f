/* sites_known OUT LIB PLUGIN [BIG]: allocation sites with known totals, for the
 * allocation-site tests.  Each site is a function of its own; the program
 * writes, for each, the usable bytes and blocks it allocated and the line
 * of its malloc call:
 *   big     32 (or BIG, at most 64) blocks of 1 MiB, live at the probe "loaded", freed before exit
 *   many    2,000,000 blocks of 120 bytes, each freed at once
 *   leak    1000 blocks of 1000 bytes, never freed
 *   lib     lib_alloc() in LIB (dlopen'd, kept): 50 x 4000 bytes, never freed
 *   plugin  plugin_alloc() in PLUGIN, dlclose'd before exit: 20 x 8000, never freed
 *   thread  5000 blocks of 200 bytes on a second thread, freed
 *   vla     3000 blocks of 300 bytes from a frame of run-time size (its
 *           call-frame rule is %rbp-based: the walk must step through it), freed */
// link: -ldl -pthread
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include "perf_probe.h"
#include "util.h"

static void *big[64];
static int n_big = 32;
static long long big_bytes, many_bytes, leak_bytes, thread_bytes, vla_bytes;
static int big_line, many_line, leak_line, thread_line, vla_line;

__attribute__((noinline, noclone)) static void big_site(void)
{
    for (int i = 0; i < n_big; i++) {
        big[i] = malloc(1 << 20); big_line = __LINE__;
        memset(big[i], 1, 4096);
        big_bytes += (long long)malloc_usable_size(big[i]);
    }
}

__attribute__((noinline, noclone)) static void many_site(void)
{
    for (int i = 0; i < 2000000; i++) {
        char *p = malloc(120); many_line = __LINE__;
        test_sink = p;
        many_bytes += (long long)malloc_usable_size(p);
        free(p);
    }
}

__attribute__((noinline, noclone)) static void leak_site(void)
{
    for (int i = 0; i < 1000; i++) {
        char *p = malloc(1000); leak_line = __LINE__;
        test_sink = p;
        leak_bytes += (long long)malloc_usable_size(p);
    }
}

__attribute__((noinline, noclone)) static void *thread_site(void *arg)
{
    static void *held[5000];
    (void)arg;
    for (int i = 0; i < 5000; i++) {
        held[i] = malloc(200); thread_line = __LINE__;
        thread_bytes += (long long)malloc_usable_size(held[i]);
    }
    for (int i = 0; i < 5000; i++)
        free(held[i]);
    return NULL;
}

__attribute__((noinline, noclone)) static void vla_site(int n)
{
    volatile char pad[n];
    pad[0] = 1;
    for (int i = 0; i < 3000; i++) {
        char *p = malloc(300); vla_line = __LINE__;
        test_sink = p;
        vla_bytes += (long long)malloc_usable_size(p) + pad[0] - 1;
        free(p);
    }
}

static long long call_lib(const char *path, const char *fn, int close_it)
{
    void *h = dlopen(path, RTLD_NOW);
    if (!h)
        _exit(113);
    long long (*f)(void) = (long long (*)(void))dlsym(h, fn);
    long long bytes = f();
    if (close_it)
        dlclose(h);
    return bytes;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5)
        return 2;
    if (argc == 5)
        n_big = atoi(argv[4]) < 64 ? atoi(argv[4]) : 64;
    facts_open(argv[1]);
    perf_probe("start");
    big_site();
    perf_probe("loaded");
    many_site();
    leak_site();
    long long lib = call_lib(argv[2], "lib_alloc", 0);
    long long plugin = call_lib(argv[3], "plugin_alloc", 1);
    pthread_t t;
    pthread_create(&t, NULL, thread_site, NULL);
    pthread_join(t, NULL);
    vla_site(argc * 100);
    for (int i = 0; i < n_big; i++)
        free(big[i]);
    perf_probe("end");
    fact("big_bytes", big_bytes);
    fact("big_count", n_big);
    fact("big_line", big_line);
    fact("many_bytes", many_bytes);
    fact("many_count", 2000000);
    fact("many_line", many_line);
    fact("leak_bytes", leak_bytes);
    fact("leak_count", 1000);
    fact("leak_line", leak_line);
    fact("lib_bytes", lib);
    fact("lib_count", 50);
    fact("plugin_bytes", plugin);
    fact("plugin_count", 20);
    fact("thread_bytes", thread_bytes);
    fact("thread_count", 5000);
    fact("thread_line", thread_line);
    fact("vla_bytes", vla_bytes);
    fact("vla_count", 3000);
    fact("vla_line", vla_line);
    return 0;
}
