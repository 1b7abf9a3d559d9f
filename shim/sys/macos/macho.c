/*
 * macho.c - reading a loaded Mach-O image's own tables in memory: a symbol
 * from its symbol table (for core/pyframes.c, libpython's symbols without
 * a dyld call), and its writable segments (the leak check's roots).
 *
 * Pure: nothing here calls the system, and the Mach-O structures are
 * spelled out below instead of taken from <mach-o/loader.h>, so that the
 * file builds on Linux too, where tests/unit/test_macho.c runs it over
 * dylibs built by Zig for arm64 and x86_64, laid out in memory at their
 * segments' addresses, against llvm-nm and llvm-objdump.
 *
 * The layout (Apple's <mach-o/loader.h> and <mach-o/nlist.h>; the same on
 * arm64 and x86_64, both little-endian): the mach_header_64 is at the start
 * of __TEXT, its load commands follow it; LC_SYMTAB gives the symbol and
 * string tables as offsets in the file, which lie in __LINKEDIT, mapped at
 * its vmaddr + slide: an offset F is at F - fileoff + vmaddr + slide.
 *
 * (tools/read/macho.c reads Mach-O files for the command, whole, sorting
 * what it reads into allocated tables; the shim reads a loaded image in
 * place, allocating nothing.)
 */
#include "sys/sys.h"

#include <string.h>

#define MH_MAGIC_64_    0xfeedfacfu
#define LC_SEGMENT_64_  0x19u
#define LC_SYMTAB_      0x2u
#define LC_FUNCTION_STARTS_ 0x26u
#define VM_PROT_WRITE_  0x2
#define SG_READ_ONLY_   0x10u       /* dyld makes it read-only after fixups */
#define N_STAB_         0xe0u
#define N_TYPE_         0x0eu
#define N_EXT_          0x01u
#define N_SECT_         0x0eu

struct mh64 {
    uint32_t magic;
    int32_t cputype, cpusubtype;
    uint32_t filetype, ncmds, sizeofcmds, flags, reserved;
};
struct lc {
    uint32_t cmd, cmdsize;
};
struct seg64 {
    uint32_t cmd, cmdsize;
    char segname[16];
    uint64_t vmaddr, vmsize, fileoff, filesize;
    int32_t maxprot, initprot;
    uint32_t nsects, flags;
};
struct sect64 {
    char sectname[16], segname[16];
    uint64_t addr, size;
    uint32_t offset, align, reloff, nreloc, flags, reserved1, reserved2, reserved3;
};
struct symtab {
    uint32_t cmd, cmdsize, symoff, nsyms, stroff, strsize;
};
struct linkedit_data {
    uint32_t cmd, cmdsize, dataoff, datasize;
};
struct nlist64 {
    uint32_t n_strx;
    uint8_t n_type, n_sect;
    uint16_t n_desc;
    uint64_t n_value;
};

/* the load command after C, or NULL past the end of the commands */
static const struct lc *next_cmd(const struct mh64 *h, const struct lc *c, uint32_t *k)
{
    const char *first = (const char *)(h + 1), *end = first + h->sizeofcmds;
    const char *p = c ? (const char *)c + c->cmdsize : first;
    if (c)
        ++*k;
    if (*k >= h->ncmds || p + sizeof(struct lc) > end)
        return NULL;
    const struct lc *n = (const void *)p;
    if (n->cmdsize < sizeof *n || (n->cmdsize & 3) || p + n->cmdsize > end)
        return NULL;
    return n;
}

static const struct mh64 *header(uintptr_t hdr)
{
    const struct mh64 *h = (const void *)hdr;
    return hdr && (hdr & 3) == 0 && h->magic == MH_MAGIC_64_ ? h : NULL;
}

static int seg_named(const struct seg64 *s, const char *name)
{
    return strncmp(s->segname, name, sizeof s->segname) == 0;
}

int pp_macho_each_writable(uintptr_t hdr, uintptr_t slide,
                           void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
    const struct mh64 *h = header(hdr);
    if (!h)
        return -1;
    int n = 0;
    uint32_t k = 0;
    for (const struct lc *c = next_cmd(h, NULL, &k); c; c = next_cmd(h, c, &k)) {
        if (c->cmd != LC_SEGMENT_64_ || c->cmdsize < sizeof(struct seg64))
            continue;
        const struct seg64 *s = (const void *)c;
        /* __DATA_CONST and __AUTH_CONST are written by dyld's fixups only
         * (pointers to code and constant data), read-only afterwards when
         * the linker marked them so */
        if (!(s->initprot & VM_PROT_WRITE_) || !s->vmsize || (s->flags & SG_READ_ONLY_) ||
            seg_named(s, "__DATA_CONST") || seg_named(s, "__AUTH_CONST"))
            continue;
        fn((uintptr_t)s->vmaddr + slide, (uintptr_t)(s->vmaddr + s->vmsize) + slide, arg);
        n++;
    }
    return n;
}

