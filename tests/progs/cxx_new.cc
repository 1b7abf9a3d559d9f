// cxx_new OUT: 1000 blocks from operator new[] and 1000 objects from new,
// all live at once, then deleted.  Under jemalloc, operator new does not
// go through malloc, so this checks the shim sees it anyway.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

struct Big { char pad[40000]; };

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    auto usable = (size_t (*)(void *))dlsym(RTLD_DEFAULT, "malloc_usable_size");
    static char *arrays[1000];
    static Big *objs[1000];
    long long held = 0;
    for (int i = 0; i < 1000; i++) {
        arrays[i] = new char[20000 + i];
        memset(arrays[i], 1, 20000 + i);
        objs[i] = new Big;
        memset(objs[i]->pad, 1, sizeof objs[i]->pad);
        held += (long long)usable(arrays[i]) + (long long)usable(objs[i]);
    }
    for (int i = 0; i < 1000; i++) {
        delete[] arrays[i];
        delete objs[i];
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char line[64];
    int n = snprintf(line, sizeof line, "peak_usable %lld\n", held);
    if (write(fd, line, (size_t)n) != n)
        return 3;
    close(fd);
    return 0;
}
