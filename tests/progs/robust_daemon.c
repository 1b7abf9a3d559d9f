/* robust_daemon FILE: does what a daemon does at start: closes every
 * descriptor, reopens 0-2 on /dev/null, then opens FILE (expecting the
 * lowest number, 3) and prints a line into it through stdio. */
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
    for (int i = 0; i < 3; i++)
        if (open("/dev/null", O_RDWR) != i)
            return 3;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd != 3)
        return 4;
    void *p = malloc(1 << 20);
    memset(p, 1, 1 << 20);
    test_sink = p;
    dprintf(fd, "fd %d\n", fd);
    printf("to /dev/null\n");
    return 0;
}
