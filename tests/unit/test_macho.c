/* test_macho.c - the Mach-O reading of the macOS shim (shim/sys/macos/
 * macho.c: a symbol from an image's LC_SYMTAB, its writable segments), run
 * here on Linux over images laid out in memory as dyld lays them out.
 *
 * Without arguments: over an image this test writes itself, byte by byte
 * (header, segments with their sections, LC_SYMTAB, nlist entries, string
 * table), at a slide, where what it wrote is the truth.
 *
 * With FILE EXPECT (tests/t1030-macos-macho.sh): FILE, a dylib built for
 * macOS, is laid out in an anonymous mapping at its segments' addresses
 * plus a slide (each segment's file bytes at vmaddr - the first segment's
 * vmaddr), and each line of EXPECT is checked, addresses being the file's
 * (no slide), as llvm-nm and llvm-objdump print them:
 *     sym NAME ADDR        NAME (a C name) found at ADDR
 *     nosym NAME           not found
 *     size NAME MIN MAX    found, with MIN <= size < MAX
 *     seg START END        the next writable segment reported is [START, END)
 *     segs N               N writable segments reported in all */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sys/macos/macho.c"

static uintptr_t segs[64][2];
static int nsegs;

static void note_seg(uintptr_t s, uintptr_t e, void *arg)
{
    (void)arg;
    if (nsegs < 64) {
        segs[nsegs][0] = s;
        segs[nsegs][1] = e;
    }
    nsegs++;
}

/* ---- an image written here ------------------------------------------------------ */

static unsigned char img[0x6000] __attribute__((aligned(16)));

static void put(size_t at, const void *p, size_t n)
{
    memcpy(img + at, p, n);
}

static struct seg64 seg(const char *name, uint64_t vmaddr, uint64_t vmsize, uint64_t fileoff,
                        uint64_t filesize, int prot, uint32_t nsects, uint32_t flags)
{
    struct seg64 s;
    memset(&s, 0, sizeof s);
    s.cmd = LC_SEGMENT_64_;
    s.cmdsize = (uint32_t)(sizeof s + nsects * sizeof(struct sect64));
    memcpy(s.segname, name, strlen(name));      /* names here are under 16 bytes */
    s.vmaddr = vmaddr;
    s.vmsize = vmsize;
    s.fileoff = fileoff;
    s.filesize = filesize;
    s.maxprot = s.initprot = prot;
    s.nsects = nsects;
    s.flags = flags;
    return s;
}

static struct sect64 sect(const char *seg_name, const char *name, uint64_t addr, uint64_t size)
{
    struct sect64 x;
    memset(&x, 0, sizeof x);
    memcpy(x.segname, seg_name, strlen(seg_name));
    memcpy(x.sectname, name, strlen(name));
    x.addr = addr;
    x.size = size;
    return x;
}

/* The image, at vmaddr 0 in the "file" (as a dylib): __TEXT 0-0x2000
 * (__text 0x1000-0x1800: _alpha 0x1000, local _beta 0x1100, _gamma 0x1400
 * to the section's end; __cstring 0x1800-0x1900: _delta), __DATA_CONST
 * 0x2000-0x3000 rw, __DATA 0x3000-0x5000 rw (__data 0x3000-0x3100: _eps
 * 0x3000, _zeta 0x3040; __bss 0x4000-0x4800: _eta, a size to the end),
 * __AUTH 0x5000-0x5800 rw marked read-only after fixups (SG_READ_ONLY),
 * __LINKEDIT 0x5800-0x6000 r (the symbols at 0x5800, strings at 0x5c00,
 * function starts at 0x5d00: 0x1000, 0x1080 with no symbol, 0x1400).
 * In the file, __LINKEDIT starts at 0x3000: its vmaddr - fileoff is
 * 0x2800, which the reader must add.  Laid out in memory, __LINKEDIT is at
 * 0x5800 from the header. */
