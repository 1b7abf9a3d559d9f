/* scan_task [THREADS]: lists this process's own /proc/self/task through
 * glibc's scandir, scandir64, scandirat and scandirat64 (which read the
 * directory through glibc's internal readdir), with THREADS threads of its
 * own waiting, and prints how many entries each gave, and how many the
 * caller's own filter saw: the process's threads, as bare. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include "util.h"

static int seen;
static int keep_numbers(const struct dirent *e)
{
    seen++;
    return e->d_name[0] >= '0' && e->d_name[0] <= '9';
}
static int keep_numbers64(const struct dirent64 *e)
{
    seen++;
    return e->d_name[0] >= '0' && e->d_name[0] <= '9';
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *wait_lock(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    return NULL;
}

static void freelist(void **l, int n)
{
    for (int i = 0; i < n; i++)
        free(l[i]);
    free(l);
}

int main(int argc, char **argv)
{
    int k = argc > 1 ? atoi(argv[1]) : 0;
    pthread_t t[16];
    pthread_mutex_lock(&m);
    for (int i = 0; i < k && i < 16; i++)
        pthread_create(&t[i], NULL, wait_lock, NULL);
    usleep(50000);
    struct dirent **l;
    struct dirent64 **l64;
    int n = scandir("/proc/self/task", &l, keep_numbers, alphasort);
    printf("scandir %d seen %d\n", n, seen - 2);    /* . and .. seen too */
    freelist((void **)l, n);
    seen = 0;
    n = scandir64("/proc/self/task", &l64, keep_numbers64, alphasort64);
    printf("scandir64 %d seen %d\n", n, seen - 2);
    freelist((void **)l64, n);
    int proc = open("/proc", O_RDONLY | O_DIRECTORY);
    n = scandirat(proc, "self/task", &l, NULL, NULL);
    printf("scandirat %d\n", n - 2);
    freelist((void **)l, n);
    n = scandirat64(proc, "self/task", &l64, NULL, NULL);
    printf("scandirat64 %d\n", n - 2);
    freelist((void **)l64, n);
    n = scandir("/proc/1/task", &l, keep_numbers, NULL);
    printf("other %d\n", n > 0);
    if (n > 0)
        freelist((void **)l, n);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < k && i < 16; i++)
        pthread_join(t[i], NULL);
    return 0;
}
