// link: -lpthread
/* leaks - blocks live at exit of four kinds, for the leak check:
 * lost_site's last pointers overwritten (definitely lost), reach_site's
 * held by a global list (still reachable), chain_site's a list whose head
 * was dropped (the rest reachable only from lost blocks: lost), and
 * thread_site's held only by a variable on a sleeping thread's stack
 * (reachable).  argv[1]: the facts file. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct node { struct node *next; char pad[56]; };
struct node *global_list;
static _Atomic int started;

__attribute__((noinline)) static void lost_site(void)
{
    for (int i = 0; i < 100; i++) {
        char *volatile p = malloc(100);
        p[0] = 1;
        p = NULL;                       /* the only pointer, overwritten */
    }
}

__attribute__((noinline)) static void reach_site(void)
{
    for (int i = 0; i < 200; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = global_list;
        global_list = n;
    }
}

__attribute__((noinline)) static void chain_site(void)
{
    struct node *volatile head = NULL;
    for (int i = 0; i < 50; i++) {
        struct node *n = malloc(sizeof *n);
        n->next = head;
        head = n;
    }
    head = NULL;
}

/* zeros over the stack below: no stale copy of a lost pointer survives
 * there (a conservative scan would take it for a reference) */
__attribute__((noinline)) static void scrub(void)
{
    char junk[256 * 1024];
    memset(junk, 0, sizeof junk);
    /* the zeros must be written: without this the compiler drops the
     * memset of an array nobody reads */
    __asm__ volatile("" : : "r"(junk) : "memory");
}

/* F called 4 KiB below this frame, where scrub's zeros reach */
__attribute__((noinline)) static void deep(void (*f)(void))
{
    char pad[4096];
    __asm__ volatile("" : : "r"(pad) : "memory");
    f();
    __asm__ volatile("" : : "r"(pad) : "memory");
}

__attribute__((noinline)) static void *thread_site(void)
{
    return malloc(3000);
}

static void *worker(void *arg)
{
    (void)arg;
    void *volatile mine = thread_site();
    started = 1;
    for (;;)
        pause();
    return mine;
}

int main(int argc, char **argv)
{
    (void)argc;
    deep(lost_site);
    reach_site();
    deep(chain_site);
    scrub();
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    while (!started)
        usleep(1000);
    FILE *f = fopen(argv[1], "w");
    fprintf(f, "lost_blocks 100\nreach_blocks 200\nchain_blocks 50\nthread_blocks 1\n");
    fclose(f);
    return 0;
}
