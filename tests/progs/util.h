/* util.h - helpers for the test programs: report what the program did on
 * purpose as "key value" lines, without stdio (so that the program's own
 * heap holds exactly what it allocated). */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int facts_fd = -1;

/* Blocks stored here stay live: the compiler may not drop the malloc. */
void *volatile test_sink;

__attribute__((unused)) static void facts_open(const char *path)
{
    facts_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (facts_fd < 0)
        _exit(111);
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
#endif