/* [lo, hi) of section number SECT (from 1, over every segment in order) */
static int section_bounds(const struct mh64 *h, uintptr_t slide, unsigned sect, uintptr_t *lo,
                          uintptr_t *hi)
{
    unsigned seen = 0;
    uint32_t k = 0;
    for (const struct lc *c = next_cmd(h, NULL, &k); c; c = next_cmd(h, c, &k)) {
        if (c->cmd != LC_SEGMENT_64_ || c->cmdsize < sizeof(struct seg64))
            continue;
        const struct seg64 *s = (const void *)c;
        if (c->cmdsize < sizeof *s + (uint64_t)s->nsects * sizeof(struct sect64))
            return -1;
        if (sect - seen <= s->nsects) {
            const struct sect64 *x = (const struct sect64 *)(s + 1) + (sect - seen - 1);
            *lo = (uintptr_t)x->addr + slide;
            *hi = (uintptr_t)(x->addr + x->size) + slide;
            return 0;
        }
        seen += s->nsects;
    }
    return -1;
}

int pp_macho_symbol(uintptr_t hdr, uintptr_t slide, const char *name, uintptr_t *addr,
                    size_t *size)
{
    const struct mh64 *h = header(hdr);
    if (!h)
        return -1;
    const struct symtab *st = NULL;
    const struct seg64 *link = NULL, *text = NULL;
    const struct linkedit_data *starts = NULL;
    uint32_t k = 0;
    for (const struct lc *c = next_cmd(h, NULL, &k); c; c = next_cmd(h, c, &k)) {
        if (c->cmd == LC_SYMTAB_ && c->cmdsize >= sizeof *st)
            st = (const void *)c;
        else if (c->cmd == LC_FUNCTION_STARTS_ && c->cmdsize >= sizeof *starts)
            starts = (const void *)c;
        else if (c->cmd == LC_SEGMENT_64_ && c->cmdsize >= sizeof *link &&
                 seg_named((const void *)c, "__LINKEDIT"))
            link = (const void *)c;
        else if (c->cmd == LC_SEGMENT_64_ && c->cmdsize >= sizeof *text &&
                 seg_named((const void *)c, "__TEXT"))
            text = (const void *)c;
    }
    if (!st || !link)
        return -1;
    /* both tables inside __LINKEDIT's bytes in the file */
    uint64_t lf = link->fileoff, le = link->fileoff + link->filesize;
    if (st->symoff < lf || st->symoff + (uint64_t)st->nsyms * sizeof(struct nlist64) > le ||
        st->stroff < lf || st->stroff + (uint64_t)st->strsize > le || !st->strsize)
        return -1;
    uintptr_t base = (uintptr_t)(link->vmaddr - link->fileoff) + slide;
    const struct nlist64 *sym = (const void *)(base + st->symoff);
    const char *str = (const char *)(base + st->stroff);
    size_t want = strlen(name);
    const struct nlist64 *hit = NULL;
    /* a defined external symbol: its name is the C name with an underscore
     * before it */
    for (uint32_t i = 0; i < st->nsyms && !hit; i++) {
        const struct nlist64 *s = &sym[i];
        if ((s->n_type & N_STAB_) || (s->n_type & N_TYPE_) != N_SECT_ ||
            !(s->n_type & N_EXT_) || !s->n_sect || s->n_strx >= st->strsize ||
            st->strsize - s->n_strx < want + 2)
            continue;
        const char *sn = str + s->n_strx;
        if (sn[0] == '_' && memcmp(sn + 1, name, want + 1) == 0)
            hit = s;
    }
    if (!hit)
        return -1;
    *addr = (uintptr_t)hit->n_value + slide;
    if (!size)
        return 0;
    /* Mach-O symbols have no size: up to the next symbol of the section,
     * or the next function's start, or the section's end */
    uintptr_t lo, hi;
    if (section_bounds(h, slide, hit->n_sect, &lo, &hi) != 0 || *addr < lo || *addr >= hi)
        hi = *addr;
    for (uint32_t i = 0; i < st->nsyms; i++) {
        const struct nlist64 *s = &sym[i];
        if ((s->n_type & N_STAB_) || (s->n_type & N_TYPE_) != N_SECT_ || s->n_sect != hit->n_sect)
            continue;
        uintptr_t v = (uintptr_t)s->n_value + slide;
        if (v > *addr && v < hi)
            hi = v;
    }
    /* the linker's list of every function's start (kept when the local
     * symbols are stripped): ULEB128 deltas from __TEXT's start */
    if (starts && text && starts->dataoff >= lf &&
        starts->dataoff + (uint64_t)starts->datasize <= le) {
        const uint8_t *p = (const uint8_t *)(base + starts->dataoff), *end = p + starts->datasize;
        uintptr_t v = (uintptr_t)text->vmaddr + slide;
        while (p < end && v < hi) {
            uint64_t d = 0;
            unsigned shift = 0;
            while (p < end && shift < 64) {
                d |= (uint64_t)(*p & 0x7f) << shift;
                shift += 7;
                if (!(*p++ & 0x80))
                    break;
            }
            if (!d)
                break;
            v += (uintptr_t)d;
            if (v > *addr && v < hi)
                hi = v;
        }
    }
    *size = hi - *addr;
    return 0;
}
