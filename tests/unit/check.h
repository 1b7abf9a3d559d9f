/* check.h - the smallest test harness that works: CHECK(cond, fmt, ...)
 * prints "ok - ..." or "FAIL - ..." and the program's exit status says
 * whether anything failed. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>

static int check_failed;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        int check_ok_ = (cond);                                             \
        printf(check_ok_ ? "ok - " : "FAIL - ");                            \
        printf(__VA_ARGS__);                                                \
        if (!check_ok_) {                                                   \
            printf(" [%s:%d: %s]", __FILE__, __LINE__, #cond);              \
            check_failed = 1;                                               \
        }                                                                   \
        printf("\n");                                                       \
    } while (0)

#define CHECK_DONE() return check_failed
#endif
