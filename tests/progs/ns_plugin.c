/* ns_plugin MODE ...: a program that opens libraries into link namespaces
 * of their own (dlmopen LM_ID_NEWLM), as plugin hosts and sandboxes do.
 *
 *   hold LIB FACTS      LIB (ns_lib.c.in) holds 1000 blocks of 4000 bytes,
 *                       1000 strdup'd strings of as many and 4 MiB mapped,
 *                       for 300 ms; then lets them go and is closed.  FACTS
 *                       gets what it held, in its allocator's usable sizes.
 *   base LIB FACTS      the same with LIB in the base namespace
 *   cycle LIB N         N times: open LIB into a new namespace, use it, close
 *   fail LIB N          N opens of a missing library into new namespaces
 *                       (each prints dlerror), then LIB: opened?
 *   many LIB            opens LIB into new namespaces until the loader
 *                       refuses (at most 20): how many, and why not more
 *   chdir LIB FACTS     hold, after a chdir to /
 *   deep LIB            LIB into a new namespace with RTLD_DEEPBIND
 *   threads LIB N       two threads, each cycling LIB N times at once
 *   small LIB N         a thread with a 16 KiB stack opens LIB into a new
 *                       namespace and closes it, N times
 *   nested LIB LIB2 HOW FACTS
 *                       LIB, in a new namespace, opens LIB2 as HOW says
 *                       (plain, deep: with RTLD_DEEPBIND, dlmopen: into yet
 *                       another namespace), which holds 200 blocks
 *   rand LIB            LIB's ns_rand(), which calls rand(): LIB's own
 *   dtor LIB DLIB       a failed open into a new namespace, then DLIB (whose
 *                       destructor opens and closes another library) opened
 *                       with dlopen and closed; then "many" with LIB
 *   keep LIB FACTS      LIB holds 100 blocks and 100 strings of 1000 bytes
 *                       in its globals, and the program exits with them held
 *   second LIB LIB2     LIB into a new namespace, then LIB2 into the same
 *                       one; LIB closed; then LIB2 holds 100 blocks and
 *                       lets them go (its calls find LIB's allocator, if
 *                       it has one, which stays as long as LIB2 uses it)
 *   exit LIB N          3 MB held by the program; LIB, in a new namespace,
 *                       calls exit(N) there (_exit(N) with mode _exit)
 *   fork LIB HOW        LIB, in a new namespace, forks there; the child
 *                       holds 2 MiB and ends by exit (HOW 0) or _exit
 *                       (HOW 1); the parent prints its status
 *   exec LIB PROG ARG...
 *                       3 MB held; LIB execs PROG (execvp) from there; if
 *                       that fails, the errno it got and the program's own
 *
 * hold also writes what an allocator of the library's own (ns_alloc.c.in)
 * says it did, when the library's scope has one.
 *
 * Output is what a user would compare with a bare run. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include "util.h"
// link: -ldl -pthread

typedef void (*hold_fn)(int, size_t, size_t, size_t *, int *);
typedef void (*drop_fn)(void);

static void *open_ns(Lmid_t where, const char *lib)
{
    void *h = dlmopen(where, lib, RTLD_NOW);
    if (!h)
        printf("dlmopen: %s\n", dlerror());
    return h;
}

static int hold(Lmid_t where, const char *lib, const char *facts)
{
    void *h = open_ns(where, lib);
    if (!h)
        return 3;
    hold_fn hold_ = (hold_fn)dlsym(h, "ns_hold");
    drop_fn drop_ = (drop_fn)dlsym(h, "ns_drop");
    if (!hold_ || !drop_)
        return 4;
    Lmid_t ns = -1;
    dlinfo(h, RTLD_DI_LMID, &ns);
    size_t usable = 0;
    int calls = 0;
    hold_(1000, 4000, 4 << 20, &usable, &calls);
    facts_open(facts);
    fact("ns_usable", (long long)usable);
    fact("ns_calls", calls);
    /* a library with an allocator of its own (ns_alloc.c.in): what it did */
    void (*stats)(long *, long *, long *, long *) =
        (void (*)(long *, long *, long *, long *))dlsym(h, "nsa_stats");
    if (stats) {
        long c, l, pk, f;
        stats(&c, &l, &pk, &f);
        fact("nsa_calls", c);
        fact("nsa_peak", pk);
        fact("nsa_foreign", f);
    }
    usleep(300000);
    drop_();
    dlclose(h);
    printf("namespace %s, held and dropped\n", ns == LM_ID_BASE ? "base" : "new");
    return 0;
}