static void write_image(int bad_strsize)
{
    memset(img, 0, sizeof img);
    struct mh64 h = {MH_MAGIC_64_, 0x01000007, 3, 6, 0, 0, 0, 0};
    size_t at = sizeof h;
    struct seg64 s;
    struct sect64 x;
    s = seg("__TEXT", 0, 0x2000, 0, 0x2000, 5, 2, 0);
    put(at, &s, sizeof s), at += sizeof s;
    x = sect("__TEXT", "__text", 0x1000, 0x800);
    put(at, &x, sizeof x), at += sizeof x;
    x = sect("__TEXT", "__cstring", 0x1800, 0x100);
    put(at, &x, sizeof x), at += sizeof x;
    s = seg("__DATA_CONST", 0x2000, 0x1000, 0x2000, 0x1000, 3, 0, 0);
    put(at, &s, sizeof s), at += sizeof s;
    s = seg("__DATA", 0x3000, 0x2000, 0x2000, 0x1000, 3, 2, 0);
    put(at, &s, sizeof s), at += sizeof s;
    x = sect("__DATA", "__data", 0x3000, 0x100);
    put(at, &x, sizeof x), at += sizeof x;
    x = sect("__DATA", "__bss", 0x4000, 0x800);
    put(at, &x, sizeof x), at += sizeof x;
    s = seg("__AUTH", 0x5000, 0x800, 0x2800, 0x800, 3, 0, SG_READ_ONLY_);
    put(at, &s, sizeof s), at += sizeof s;
    s = seg("__LINKEDIT", 0x5800, 0x800, 0x3000, 0x800, 1, 0, 0);
    put(at, &s, sizeof s), at += sizeof s;
    static const char strs[] = "\0_alpha\0_beta\0_gamma\0_delta\0_eps\0_zeta\0_eta\0_alphabet\0_stab";
    struct symtab st = {LC_SYMTAB_, sizeof st, 0x3000, 9, 0x3400,
                        bad_strsize ? 0x900u : (uint32_t)sizeof strs};
    put(at, &st, sizeof st), at += sizeof st;
    /* functions start at 0x1000, 0x1080 (no symbol), 0x1400 */
    struct linkedit_data fs = {LC_FUNCTION_STARTS_, sizeof fs, 0x3500, 8};
    put(at, &fs, sizeof fs), at += sizeof fs;
    static const unsigned char starts[8] = {0x80, 0x20, 0x80, 0x01, 0x80, 0x07, 0, 0};
    put(0x5d00, starts, sizeof starts);
    h.ncmds = 7;
    h.sizeofcmds = (uint32_t)(at - sizeof h);
    put(0, &h, sizeof h);
    /* name offsets in strs: alpha 1, beta 8, gamma 14, delta 21, eps 28,
     * zeta 33, eta 39, alphabet 44, stab 54 */
    struct nlist64 sy[9] = {
        {1, N_SECT_ | N_EXT_, 1, 0, 0x1000},    /* _alpha */
        {8, N_SECT_, 1, 0, 0x1100},             /* _beta, local */
        {14, N_SECT_ | N_EXT_, 1, 0, 0x1400},   /* _gamma */
        {21, N_SECT_ | N_EXT_, 2, 0, 0x1880},   /* _delta */
        {28, N_SECT_ | N_EXT_, 3, 0, 0x3000},   /* _eps */
        {33, N_SECT_ | 0x10, 3, 0, 0x3040},     /* _zeta, was a private extern (N_PEXT) */
        {39, N_SECT_ | N_EXT_, 4, 0, 0x4100},   /* _eta */
        {44, 0x0, 0, 0, 0},                     /* _alphabet, undefined */
        {54, 0x24, 1, 0, 0x1200},               /* _stab: a debugging entry (N_FUN) */
    };
    put(0x5800, sy, sizeof sy);
    put(0x5c00, strs, sizeof strs);
}

