// cxx_known OUT N: N objects from new and N arrays from new[], all live at
// once, then freed by delete and delete[]; prints "done".  Writes its call
// counts, for a check that each pair is counted once and stays within one
// allocator (tcmalloc's debug build aborts on a block freed by another's).
#include "util.h"

struct Obj { char pad[48]; };

int main(int argc, char **argv)
{
    long n = facts_and_count(argc, argv, 0, 10000);
    static Obj *objs[10000];
    static char *arrays[10000];
    for (long i = 0; i < n; i++) {
        objs[i] = new Obj;
        arrays[i] = new char[100 + i];
        memset(objs[i]->pad, 1, sizeof objs[i]->pad);
        memset(arrays[i], 1, 100 + (size_t)i);
    }
    for (long i = 0; i < n; i++) {
        delete objs[i];
        delete[] arrays[i];
    }
    fact("allocs", 2 * n);
    fact("frees", 2 * n);
    puts("done");
    return 0;
}
