/* fork_heap OUT MIB K: MIB MiB live in 64 KiB blocks, written, then K
 * children forked one at a time, each calling exit(0).  Writes the heap's
 * pages and the minor page faults of all the children together, as the
 * kernel counts them (getrusage RUSAGE_CHILDREN): a child that reads its
 * parent's heap through the kernel copies every page it reads. */
#include <sys/resource.h>
#include <sys/wait.h>
#include "util.h"

void *blocks[1 << 16];              /* global: the blocks stay reachable */

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    facts_open(argv[1]);
    int n = atoi(argv[2]) * 16, k = atoi(argv[3]);
    if (n < 1 || n > (1 << 16) || k < 1)
        return 2;
    for (int i = 0; i < n; i++) {
        blocks[i] = malloc(65536);
        memset(blocks[i], 1, 65536);
    }
    for (int i = 0; i < k; i++) {
        pid_t p = fork();
        if (p == 0)
            exit(0);
        waitpid(p, NULL, 0);
    }
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    fact("heap_pages", (long long)n * 16);
    fact("children_minflt", ru.ru_minflt);
    return 0;
}
