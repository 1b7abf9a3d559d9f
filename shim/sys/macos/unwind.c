/*
 * unwind.c - an allocation's call stack on macOS: a frame-pointer walk.
 *
 * Apple's ABIs keep the frame pointer on arm64 and x86-64 (the compilers
 * do not omit it for Apple targets), so each frame's saved frame pointer
 * and return address sit side by side at the frame pointer: the walk
 * follows that chain, within the calling thread's stack, while it goes up
 * the stack and stays aligned.  No unwind tables are read and nothing is
 * allocated.  A function built without a frame pointer drops its caller
 * from the stack (its own frame is still seen through the return address
 * it left).
 *
 * Frames inside libperfprobe.dylib itself (the hook, this file) are cut
 * off the top: the caller of malloc is the first frame recorded.
 */
#include "sys/sys.h"

#include <dlfcn.h>
#include <mach-o/loader.h>
#include <pthread.h>
#include <string.h>

static uintptr_t self_lo, self_hi;     /* the shim's own text */

void pp_unwind_init(void)
{
    Dl_info info;
    if (!dladdr((const void *)&pp_unwind, &info) || !info.dli_fbase)
        return;
    const struct mach_header_64 *h = info.dli_fbase;
    const uint8_t *lc = (const uint8_t *)(h + 1);
    for (uint32_t k = 0; h->magic == MH_MAGIC_64 && k < h->ncmds; k++) {
        const struct segment_command_64 *seg = (const void *)lc;
        if (seg->cmd == LC_SEGMENT_64 && !strcmp(seg->segname, SEG_TEXT)) {
            uintptr_t slide = (uintptr_t)h - (uintptr_t)seg->vmaddr;
            self_lo = (uintptr_t)seg->vmaddr + slide;
            self_hi = self_lo + (uintptr_t)seg->vmsize;
            return;
        }
        lc += seg->cmdsize;
    }
}

uint64_t pp_unwind_by_libgcc(void)
{
    return 0;
}

__attribute__((noinline)) int pp_unwind(uintptr_t *out, int max)
{
    pthread_t self = pthread_self();
    uintptr_t hi = (uintptr_t)pthread_get_stackaddr_np(self);
    uintptr_t lo = hi - pthread_get_stacksize_np(self);
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    int n = 0;
    while (n < max && fp >= lo && fp + 2 * sizeof(uintptr_t) <= hi &&
           (fp & (sizeof(uintptr_t) - 1)) == 0) {
        const uintptr_t *f = (const uintptr_t *)fp;
        uintptr_t next = f[0], ret = f[1];
#if defined(__aarch64__)
        ret &= 0x0000ffffffffffffull;       /* strip a pointer-authentication code */
#endif
        if (!ret)
            break;
        if (n > 0 || ret < self_lo || ret >= self_hi)
            out[n++] = ret;
        if (next <= fp)
            break;
        fp = next;
    }
    return n;
}

/* No call-frame walker on macOS (Linux's cfi.c reads .eh_frame): every
 * stack is a frame-pointer walk, so core/cpu.c takes each sample's chain. */
int pp_cfi_ready(void)
{
    return -1;
}

int pp_cfi_walk_copy(uintptr_t *out, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                     const void *copy, size_t size, int *complete)
{
    (void)out, (void)max, (void)ip, (void)sp, (void)bp, (void)copy, (void)size;
    *complete = 0;
    return -1;
}
