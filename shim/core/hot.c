/*
 * hot.c - the hooks' per-thread block itself (hot.h: pp_hot): one
 * initial-exec TLS block on Linux, a block found through a thread key on
 * macOS.
 *
 * The hooks write it and every core file that must know whether it runs
 * inside a hook reads it, so it is defined here, in the core, and not by
 * the hooks: nothing in the core refers up to a file of shim/hooks/.
 */
#include "core/hot.h"

#if defined(__APPLE__)
struct pp_tkey pp_hot_tkey = PP_TKEY_INIT(pp_hot_t);
#else
__thread struct pp_hot pp_hot PP_TLS;
#endif
