/* cost_mixed OUT [ITER]: two threads allocate, touch and free blocks of
 * mixed sizes (a quarter of them 64-256 KiB, the rest 16 B-4 KiB), each
 * keeping 64 blocks live, with a fixed seed; then report the process's peak
 * RSS and page faults as the kernel counts them (getrusage).  Run bare and
 * under the shim, the same binary must behave the same: whether glibc puts
 * the large blocks on the heap or in their own mappings shows directly in
 * both figures. */
#include <pthread.h>
#include <sys/resource.h>
#include "util.h"

#define LIVE 64
static long iters = 20000;

static void *work(void *arg)
{
    unsigned long x = 0x9e3779b97f4a7c15ul * ((unsigned long)arg + 1);
    void *live[LIVE] = {0};
    for (long i = 0; i < iters; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;           /* xorshift64 */
        unsigned slot = (unsigned)(x % LIVE);
        size_t n = (x >> 8) % 4 == 0 ? 65536 + (x >> 16) % (196608 + 1)
                                      : 16 + (x >> 16) % 4081;
        free(live[slot]);
        live[slot] = malloc(n);
        if (!live[slot])
            _exit(3);
        memset(live[slot], (int)i, n);
    }
    for (int i = 0; i < LIVE; i++)
        free(live[i]);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    facts_open(argv[1]);
    if (argc > 2)
        iters = atol(argv[2]);
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, work, (void *)i) != 0)
            return 4;
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fact("maxrss_kib", ru.ru_maxrss);
    fact("minflt", ru.ru_minflt);
    return 0;
}
