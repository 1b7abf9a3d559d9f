/*
 * fpwalk.c - a frame-pointer walk over memory read through a callback.
 *
 * The CPU sampler walks another thread's stack while that thread is
 * suspended (macos/perf.c): its frame pointer may point anywhere, so the
 * walk never loads from the stack itself, it asks READ for each frame
 * record (the kernel's copy, there).  Apple's ABIs keep a frame record on
 * arm64 and x86-64: the saved frame pointer, then the return address, at
 * the frame pointer.  The walk goes up the chain while each record lies in
 * the stack's bounds, is aligned and sits above the one before (so that it
 * ends, whatever the memory says).  Pure: no system call of its own, so
 * that tests/unit/test_fpwalk.c runs it on Linux.
 */
#include "sys/sys.h"

int pp_fp_walk(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t mask,
               pp_fp_read_fn read, void *ctx, uintptr_t *out, int max)
{
    const uintptr_t word = sizeof(uintptr_t);
    int n = 0;
    if (max <= 0)
        return 0;
    out[n++] = pc + 1;                     /* recorded as a return address would be */
    while (n < max && fp >= lo && fp < hi && hi - fp >= 2 * word && (fp & (word - 1)) == 0) {
        uintptr_t rec[2];
        if (read(ctx, fp, rec) != 0)
            break;
        uintptr_t next = rec[0], ret = rec[1] & mask;
        if (!ret)
            break;
        out[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}