/* N times: LIB into a new namespace, 10 blocks held and let go, closed;
 * the number of the cycle that failed, or -1 */
static int cycle(const char *lib, int n)
{
    for (int i = 0; i < n; i++) {
        void *h = open_ns(LM_ID_NEWLM, lib);
        if (!h)
            return i;
        size_t usable;
        int calls;
        ((hold_fn)dlsym(h, "ns_hold"))(10, 1000, 0, &usable, &calls);
        ((drop_fn)dlsym(h, "ns_drop"))();
        if (dlclose(h)) {
            printf("dlclose: %s\n", dlerror());
            return i;
        }
    }
    return -1;
}

struct cycler {
    const char *lib;
    int n, failed;
};

static void *cycler(void *arg)
{
    struct cycler *c = arg;
    c->failed = cycle(c->lib, c->n);
    return NULL;
}

/* open and close C->lib C->n times; C->failed: the first that failed */
static void *open_close(void *arg)
{
    struct cycler *c = arg;
    c->failed = -1;
    for (int i = 0; i < c->n && c->failed < 0; i++) {
        void *h = open_ns(LM_ID_NEWLM, c->lib);
        if (!h || dlclose(h))
            c->failed = i;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    const char *mode = argv[1], *lib = argv[2];
    setvbuf(stdout, NULL, _IONBF, 0);
    if (!strcmp(mode, "hold") && argc > 3)
        return hold(LM_ID_NEWLM, lib, argv[3]);
    if (!strcmp(mode, "base") && argc > 3)
        return hold(LM_ID_BASE, lib, argv[3]);
    if (!strcmp(mode, "chdir") && argc > 3) {
        char facts[4096] = "";
        if (argv[3][0] != '/') {
            if (!getcwd(facts, sizeof facts - 64))
                return 5;
            strcat(facts, "/");
        }
        strncat(facts, argv[3], sizeof facts - strlen(facts) - 1);
        if (chdir("/"))
            return 5;
        return hold(LM_ID_NEWLM, lib, facts);
    }
    if (!strcmp(mode, "cycle") && argc > 3) {
        int n = atoi(argv[3]), failed = cycle(lib, n);
        if (failed >= 0) {
            printf("cycle %d failed\n", failed);
            return 1;
        }
        printf("cycled %d\n", n);
        return 0;
    }
    if (!strcmp(mode, "threads") && argc > 3) {
        struct cycler c[2] = {{lib, atoi(argv[3]), 0}, {lib, atoi(argv[3]), 0}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            if (pthread_create(&t[i], NULL, cycler, &c[i]))
                return 5;
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        for (int i = 0; i < 2; i++)
            printf("thread %d: %s\n", i, c[i].failed < 0 ? "cycled" : "failed");
        return c[0].failed >= 0 || c[1].failed >= 0;
    }
    if (!strcmp(mode, "small") && argc > 3) {
        struct cycler c = {lib, atoi(argv[3]), 0};
        pthread_attr_t a;
        pthread_t t;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 16384);
        if (pthread_create(&t, &a, open_close, &c))
            return 5;
        pthread_join(t, NULL);
        printf("%s on a 16 KiB stack\n", c.failed < 0 ? "cycled" : "failed");
        return c.failed >= 0;
    }
    if (!strcmp(mode, "nested") && argc > 5) {
        void *h = open_ns(LM_ID_NEWLM, lib);
        if (!h)
            return 3;
        size_t (*nested)(const char *, const char *) =
            (size_t (*)(const char *, const char *))dlsym(h, "ns_nested");
        size_t usable = nested ? nested(argv[3], argv[4]) : 0;
        facts_open(argv[5]);
        fact("ns_usable", (long long)usable);
        printf("nested %s %s\n", argv[4], usable ? "held" : "failed");
        return usable ? 0 : 1;
    }
    if (!strcmp(mode, "rand")) {
        void *h = open_ns(LM_ID_NEWLM, lib);
        int (*r)(void) = h ? (int (*)(void))dlsym(h, "ns_rand") : NULL;
        if (!r)
            return 3;
        printf("rand %d\n", r());
        return 0;
    }
    if (!strcmp(mode, "keep") && argc > 3) {
        void *h = open_ns(LM_ID_NEWLM, lib);
        if (!h)
            return 3;
        size_t usable;
        int calls;
        ((hold_fn)dlsym(h, "ns_hold"))(100, 1000, 0, &usable, &calls);
        facts_open(argv[3]);
        fact("ns_usable", (long long)usable);
        printf("kept\n");
        return 0;
    }
    if ((!strcmp(mode, "exit") || !strcmp(mode, "_exit") || !strcmp(mode, "exec")) && argc > 3) {
        char *big = malloc(3 << 20);
        memset(big, 1, 3 << 20);
        void *h = open_ns(LM_ID_NEWLM, lib);
        if (!h)
            return 3;
        printf("opened\n");
        fflush(stdout);
        if (strcmp(mode, "exec") != 0)
            ((void (*)(int, int))dlsym(h, "ns_exit"))(atoi(argv[3]), mode[0] == '_');
        errno = 0;
        int got = ((int (*)(char *const[]))dlsym(h, "ns_exec"))(argv + 3);
        printf("exec failed there: %s; the program's errno %d\n", strerror(got), errno);
        free(big);
        return 0;
    }
    if (!strcmp(mode, "fork") && argc > 3) {
        void *h = open_ns(LM_ID_NEWLM, lib);
        if (!h)
            return 3;
        printf("opened\n");
        fflush(stdout);
        int st = ((int (*)(int))dlsym(h, "ns_fork"))(atoi(argv[3]));
        printf("the child's status %d\n", st);
        return 0;
    }
    if (!strcmp(mode, "second") && argc > 3) {
        void *h = open_ns(LM_ID_NEWLM, lib);
        Lmid_t ns;
        if (!h || dlinfo(h, RTLD_DI_LMID, &ns) != 0)
            return 3;
        void *h2 = open_ns(ns, argv[3]);
        if (!h2)
            return 3;
        printf("closed the first: %d\n", dlclose(h));
        fflush(stdout);
        size_t usable;
        int calls;
        ((hold_fn)dlsym(h2, "ns_hold"))(100, 1000, 0, &usable, &calls);
        ((drop_fn)dlsym(h2, "ns_drop"))();
        printf("the second held %zu bytes in %d calls\n", usable, calls);
        return dlclose(h2);
    }
    if (!strcmp(mode, "deep")) {
        void *h = dlmopen(LM_ID_NEWLM, lib, RTLD_NOW | RTLD_DEEPBIND);
        printf("deep %s\n", h ? "opened" : "refused");
        if (!h)
            return 1;
        size_t usable;
        int calls;
        ((hold_fn)dlsym(h, "ns_hold"))(10, 1000, 0, &usable, &calls);
        ((drop_fn)dlsym(h, "ns_drop"))();
        dlclose(h);
        return 0;
    }
    if (!strcmp(mode, "fail") && argc > 3) {
        int n = atoi(argv[3]);
        for (int i = 0; i < n; i++)
            if (open_ns(LM_ID_NEWLM, "/nonexistent/libnone.so"))
                return 1;
        void *h = open_ns(LM_ID_NEWLM, lib);
        printf("then %s\n", h ? "opened" : "refused");
        return h ? 0 : 1;
    }
    if (!strcmp(mode, "dtor") && argc > 3) {
        if (open_ns(LM_ID_NEWLM, "/nonexistent/libnone.so"))
            return 1;
        void *d = dlopen(argv[3], RTLD_NOW);
        if (!d || dlclose(d))
            return 3;
        mode = "many";
    }
    if (!strcmp(mode, "many")) {
        void *h[20];
        int n = 0;
        while (n < 20 && (h[n] = dlmopen(LM_ID_NEWLM, lib, RTLD_NOW)))
            n++;
        printf("opened %d\n", n);
        if (n < 20)
            printf("then: %s\n", dlerror());
        while (n)
            dlclose(h[--n]);
        void *again = open_ns(LM_ID_NEWLM, lib);
        printf("after closing, %s\n", again ? "opened again" : "refused");
        return 0;
    }
    return 2;
}
