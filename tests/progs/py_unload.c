/*
 * py_unload.c - a program that opens libpython and closes it again, as a
 * host that looks whether an interpreter is there, or is done with a
 * plugin, does: the interpreter's code and data go while the program goes
 * on allocating (t0906).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* py_unload LIBPYTHON probe|run: probe: 300 times, the library opened and
 * closed (its code goes), then 64 blocks made and freed; run: 3 times, it
 * is opened, runs Python that holds 2 MB (compiled as file round0.py,
 * round1.py, round2.py: each run's frames are told apart, and from the
 * <string> of site's .pth files), is finalized and closed, then 64
 * blocks.  A third argument "ns": each open with dlmopen into a new
 * namespace.  py_unload LIBPYTHON once CODE: as run, once, with CODE */
void *kept[64];
int main(int argc, char **argv)
{
    int once = argc > 3 && strcmp(argv[2], "once") == 0;
    int run = once || (argc > 2 && strcmp(argv[2], "run") == 0);
    int rounds = once ? 1 : run ? 3 : 300, ran = 0;
    for (int i = 0; i < rounds; i++) {
        void *h = argc > 3 && !once ? dlmopen(LM_ID_NEWLM, argv[1], RTLD_NOW | RTLD_LOCAL)
                                    : dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            printf("open: %s\n", dlerror());
            return 1;
        }
        if (run) {
            char code[160];
            snprintf(code, sizeof code,
                     "exec(compile('kept = [bytearray(1000) for _ in range(2000)]', "
                     "'round%d.py', 'exec'))\n", i);
            ((void (*)(void))dlsym(h, "Py_Initialize"))();
            ran += ((int (*)(const char *))dlsym(h, "PyRun_SimpleString"))(once ? argv[3] : code) == 0;
            ((void (*)(void))dlsym(h, "Py_Finalize"))();
        }
        if (dlclose(h) != 0)
            printf("close: %s\n", dlerror());
        for (int k = 0; k < 64; k++)
            kept[k] = malloc(1000 + k * 100);
        for (int k = 0; k < 64; k++)
            free(kept[k]);
    }
    printf("rounds %d, ran %d\n", rounds, ran);
    return 0;
}
