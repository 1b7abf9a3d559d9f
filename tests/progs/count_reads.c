/* count_reads MS OUT [closeall] [list]: for MS milliseconds, opens, reads
 * and closes /proc/self/stat again and again, one thread all along, and
 * counts the reads whose field 20 (num_threads) is not 1; with "list", lists
 * /proc/self/task through readdir instead and counts the listings of more
 * than one entry.  With "closeall" it first closes every descriptor below
 * 4096 and reopens 0-2 on /dev/null (the shim's sampler then reads and
 * writes through a task apart at each tick, sys/linux/apart.c).  Writes
 * "reads N other K" to OUT. */

#include <dirent.h>
#include "util.h"

/* the entries of /proc/self/task, or -1 */
static int task_entries(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    double ms = atof(argv[1]);
    int list = argc > 3 && !strcmp(argv[argc - 1], "list");
    if (argc > 3 && !strcmp(argv[3], "closeall")) {
        for (int fd = 0; fd < 4096; fd++)
            close(fd);
        for (int i = 0; i < 3; i++)
            if (open("/dev/null", O_RDWR) != i)
                return 3;
    }
    long reads = 0, other = 0;
    double end = now_ms() + ms;
    while (now_ms() < end) {
        if (list) {
            int k = task_entries();
            if (k < 0)
                return 4;
            reads++;
            other += k != 1;
            continue;
        }
        char text[4096];
        int fd = open("/proc/self/stat", O_RDONLY);
        ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
        if (fd >= 0)
            close(fd);
        if (n <= 0)
            return 4;
        text[n] = 0;
        const char *p = strrchr(text, ')');
        for (int field = 2; p && *p && field < 20; p++)
            if (*p == ' ')
                field++;
        reads++;
        if (!p || atol(p) != 1)
            other++;
    }
    int out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0)
        return 5;
    dprintf(out, "reads %ld other %ld\n", reads, other);
    close(out);
    return 0;
}
