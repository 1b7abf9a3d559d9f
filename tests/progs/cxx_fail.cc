// cxx_fail OUT MODE N: MODE "fail": operator new is asked for 1 PiB N times
// and each std::bad_alloc is caught; then once more with a new_handler that
// frees a 10 MB reserve, keeps a 5 MB block of its own and removes itself,
// so that the next try throws.  MODE "base": none of it.  Writes what the
// program itself allocated and freed on purpose (an exception object from
// malloc for each throw), and the usable size of the block it still holds;
// the difference between the two modes' figures is what "fail" did.
// MODE "signal": N new/delete pairs while a timer signal's handler asks
// malloc for SIZE_MAX bytes every 50 us (it fails at once): the handler's
// failure is not the operator's.
#include "util.h"
#include <csignal>
#include <cstdint>
#include <malloc.h>
#include <new>
#include <sys/time.h>

static volatile long ticks;
static volatile size_t too_much = SIZE_MAX;

static void on_tick(int)
{
    void *p = malloc(too_much);
    if (!p)
        ticks++;
    else
        free(p);
}

static void *reserve, *kept;

static void handler()
{
    free(reserve);
    reserve = nullptr;
    kept = malloc(5000000);
    std::set_new_handler(nullptr);
}

static int ask()
{
    try {
        void *v = ::operator new((size_t)1 << 50);
        ::operator delete(v);
        return 0;
    } catch (const std::bad_alloc &) {
        return 1;
    }
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    long n = atol(argv[3]), caught = 0;
    int fail = strcmp(argv[2], "fail") == 0;
    if (strcmp(argv[2], "signal") == 0) {
        signal(SIGALRM, on_tick);
        struct itimerval it = {{0, 50}, {0, 50}};
        setitimer(ITIMER_REAL, &it, nullptr);
        for (long i = 0; i < n; i++) {
            char *volatile keep = new char[64];
            delete[] keep;
        }
        it = {};
        setitimer(ITIMER_REAL, &it, nullptr);
        fact("allocs", n);
        fact("frees", n);
        fact("ticks_seen", ticks > 0);
        return 0;
    }
    if (fail) {
        for (long i = 0; i < n; i++)
            caught += ask();
        reserve = malloc(10000000);
        std::set_new_handler(handler);
        caught += ask();
    }
    long long throws = fail ? n + 1 : 0;
    fact("caught", caught);
    fact("allocs", throws + (fail ? 2 : 0));        /* exceptions, reserve, kept */
    fact("frees", throws + (fail ? 1 : 0));         /* exceptions, reserve */
    fact("kept_usable", kept ? (long long)malloc_usable_size(kept) : 0);
    return 0;
}
