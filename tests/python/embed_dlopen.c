/*
 * embed_dlopen.c LIBPYTHON: a C program that loads CPython at run time with
 * dlopen(RTLD_LOCAL), as plugin hosts do (t0900): the shim meets the
 * interpreter after it started, outside the global scope.  It waits 200 ms
 * after the load (the shim looks within a sampling interval), starts the
 * interpreter through the handle and runs a snippet whose function makes a
 * 9,000,000-byte bytearray.  Prints the snippet's status.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    void *py = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!py) {
        fprintf(stderr, "%s\n", dlerror());
        return 3;
    }
    struct timespec ts = {0, 200000000};
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
