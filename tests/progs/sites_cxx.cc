// sites_cxx: 100 blocks of 10000 bytes from operator new[] in make_widgets
// (kept live), then 50 objects of 4096 bytes from operator new in
// make_gadgets (each deleted at once).
#include <cstdio>
#include <cstring>
#include <vector>

struct Gadget { char pad[4096]; };

static std::vector<char *> keep;
static Gadget *volatile sink;    // the compiler may not drop the new/delete pair

__attribute__((noinline)) void make_widgets()
{
    for (int i = 0; i < 100; i++) {
        char *w = new char[10000];
        std::memset(w, 1, 10000);
        keep.push_back(w);
    }
}

__attribute__((noinline)) void make_gadgets()
{
    for (int i = 0; i < 50; i++) {
        sink = new Gadget;
        std::memset(sink->pad, 2, sizeof sink->pad);
        delete sink;
    }
}

int main()
{
    keep.reserve(100);
    make_widgets();
    make_gadgets();
    std::printf("ok\n");
    return 0;
}
