/* exit_vfork: a vfork child execs a file that does not exist and calls
 * exit(3) (not _exit: it runs the parent's exit handlers, in the parent's
 * memory); the parent prints the child's status, allocates 2 MiB and
 * returns 0 from main. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile keep;

int main(void)
{
    pid_t c = vfork();
    if (c == 0) {
        execl("/nonexistent/program", "x", (char *)NULL);
        exit(3);
    }
    int st;
    if (waitpid(c, &st, 0) != c)
        return 10;
    printf("child status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    char *p = malloc(2 << 20);
    memset(p, 1, 2 << 20);
    keep = p;
    return 0;
}
