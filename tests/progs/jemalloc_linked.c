/* jemalloc_stats, linked against jemalloc instead of preloading it. */
// link: -ljemalloc
#include "jemalloc_stats.c"
