/* test_tkey.c - the per-thread blocks the macOS hooks use instead of
 * __thread (shim/sys/macos/tls.c), run here over glibc's pthread keys,
 * which behave as the POSIX keys tls.c relies on: each thread's block is
 * its own and zeroed; the first access creates the key and the creating
 * thread keeps the early block; a block outlives the thread's first
 * destructor round, so that a later key's destructor still reads the
 * thread's values; an ended thread's block is handed out again, zeroed;
 * a forked child can hand out blocks although the pool's lock was held
 * at the fork. */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "sys/macos/tls.c"

struct small { int a; int64_t b; };
struct big { char bytes[200]; };
PP_THREAD_BLOCK(struct small, small)
PP_THREAD_BLOCK(struct big, big)

static int zeroed(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return 0;
    return 1;
}

enum { THREADS = 8 };
static struct small *seen[THREADS];
static int seen_zero[THREADS];
static pthread_key_t later_key;
static pthread_barrier_t all_in;        /* every thread holds its block at once */
static struct small *in_dtor_block[THREADS];
static int in_dtor_value[THREADS];

/* a key created after the block's: its destructor runs after the block's
 * own in the same round */
static void later_dtor(void *arg)
{
    int i = (int)(intptr_t)arg - 1;
    in_dtor_block[i] = small_at();
    in_dtor_value[i] = small_at()->a;
}

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    struct small *s = small_at();
    seen[i] = s;
    seen_zero[i] = zeroed(s, sizeof *s) && zeroed(big_at(), sizeof(struct big));
    s->a = 1000 + i;
    s->b = -1;
    memset(big_at()->bytes, 0x5a, sizeof big_at()->bytes);
    pthread_setspecific(later_key, (void *)(intptr_t)(i + 1));
    pthread_barrier_wait(&all_in);
    return NULL;
}

static void *one_more(void *arg)
{
    struct small **out = arg;
    *out = small_at();
    seen_zero[0] = zeroed(*out, sizeof **out) && zeroed(big_at(), sizeof(struct big));
    return NULL;
}

int main(void)
{
    CHECK(atomic_load(&small_tkey.state) == 0, "no key before the first access");
    struct small *m = small_at();
    CHECK(atomic_load(&small_tkey.state) == 2 && m == small_tkey.early,
          "the first access creates the key; the creating thread keeps the early block");
    CHECK(zeroed(m, sizeof *m), "the main thread's block starts zeroed");
    m->a = 7;
    CHECK(small_at() == m && small_at()->a == 7, "the same block, with its values, on the next access");
    CHECK((void *)big_at() != (void *)m, "another block type: another block");

    pthread_key_create(&later_key, later_dtor);
    pthread_barrier_init(&all_in, NULL, THREADS);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    int distinct = 1, zero = 1, kept = 1;
    for (int i = 0; i < THREADS; i++) {
        zero &= seen_zero[i];
        distinct &= seen[i] != m;
        for (int j = 0; j < i; j++)
            distinct &= seen[i] != seen[j];
        kept &= in_dtor_block[i] == seen[i] && in_dtor_value[i] == 1000 + i;
    }
    CHECK(distinct, "each of %d threads alive at once has a block of its own", THREADS);
    CHECK(zero, "each thread's blocks start zeroed");
    CHECK(kept, "a later key's destructor still finds the thread's own block and values");
    CHECK(small_at() == m && m->a == 7, "the main thread's block is untouched by the others");

    struct small *again = NULL;
    pthread_t u;
    pthread_create(&u, NULL, one_more, &again);
    pthread_join(u, NULL);
    int reused = 0;
    for (int i = 0; i < THREADS; i++)
        reused |= again == seen[i];
    CHECK(reused, "an ended thread's block is handed out again");
    CHECK(seen_zero[0], "... zeroed (its last thread had written 1000+i and 0x5a)");

    /* the pool's lock held at the fork, as by another thread of the parent */
    pp_lock(&pool_lock);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(20);                      /* a hang ends the child: status != 0 */
        pp_tkey_after_fork_child();
        struct small *c = NULL;
        pthread_t w;
        pthread_create(&w, NULL, one_more, &c);
        pthread_join(w, NULL);
        _exit(c != NULL && seen_zero[0] ? 0 : 1);
    }
    pp_unlock(&pool_lock);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "a forked child hands out blocks although the lock was held at the fork (status %d)", status);
    CHECK_DONE();
}
