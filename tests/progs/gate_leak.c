/*
 * gate_leak.c FACTS [LEAK_BYTES] - prints one line with printf (glibc keeps
 * stdout's buffer until exit: what a leak gate must not blame on the
 * program) and leaks LEAK_BYTES of its own on purpose, in 100-byte blocks.
 */
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    long leak = argc > 2 ? atol(argv[2]) : 0;
    facts_open(argv[1]);
    printf("hello from the program\n");
    for (long i = 0; i < leak / 100; i++) {
        char *p = malloc(100);
        memset(p, 1, 100);
        test_sink = p;                 /* never freed */
    }
    fact("leaked", leak / 100 * 100);
    return 0;
}
