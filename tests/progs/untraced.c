/* untraced MODE PROGRAM: starts PROGRAM the way MODE says and prints
 * "child PID" for a spawned one, so that a test can hold the timeline's
 * claims (which children run without the shim) against what ran:
 *   spawn        posix_spawn with the program's own environment
 *   spawnp       posix_spawnp (PROGRAM looked up in PATH) with it
 *   spawn-clean  posix_spawn with an environment of its own making
 *                (PATH only: no LD_PRELOAD)
 *   exec         execv: this image ends */
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    char *args[] = {argv[2], NULL};
    char *clean[] = {"PATH=/bin:/usr/bin", NULL};
    pid_t pid;
    int rc;
    if (!strcmp(argv[1], "exec")) {
        execv(argv[2], args);
        return 3;
    } else if (!strcmp(argv[1], "spawn")) {
        rc = posix_spawn(&pid, argv[2], NULL, NULL, args, environ);
    } else if (!strcmp(argv[1], "spawnp")) {
        rc = posix_spawnp(&pid, argv[2], NULL, NULL, args, environ);
    } else if (!strcmp(argv[1], "spawn-clean")) {
        rc = posix_spawn(&pid, argv[2], NULL, NULL, args, clean);
    } else {
        return 2;
    }
    if (rc != 0)
        return 4;
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return 5;
    printf("child %d\n", (int)pid);
    return 0;
}
