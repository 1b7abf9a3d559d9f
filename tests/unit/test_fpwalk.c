/* test_fpwalk.c - the frame-pointer walk the macOS CPU sampler makes over a
 * suspended thread's stack (shim/sys/macos/fpwalk.c), run here on Linux:
 * over made-up stacks in a buffer, through a reader that fails the test if
 * it is asked for a word outside the buffer, and over this program's own
 * stack (built with frame pointers), where the compiler's own
 * __builtin_return_address of each function is the truth. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "sys/macos/fpwalk.c"

#define WORDS 256
static uintptr_t stack[WORDS];              /* the made-up stack */
static int reads, strays, refuse_at = -1;   /* refuse_at: a record index unreadable */

static uintptr_t at(int i) { return (uintptr_t)&stack[i]; }

/* READ over the buffer: counts, notes a read outside it */
static int read_buf(void *ctx, uintptr_t addr, uintptr_t out[2])
{
    (void)ctx;
    reads++;
    if (addr < at(0) || addr + 2 * sizeof(uintptr_t) > at(WORDS)) {
        strays++;
        return -1;
    }
    if (refuse_at >= 0 && addr == at(refuse_at))
        return -1;
    memcpy(out, (const void *)addr, 2 * sizeof(uintptr_t));
    return 0;
}

/* a record at word I: the saved frame pointer, the return address */
static void record(int i, uintptr_t next, uintptr_t ret)
{
    stack[i] = next;
    stack[i + 1] = ret;
}

static const uintptr_t ALL = ~(uintptr_t)0;

static int walk(uintptr_t pc, uintptr_t fp, uintptr_t mask, uintptr_t *out, int max)
{
    reads = strays = 0;
    return pp_fp_walk(pc, fp, at(0), at(WORDS), mask, read_buf, NULL, out, max);
}

/* ---- this program's own stack ------------------------------------------------ */
static uintptr_t truth[4];
static uintptr_t live[16];
static int nlive;

static int read_live(void *ctx, uintptr_t addr, uintptr_t out[2])
{
    (void)ctx;
    memcpy(out, (const void *)addr, 2 * sizeof(uintptr_t));
    return 0;
}

__attribute__((noinline)) static void inner(void)
{
    truth[0] = (uintptr_t)__builtin_return_address(0);
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
    nlive = pp_fp_walk((uintptr_t)&inner, fp, fp, fp + (1u << 20), ALL, read_live, NULL, live, 16);
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void middle(void)
{
    truth[1] = (uintptr_t)__builtin_return_address(0);
    inner();
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) static void outer(void)
{
    truth[2] = (uintptr_t)__builtin_return_address(0);
    middle();
    __asm__ volatile("" ::: "memory");
}

int main(void)
{
    uintptr_t out[16];
    int n;

    /* four frames, the outermost with no caller (saved frame pointer 0) */
    record(10, at(20), 0x1111);
    record(20, at(40), 0x2222);
    record(40, at(100), 0x3333);
    record(100, 0, 0x4444);
    n = walk(0x9000, at(10), ALL, out, 16);
    CHECK(n == 5 && out[0] == 0x9001 && out[1] == 0x1111 && out[2] == 0x2222 &&
              out[3] == 0x3333 && out[4] == 0x4444,
          "four records: pc + 1, then each return address (%d entries)", n);
    CHECK(reads == 4 && strays == 0, "one read a record, none outside the stack (%d reads)", reads);

    n = walk(0x9000, at(10), ALL, out, 3);
    CHECK(n == 3 && out[2] == 0x2222, "at most MAX entries (%d)", n);
    CHECK(walk(0x9000, at(10), ALL, out, 0) == 0, "MAX 0: nothing");
    n = walk(0x9000, 0, ALL, out, 16);
    CHECK(n == 1 && out[0] == 0x9001 && reads == 0, "frame pointer 0: the pc alone, nothing read");

    /* a record that points at itself, or below: the walk ends */
    record(10, at(10), 0x1111);
    n = walk(0x9000, at(10), ALL, out, 16);
    CHECK(n == 2 && reads == 1, "a record pointing at itself ends the walk (%d)", n);
    record(10, at(20), 0x1111);
    record(20, at(12), 0x2222);
    n = walk(0x9000, at(10), ALL, out, 16);
    CHECK(n == 3 && reads == 2, "a record pointing below the one before ends the walk (%d)", n);

    /* pointing out of the stack: not read */
    record(20, at(WORDS) + 64, 0x2222);
    n = walk(0x9000, at(10), ALL, out, 16);
    CHECK(n == 3 && strays == 0, "a frame pointer above the stack is not followed (%d, %d strays)",
          n, strays);
    record(20, at(WORDS - 1), 0x2222);       /* one word left: no room for a record */
    n = walk(0x9000, at(10), ALL, out, 16);
    CHECK(n == 3 && strays == 0, "a record cut by the stack's end is not read (%d strays)", strays);
    n = pp_fp_walk(0x9000, at(10), at(11), at(WORDS), ALL, read_buf, NULL, out, 16);
    CHECK(n == 1, "a frame pointer below the stack's low bound is not followed");

    /* misaligned */
    record(20, at(40) + 3, 0x2222);
    n = walk(0x9000, at(10), ALL, out, 16);
    CHECK(n == 3 && reads == 2, "a misaligned frame pointer ends the walk (%d)", n);

    /* return address 0: the end, not recorded */
    record(20, at(40), 0x2222);
    record(40, at(100), 0);
    n = walk(0x9000, at(10), ALL, out, 16);
    CHECK(n == 3 && out[2] == 0x2222, "a return address of 0 ends the walk unrecorded (%d)", n);

    /* an unreadable record */
    record(40, at(100), 0x3333);
    refuse_at = 40;
    n = walk(0x9000, at(10), ALL, out, 16);
    refuse_at = -1;
    CHECK(n == 3, "an unreadable record ends the walk (%d)", n);

    /* pointer authentication: the mask takes the signature off */
    record(40, 0, (uintptr_t)0x002d000100001234ull);
    n = walk(0x9000, at(10), (uintptr_t)0x0000ffffffffffffull, out, 16);
    CHECK(n == 4 && out[3] == (uintptr_t)0x100001234ull, "the mask strips a signed return address (%#lx)",
          (unsigned long)out[3]);

    /* the real thing: three nested calls of this program */
    outer();
    int found = 0;
    for (int k = 0; k < 3; k++)
        found += nlive > k + 1 && live[k + 1] == truth[k];
    CHECK(nlive >= 4 && live[0] == (uintptr_t)&inner + 1 && found == 3,
          "this program's stack: inner, middle, outer's return addresses as the compiler gives them "
          "(%d frames, %d of 3 match)", nlive, found);
    CHECK_DONE();
}
