/* test_mappings.c - the address-range table (shim/mappings.c), step by
 * step: every operation leaves exactly the bytes it should. */
#include "check.h"
#include "core/core.h"

#define K 4096ul
#define M (1024ul * 1024)
static struct pp_maps m;
static void rd(void) { pp_map_read(&m, 0, 0); }

int main(void)
{
    uintptr_t a = 0x10000000;
    pp_map_add(a, 10 * M, PP_MAP_ANON);
    rd();
    CHECK(m.anon == 10 * M && m.ranges == 1, "map 10 MiB: %lu", (unsigned long)m.anon);
    pp_map_remove(a + 4 * M, 2 * M);
    rd();
    CHECK(m.anon == 8 * M && m.ranges == 2, "hole in the middle: %lu in %lu ranges",
          (unsigned long)m.anon, (unsigned long)m.ranges);
    pp_map_add(a + M, M, PP_MAP_ANON);
    rd();
    CHECK(m.anon == 8 * M, "MAP_FIXED over part of a range replaces it: %lu", (unsigned long)m.anon);
    pp_map_add(a + 3 * M, 2 * M, PP_MAP_FILE);
    rd();
    CHECK(m.anon == 7 * M && m.file == 2 * M, "file mapping over anon and hole: anon %lu file %lu",
          (unsigned long)m.anon, (unsigned long)m.file);
    pp_map_remove(a, 1);
    rd();
    CHECK(m.anon == 7 * M - K, "a 1-byte munmap removes a page: %lu", (unsigned long)m.anon);
    pp_map_move(a + 8 * M, 2 * M, a + 8 * M, 3 * M, 0);
    rd();
    CHECK(m.anon == 8 * M - K, "mremap grows in place: %lu", (unsigned long)m.anon);
    pp_map_move(a + 8 * M, 3 * M, a + 20 * M, M, 0);
    rd();
    CHECK(m.anon == 6 * M - K, "mremap moves and shrinks: %lu", (unsigned long)m.anon);
    pp_map_move(a + 20 * M, M, a + 30 * M, M, 1);
    rd();
    CHECK(m.anon == 7 * M - K, "MREMAP_DONTUNMAP keeps the old range: %lu", (unsigned long)m.anon);
    pp_map_move(0x70000000, M, 0x71000000, 2 * M, 0);
    rd();
    CHECK(m.anon == 7 * M - K, "mremap of an untracked range is ignored: %lu", (unsigned long)m.anon);
    CHECK(m.peak == 10 * M, "peak is the largest total: %lu", (unsigned long)m.peak);
    pp_map_remove(0, ~(size_t)0 - 2 * M);
    rd();
    CHECK(m.anon == 0 && m.file == 0 && m.ranges == 0, "everything unmapped");

    /* many ranges: the table grows */
    for (uintptr_t i = 0; i < 5000; i++)
        pp_map_add(0x20000000 + i * 2 * K, K, i % 2 ? PP_MAP_FILE : PP_MAP_ANON);
    rd();
    CHECK(m.ranges == 5000 && m.anon == 2500 * K && m.file == 2500 * K, "5000 ranges: %lu",
          (unsigned long)m.ranges);
    pp_map_remove(0x20000000, 10000 * K);
    rd();
    CHECK(m.ranges == 0 && m.anon == 0, "removed in one call");
    pp_map_read(&m, 1, 0);
    rd();
    CHECK(m.window_peak == 0, "the window peak resets to the current total");
    CHECK_DONE();
}