static void own_image(void)
{
    uintptr_t slide = (uintptr_t)img, a = 0;
    size_t size = 0;
    write_image(0);
#define SYM(name, want, wsize)                                                              \
    do {                                                                                    \
        a = 0, size = 0;                                                                    \
        int rc = pp_macho_symbol(slide, slide, name, &a, &size);                            \
        CHECK(rc == 0 && a == slide + (want) && size == (wsize),                            \
              "%s at +%#lx (%#lx), size %zu (%zu)", name, (unsigned long)(a - slide),       \
              (unsigned long)(want), size, (size_t)(wsize));                                \
    } while (0)
    SYM("alpha", 0x1000, 0x80);    /* to the next function's start, before _beta */
    SYM("gamma", 0x1400, 0x400);   /* to the end of __text: _delta is another section's */
    SYM("delta", 0x1880, 0x80);
    SYM("eps", 0x3000, 0x40);
    SYM("eta", 0x4100, 0x700);
    CHECK(pp_macho_symbol(slide, slide, "alpha", &a, NULL) == 0 && a == slide + 0x1000,
          "no size asked: found");
    static const char *const absent[][2] = {
        {"beta", "a local symbol"}, {"zeta", "a hidden one"}, {"alphabet", "an undefined one"},
        {"stab", "a debugging entry"}, {"alph", "a prefix of a name"},
        {"alpha2", "a name longer than one"}, {"_alpha", "the Mach-O spelling"},
        {"", "the empty name"}, {"missing", "a name nowhere"}};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++)
        CHECK(pp_macho_symbol(slide, slide, absent[i][0], &a, &size) == -1,
              "\"%s\" not found: %s", absent[i][0], absent[i][1]);
    nsegs = 0;
    int n = pp_macho_each_writable(slide, slide, note_seg, NULL);
    CHECK(n == 1 && nsegs == 1 && segs[0][0] == slide + 0x3000 && segs[0][1] == slide + 0x5000,
          "writable: __DATA only, whole (__bss in it), not __DATA_CONST nor a read-only-after-"
          "fixups __AUTH (%d: +%#lx-+%#lx)", n, (unsigned long)(segs[0][0] - slide),
          (unsigned long)(segs[0][1] - slide));
    /* without the function starts, _alpha runs to the next symbol, _beta */
    write_image(0);
    ((struct linkedit_data *)(img + sizeof(struct mh64) + 5 * sizeof(struct seg64) +
                              4 * sizeof(struct sect64) + sizeof(struct symtab)))->cmd = 0x99;
    SYM("alpha", 0x1000, 0x100);
    /* a string table said to run past __LINKEDIT: refused */
    write_image(1);
    CHECK(pp_macho_symbol(slide, slide, "alpha", &a, &size) == -1,
          "a string table past __LINKEDIT's end: nothing read");
    write_image(0);
    img[0] ^= 1;
    CHECK(pp_macho_symbol(slide, slide, "alpha", &a, &size) == -1 &&
              pp_macho_each_writable(slide, slide, note_seg, NULL) == -1,
          "not a 64-bit Mach-O header: -1");
    write_image(0);
    ((struct mh64 *)img)->sizeofcmds = 40;   /* cuts the first segment's command */
    nsegs = 0;
    CHECK(pp_macho_symbol(slide, slide, "alpha", &a, &size) == -1 &&
              pp_macho_each_writable(slide, slide, note_seg, NULL) == 0 && nsegs == 0,
          "load commands cut short: none read past sizeofcmds");
    CHECK(pp_macho_symbol(0, 0, "alpha", &a, &size) == -1, "no header: -1");
}

/* ---- a file laid out as dyld lays it out ------------------------------------------ */

