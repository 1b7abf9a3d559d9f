/* spawner: copies its environment string by string at start (as a shell
 * keeps its own export list), then forks a child that runs itself again
 * through execveat with that copy ("spawner exec", 2 MiB), and starts
 * itself once more through posix_spawn with the same copy ("spawner
 * spawned", 3 MiB).  The copy holds the PERFPROBE_TREE entry of the
 * first process, not of the child that execs. */
#define _GNU_SOURCE
#include <spawn.h>
#include <sys/wait.h>
#include "util.h"

extern char **environ;

static void hold(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    test_sink = p;
}

int main(int argc, char **argv)
{
    if (argc == 2) {                        /* the exec'd or spawned image */
        hold(strcmp(argv[1], "exec") ? 3 << 20 : 2 << 20);
        return 0;
    }
    size_t n = 0;
    while (environ[n])
        n++;
    char **copy = calloc(n + 1, sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = strdup(environ[i]);

    pid_t c = fork();
    if (c == 0) {
        char *args[] = {argv[0], "exec", NULL};
        execveat(AT_FDCWD, "/proc/self/exe", args, copy, 0);
        _exit(5);
    }
    int st;
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 4;
    char *args[] = {argv[0], "spawned", NULL};
    pid_t s;
    if (posix_spawn(&s, "/proc/self/exe", NULL, NULL, args, copy) != 0)
        return 6;
    if (waitpid(s, &st, 0) != s || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 7;
    printf("child %d spawned %d\n", (int)c, (int)s);
    return 0;
}
