/* util.h - helpers for the test programs: report what the program did on
 * purpose as "key value" lines, without stdio (so that the program's own
 * heap holds exactly what it allocated). */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int facts_fd = -1;

/* milliseconds on the monotonic clock */
__attribute__((unused)) static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Blocks stored here stay live: the compiler may not drop the malloc. */
void *volatile test_sink;

__attribute__((unused)) static void facts_open(const char *path)
{
    facts_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (facts_fd < 0)
        _exit(111);
}

/* PROG OUT N: the facts file OUT opened and N returned, when the command
 * line is that and N is within [MIN, MAX]; else the program ends with
 * status 2 */
__attribute__((unused)) static long facts_and_count(int argc, char **argv, long min, long max)
{
    if (argc != 3)
        exit(2);
    facts_open(argv[1]);
    long n = atol(argv[2]);
    if (n < min || n > max)
        exit(2);
    return n;
}

__attribute__((unused)) static void fact(const char *key, long long v)
{
    char line[128];
    int n = snprintf(line, sizeof line, "%s %lld\n", key, v);
    if (facts_fd >= 0 && write(facts_fd, line, (size_t)n) != n)
        _exit(112);
}

/* The kernel's own high-water mark of this process's RSS, in bytes. */
__attribute__((unused)) static long long vmhwm(void)
{
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    char *p = strstr(buf, "VmHWM:");
    return p ? strtoll(p + 6, NULL, 10) * 1024 : -1;
}

/* Field K (1-based) of a /proc stat file's TEXT into OUT, as text: 1 is
 * the pid, 2 "(comm)" with its parentheses, and fields 3 on are counted
 * after the last ')' (a comm may hold spaces and parentheses).  Empty when
 * TEXT has no such field. */
__attribute__((unused)) static void stat_field(const char *text, int k, char *out, size_t cap)
{
    const char *s = strchr(text, '('), *p = strrchr(text, ')');
    if (k == 1) {
        snprintf(out, cap, "%.*s", (int)strcspn(text, " "), text);
        return;
    }
    if (!s || !p || p < s) {
        snprintf(out, cap, "%s", "");
        return;
    }
    if (k == 2) {
        snprintf(out, cap, "%.*s", (int)(p - s + 1), s);
        return;
    }
    p = p[1] == ' ' ? p + 2 : NULL;
    for (int i = 3; i < k && p; i++) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    snprintf(out, cap, "%.*s", p ? (int)strcspn(p, " \n") : 0, p ? p : "");
}
#endif
