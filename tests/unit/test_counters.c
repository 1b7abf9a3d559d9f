/* test_counters.c - heap bytes and their peak (shim/counters.c): exact
 * with one thread at any batch size, within (threads - 1) x batch with
 * several. */
#include <pthread.h>

#include "check.h"
#include "core/core.h"


static struct pp_heap h;

static void *worker(void *arg)
{
    (void)arg;
    for (int r = 0; r < 200; r++) {
        for (int i = 0; i < 100; i++)
            pp_count_alloc(1000);
        for (int i = 0; i < 100; i++)
            pp_count_free(1000);
    }
    return NULL;
}

int main(void)
{
    pp_options_load(1);
    pp_counters_init();
    uint64_t batches[] = {0, 4096, 65536, 1 << 20};
    int64_t base_peak = 0;
    for (size_t k = 0; k < 4; k++) {
        pp_opt.batch_bytes = batches[k];
        pp_counters_read(&h, PP_WIN_SAMPLE, 1);
        int64_t start = h.bytes;
        /* climb to start + 3 MB in 3000 steps, drop back, climb to +1 MB */
        for (int i = 0; i < 3000; i++)
            pp_count_alloc(1000);
        for (int i = 0; i < 3000; i++)
            pp_count_free(1000);
        for (int i = 0; i < 1000; i++)
            pp_count_alloc(1000);
        pp_counters_read(&h, PP_WIN_SAMPLE, 1);
        CHECK(h.bytes == start + 1000000, "batch %lu: current bytes exact (%ld)",
              (unsigned long)batches[k], (long)(h.bytes - start));
        CHECK(h.window_peak == start + 3000000, "batch %lu: peak exact with one thread (%ld)",
              (unsigned long)batches[k], (long)(h.window_peak - start));
        for (int i = 0; i < 1000; i++)
            pp_count_free(1000);
        base_peak = h.peak;
    }
    CHECK(base_peak >= 3000000, "the all-time peak is kept");
    pp_counters_read(&h, PP_WIN_SAMPLE, 0);
    CHECK(h.allocs == 4 * 4000 && h.frees == 4 * 4000, "call counts: %lu allocs, %lu frees",
          (unsigned long)h.allocs, (unsigned long)h.frees);

    pp_opt.batch_bytes = 65536;
    pp_counters_read(&h, PP_WIN_SAMPLE, 1);
    int64_t before = h.bytes;
    uint64_t allocs_before = h.allocs;
    pthread_t t[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    pp_counters_read(&h, PP_WIN_SAMPLE, 1);
    CHECK(h.bytes == before, "8 threads: back to where they started (%ld)", (long)(h.bytes - before));
    CHECK(h.allocs - allocs_before == 8 * 200 * 100, "8 threads: allocs exact");
    /* the true peak is at least one thread's 100 KB and at most 8 x 100 KB;
     * the reported one may miss a local maximum by less than a step */
    CHECK(h.window_peak - before >= 100000 - 4096 && h.window_peak - before <= 800000 + 4096,
          "8 threads: peak within the bound (%ld)", (long)(h.window_peak - before));
    CHECK_DONE();
}
