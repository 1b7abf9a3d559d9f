/* task_limit PIDS_MAX: a limit on tasks that lifts.  Writes 3 to the pids
 * cgroup file PIDS_MAX (this process must be alone in that cgroup: the
 * main thread, the sampler and one thread of its own fill it), runs a
 * thread that spins for 0.3 s, then writes 6 and runs another for 0.3 s.
 * Under the shim with CPU sampling, the sampler opens each new thread's
 * event in a task apart (a clone): refused while the limit is full, made
 * once it has room again. */
#include <pthread.h>
#include "util.h"

static void *spin(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    double end = now_ms() + 300;
    while (now_ms() < end)
        for (int i = 0; i < 100000; i++)
            x += (unsigned long)i;
    return NULL;
}

/* a thread, though the limit is full for a moment (the sampler's task
 * apart, which lives some microseconds, is one of the 3) */
static int start(pthread_t *t)
{
    for (int i = 0; i < 2000; i++) {
        if (pthread_create(t, NULL, spin, NULL) == 0)
            return 0;
        usleep(1000);
    }
    return -1;
}

static void set_max(const char *path, const char *v)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, v, strlen(v)) != (ssize_t)strlen(v))
        _exit(3);
    close(fd);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    pthread_t t;
    set_max(argv[1], "3");
    if (start(&t) != 0)
        return 4;
    pthread_join(t, NULL);
    set_max(argv[1], "6");
    usleep(1100000);                    /* past the shim's wait before trying again */
    if (start(&t) != 0)
        return 5;
    pthread_join(t, NULL);
    printf("threads 2\n");
    return 0;
}