static int file_image(const char *path, const char *expect)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        CHECK(0, "open %s", path);
        return 1;
    }
    unsigned char *f = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    const struct mh64 *fh = (const void *)f;
    CHECK(f != MAP_FAILED && fh->magic == MH_MAGIC_64_, "%s is a 64-bit Mach-O file", path);
    if (f == MAP_FAILED || fh->magic != MH_MAGIC_64_)
        return 1;
    /* the span of the segments (from the file's own load commands) */
    uint64_t lo = UINT64_MAX, hi = 0;
    const unsigned char *p = f + sizeof *fh;
    for (uint32_t i = 0; i < fh->ncmds; i++, p += ((const struct lc *)p)->cmdsize) {
        const struct seg64 *s = (const void *)p;
        if (s->cmd != LC_SEGMENT_64_ || !s->vmsize)
            continue;
        if (s->vmaddr < lo)
            lo = s->vmaddr;
        if (s->vmaddr + s->vmsize > hi)
            hi = s->vmaddr + s->vmsize;
    }
    /* one page more, unmapped after it: a read past the span faults */
    size_t span = (size_t)(hi - lo + 4095) & ~(size_t)4095;
    unsigned char *m = mmap(NULL, span + 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(m + span, 4096);
    p = f + sizeof *fh;
    for (uint32_t i = 0; i < fh->ncmds; i++, p += ((const struct lc *)p)->cmdsize) {
        const struct seg64 *s = (const void *)p;
        if (s->cmd != LC_SEGMENT_64_ || !s->vmsize)
            continue;
        uint64_t n = s->filesize < s->vmsize ? s->filesize : s->vmsize;
        memcpy(m + (s->vmaddr - lo), f + s->fileoff, (size_t)n);
    }
    munmap(f, (size_t)st.st_size);
    uintptr_t hdr = (uintptr_t)m, slide = (uintptr_t)m - (uintptr_t)lo;
    CHECK(((const struct mh64 *)m)->magic == MH_MAGIC_64_,
          "laid out at a slide of %#lx, the header at the first segment's start",
          (unsigned long)slide);

    nsegs = 0;
    int n = pp_macho_each_writable(hdr, slide, note_seg, NULL);
    int seg_at = 0;
    FILE *e = fopen(expect, "r");
    char line[512], name[256];
    unsigned long long a1, a2;
    int checks = 0;
    while (e && fgets(line, sizeof line, e)) {
        uintptr_t addr = 0;
        size_t size = 0;
        if (sscanf(line, "sym %255s %llx", name, &a1) == 2) {
            int rc = pp_macho_symbol(hdr, slide, name, &addr, &size);
            CHECK(rc == 0 && addr - slide == a1, "%s: %s at %#llx (found: %d, %#lx)", path, name,
                  a1, rc, (unsigned long)(addr - slide));
        } else if (sscanf(line, "nosym %255s", name) == 1) {
            int rc = pp_macho_symbol(hdr, slide, name, &addr, &size);
            CHECK(rc == -1, "%s: %s not found (%d)", path, name, rc);
        } else if (sscanf(line, "size %255s %llu %llu", name, &a1, &a2) == 3) {
            int rc = pp_macho_symbol(hdr, slide, name, &addr, &size);
            CHECK(rc == 0 && size >= a1 && size < a2, "%s: %s's size %zu in [%llu, %llu)", path,
                  name, size, a1, a2);
        } else if (sscanf(line, "seg %llx %llx", &a1, &a2) == 2) {
            int k = seg_at++;
            CHECK(k < nsegs && k < 64 && segs[k][0] - slide == a1 && segs[k][1] - slide == a2,
                  "%s: writable segment %d is %#llx-%#llx (%#lx-%#lx)", path, k, a1, a2,
                  k < nsegs && k < 64 ? (unsigned long)(segs[k][0] - slide) : 0ul,
                  k < nsegs && k < 64 ? (unsigned long)(segs[k][1] - slide) : 0ul);
        } else if (sscanf(line, "segs %llu", &a1) == 1) {
            CHECK(n == (int)a1 && nsegs == (int)a1, "%s: %llu writable segments (%d)", path, a1,
                  n);
        } else {
            continue;
        }
        checks++;
    }
    if (e)
        fclose(e);
    CHECK(checks > 0, "%s: %d expectations read from %s", path, checks, expect);
    munmap(m, span);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3)
        file_image(argv[1], argv[2]);
    else
        own_image();
    CHECK_DONE();
}
