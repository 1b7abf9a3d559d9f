/* robust_small_stack: a coroutine (ucontext) on a small stack of its own
 * allocates, as green-thread libraries and interpreters' coroutines do:
 * 20,000 blocks of 16 bytes to 70 KiB (some past the mmap threshold), two
 * thirds freed, then calloc, realloc from NULL and across the threshold.
 * A guard page below the stack makes an overrun a SIGSEGV.  Each try runs
 * in a forked child.  Linked with immediate binding, so that what is
 * measured is the allocator and the hooks, not the loader's lazy binding
 * of the program's own calls (whose frame saves the vector registers and
 * needs more than either).  Modes:
 *   find       the smallest stack that works, to 16 bytes
 *   at N...    exit 0 when the body runs on stacks of N bytes each */
// link: -Wl,-z,now
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

static ucontext_t main_ctx, co_ctx;

static void body(void)
{
    for (int i = 0; i < 20000; i++) {
        char *p = malloc(16 + (size_t)(i * 37) % 70000);
        p[0] = 1;
        if (i % 3)
            free(p);
    }
    void *q = calloc(1000, 100);
    free(q);
    q = realloc(NULL, 100);
    q = realloc(q, 200000);
    free(q);
}

static int runs_on(size_t size)
{
    pid_t pid = fork();
    if (pid == 0) {
        char *m = mmap(NULL, size + 8192, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED || mprotect(m, 4096, PROT_NONE))
            _exit(3);
        getcontext(&co_ctx);
        co_ctx.uc_stack.ss_sp = m + 4096;
        co_ctx.uc_stack.ss_size = size;
        co_ctx.uc_link = &main_ctx;
        makecontext(&co_ctx, body, 0);
        swapcontext(&main_ctx, &co_ctx);
        _exit(0);
    }
    int st;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "find")) {
        size_t lo = 16, hi = 1 << 20;
        if (!runs_on(hi))
            return 2;
        while (hi - lo > 16) {
            size_t mid = (lo + hi) / 2 & ~(size_t)15;
            if (runs_on(mid))
                hi = mid;
            else
                lo = mid;
        }
        printf("%zu\n", hi);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "at")) {
        for (int i = 2; i < argc; i++)
            if (!runs_on((size_t)atol(argv[i])))
                return 1;
        return 0;
    }
    fprintf(stderr, "usage: robust_small_stack find | at N...\n");
    return 2;
}
