/*
 * embed.c - a C program that embeds CPython (t0900): native frames of its
 * own around the interpreter's, and a thread of its own that allocates with
 * no Python frames at all.  Prints the line of the snippet that allocates.
 */
#include <Python.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static void *native_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        volatile char *p = malloc(3000000);   /* a thread with no Python frames */
        p[0] = 1;
        free((void *)p);
    }
    return NULL;
}

__attribute__((noinline)) static int run_snippet(void)
{
    const char *code = "def fill():\n"
                       "    return bytearray(7_000_000)\n"
                       "held = fill()\n";
    return PyRun_SimpleString(code);
}

int main(void)
{
    Py_Initialize();
    pthread_t t;
    pthread_create(&t, NULL, native_thread, NULL);
    int rc = run_snippet();
    pthread_join(t, NULL);
    if (Py_FinalizeEx() < 0)
        rc = 1;
    printf("%d\n", rc);
    return rc;
}
