/* cut_write FILE MIB: what the timeline's page layout rests on.  Writes 100
 * bytes to FILE (opened O_APPEND, as the shim's timeline is), then MIB MiB at
 * a time until killed.  Killed by SIGKILL inside a write, the kernel cuts the
 * write only between pages of the file, so FILE's size is then a multiple
 * of the page (4 KiB) and never ends inside one: 100 modulo 4096 when the
 * kill came between writes, 0 when inside one. */
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    size_t n = (size_t)atol(argv[2]) << 20;
    char *b = malloc(n);
    if (!b)
        return 3;
    memset(b, 'x', n);
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0 || write(fd, b, 100) != 100)
        return 4;
    for (;;)
        if (write(fd, b, n) < 0)
            return 5;
}
