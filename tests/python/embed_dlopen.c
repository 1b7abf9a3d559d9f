/*
 * embed_dlopen.c LIBPYTHON [MS]: a C program that loads CPython at run time
 * with dlopen(RTLD_LOCAL), as plugin hosts do (t0900): the shim meets the
 * interpreter after it started, outside the global scope.  It waits MS
 * milliseconds after the load (default none: the interpreter starts at
 * once, before the sampler's next tick), starts the interpreter through the
 * handle and runs a snippet whose function makes a 9,000,000-byte
 * bytearray.  Prints the snippet's status.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3)
        return 2;
    long ms = argc == 3 ? atol(argv[2]) : 0;
    void *py = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!py) {
        fprintf(stderr, "%s\n", dlerror());
        return 3;
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    void (*init)(void) = (void (*)(void))dlsym(py, "Py_Initialize");
    int (*run)(const char *) = (int (*)(const char *))dlsym(py, "PyRun_SimpleString");
    int (*fini)(void) = (int (*)(void))dlsym(py, "Py_FinalizeEx");
    if (!init || !run || !fini)
        return 4;
    init();
    int rc = run("def fill():\n"
                 "    return bytearray(9_000_000)\n"
                 "held = fill()\n");
    if (fini() < 0)
        rc = 1;
    printf("%d\n", rc);
    return rc;
}
