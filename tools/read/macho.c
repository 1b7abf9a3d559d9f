/*
 * macho.c - reading Mach-O files (macOS executables and dylibs) without
 * any of Apple's libraries, so that it builds and is tested on Linux too.
 *
 * Two uses: the symbols of an image for the command on macOS
 * (symbols_macho.c: LC_SYMTAB's nlist_64 entries, the defined ones, sorted
 * by address), and the facts `perfprobe run` needs before it starts a
 * program on macOS (sys/launch.c): the architecture slice that will run,
 * whether it is arm64e, and the code signature's flags and entitlements.
 * A file is read whole into memory and every offset is checked against its
 * size; a fat (universal) file is a table of slices, big-endian, each a
 * Mach-O image of its own.  Only 64-bit images are read: macOS 11 runs no
 * other.
 */
#define _GNU_SOURCE
#include "read/macho.h"

#include <stdlib.h>
#include <string.h>

#define MH_MAGIC_64      0xfeedfacfu
#define FAT_MAGIC        0xcafebabeu
#define FAT_MAGIC_64     0xcafebabfu
#define LC_SYMTAB        0x2u
#define LC_SEGMENT_64    0x19u
#define LC_UUID          0x1bu
#define LC_CODE_SIGNATURE 0x1du
#define N_STAB           0xe0
#define N_TYPE           0x0e
#define N_SECT           0x0e
#define CSMAGIC_EMBEDDED 0xfade0cc0u
#define CSMAGIC_CODEDIR  0xfade0c02u
#define CSMAGIC_ENTITLE  0xfade7171u

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* [off, off + len) lies inside a buffer of SIZE bytes */
static int inside(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

int macho_load(const char *path, struct macho_file *f)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (n == cap) {
            if (cap >= (size_t)1 << 31)
                break;                  /* 2 GiB: not an image we read */
            cap *= 2;
            b = realloc(b, cap);
        }
        size_t got = fread(b + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    fclose(fp);
    f->data = b;
    f->size = n;
    if (macho_parse(f) < 0) {
        free(b);
        f->data = NULL;
        return -1;
    }
    return 0;
}

/* the slices of F: one for a thin image, the table's entries for a fat one */
int macho_parse(struct macho_file *f)
{
    const unsigned char *b = f->data;
    f->nslices = 0;
    if (f->size < 8)
        return -1;
    uint32_t magic = be32(b);
    if (magic == FAT_MAGIC || magic == FAT_MAGIC_64) {
        uint32_t n = be32(b + 4);
        size_t es = magic == FAT_MAGIC ? 20 : 32;
        for (uint32_t i = 0; i < n && f->nslices < MACHO_MAX_SLICES; i++) {
            const unsigned char *e = b + 8 + i * es;
            if (!inside(8 + (uint64_t)i * es, es, f->size))
                return -1;
            struct macho_slice *s = &f->slice[f->nslices];
            s->cputype = (int32_t)be32(e);
            s->cpusubtype = (int32_t)be32(e + 4);
            s->off = magic == FAT_MAGIC ? be32(e + 8) : be64(e + 8);
            s->size = magic == FAT_MAGIC ? be32(e + 12) : be64(e + 16);
            if (inside(s->off, s->size, f->size) && s->size >= 32 &&
                le32(b + s->off) == MH_MAGIC_64)
                f->nslices++;
        }
    } else if (le32(b) == MH_MAGIC_64 && f->size >= 32) {
        f->slice[0].cputype = (int32_t)le32(b + 4);
        f->slice[0].cpusubtype = (int32_t)le32(b + 8);
        f->slice[0].off = 0;
        f->slice[0].size = f->size;
        f->nslices = 1;
    }
    if (f->nslices == 0)
        return -1;
    for (int i = 0; i < f->nslices; i++)
        f->slice[i].filetype = le32(b + f->slice[i].off + 12);
    return 0;
}

void macho_close(struct macho_file *f)
{
    free(f->data);
    f->data = NULL;
}

int macho_pick(const struct macho_file *f, int32_t cputype, int prefer_arm64e)
{
    int pick = -1;
    for (int i = 0; i < f->nslices; i++) {
        if (f->slice[i].cputype != cputype)
            continue;
        int e = macho_is_arm64e(&f->slice[i]);
        if (pick < 0 || e == prefer_arm64e)
            pick = i;
    }
    return pick;
}

int macho_is_arm64e(const struct macho_slice *s)
{
    return s->cputype == MACHO_CPU_ARM64 && (s->cpusubtype & 0x00ffffff) == 2;
}

/* calls FN for each load command of slice S; stops at the first bad one */
static void each_command(const struct macho_file *f, const struct macho_slice *s,
                         void (*fn)(const unsigned char *, uint32_t, uint32_t, void *), void *ctx)
{
    const unsigned char *h = f->data + s->off;
    uint32_t ncmds = le32(h + 16), sizeofcmds = le32(h + 20);
    if (!inside(32, sizeofcmds, s->size))
        return;
    uint64_t at = 32;
    for (uint32_t i = 0; i < ncmds; i++) {
        if (!inside(at, 8, 32 + (uint64_t)sizeofcmds))
            return;
        uint32_t cmd = le32(h + at), size = le32(h + at + 4);
        if (size < 8 || !inside(at, size, 32 + (uint64_t)sizeofcmds))
            return;
        fn(h + at, cmd, size, ctx);
        at += size;
    }
}

struct scan {
    const unsigned char *symtab, *codesig, *uuid;
    uint64_t text_vmaddr, text_end;
    int have_text, restrict_seg;
    struct { uint64_t lo, hi; } sect[255];
    int nsect;
};

static void scan_command(const unsigned char *c, uint32_t cmd, uint32_t size, void *ctx)
{
    struct scan *sc = ctx;
    if (cmd == LC_SYMTAB && size >= 24) {
        sc->symtab = c;
    } else if (cmd == LC_CODE_SIGNATURE && size >= 16) {
        sc->codesig = c;
    } else if (cmd == LC_UUID && size >= 24) {
        sc->uuid = c + 8;
    } else if (cmd == LC_SEGMENT_64 && size >= 72) {
        char name[17];
        memcpy(name, c + 8, 16);
        name[16] = 0;
        if (!strcmp(name, "__TEXT")) {
            sc->text_vmaddr = le64(c + 24);
            sc->text_end = sc->text_vmaddr + le64(c + 32);
            sc->have_text = 1;
        }
        if (!strcmp(name, "__RESTRICT"))
            sc->restrict_seg = 1;
        uint32_t nsects = le32(c + 64);
        for (uint32_t k = 0; k < nsects && 72 + (uint64_t)(k + 1) * 80 <= size; k++) {
            const unsigned char *sec = c + 72 + k * 80;   /* section numbers count from 1 */
            if (sc->nsect < 255) {
                sc->sect[sc->nsect].lo = le64(sec + 32);
                sc->sect[sc->nsect].hi = le64(sec + 32) + le64(sec + 40);
            }
            sc->nsect++;
        }
    }
}

void macho_uuid_hex(const struct macho_file *f, int slice, char out[33])
{
    struct scan sc = {0};
    out[0] = 0;
    if (slice < 0 || slice >= f->nslices)
        return;
    each_command(f, &f->slice[slice], scan_command, &sc);
    if (!sc.uuid)
        return;
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", sc.uuid[i]);
}

static int by_addr(const void *a, const void *b)
{
    const struct macho_sym *x = a, *y = b;
    if (x->addr != y->addr)
        return (x->addr > y->addr) - (x->addr < y->addr);
    return strcmp(x->name, y->name);
}

int macho_symbols(const struct macho_file *f, int slice, struct macho_syms *out)
{
    memset(out, 0, sizeof *out);
    if (slice < 0 || slice >= f->nslices)
        return -1;
    const struct macho_slice *s = &f->slice[slice];
    struct scan sc = {0};
    each_command(f, s, scan_command, &sc);
    out->text_vmaddr = sc.text_vmaddr;
    if (!sc.symtab)
        return -1;
    const unsigned char *base = f->data + s->off;
    uint32_t symoff = le32(sc.symtab + 8), nsyms = le32(sc.symtab + 12);
    uint32_t stroff = le32(sc.symtab + 16), strsize = le32(sc.symtab + 20);
    if (!inside(symoff, (uint64_t)nsyms * 16, s->size) || !inside(stroff, strsize, s->size))
        return -1;
    out->v = calloc(nsyms ? nsyms : 1, sizeof *out->v);
    for (uint32_t i = 0; i < nsyms; i++) {
        const unsigned char *e = base + symoff + (uint64_t)i * 16;
        uint32_t strx = le32(e);
        uint8_t type = e[4], sect = e[5];
        uint64_t value = le64(e + 8);
        if ((type & N_STAB) || (type & N_TYPE) != N_SECT || strx == 0 || strx >= strsize)
            continue;
        const char *name = (const char *)base + stroff + strx;
        size_t len = strnlen(name, strsize - strx);
        if (len == 0 || len == strsize - strx)
            continue;                           /* empty or not terminated */
        struct macho_sym *m = &out->v[out->n++];
        m->addr = value;
        m->name = strndup(name[0] == '_' ? name + 1 : name, name[0] == '_' ? len - 1 : len);
        /* the symbol ends where its section does, if nothing comes first */
        m->end = sect >= 1 && sect <= sc.nsect ? sc.sect[sect - 1].hi : value;
    }
    qsort(out->v, out->n, sizeof *out->v, by_addr);
    for (size_t i = 0; i + 1 < out->n; i++)
        if (out->v[i + 1].addr > out->v[i].addr && out->v[i + 1].addr < out->v[i].end)
            out->v[i].end = out->v[i + 1].addr;
    return 0;
}

const struct macho_sym *macho_find(const struct macho_syms *s, uint64_t addr)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {                   /* the last symbol at or below addr */
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct macho_sym *m = &s->v[lo - 1];
    return addr < m->end ? m : NULL;
}

void macho_syms_free(struct macho_syms *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].name);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* the blob of TYPE in the embedded signature's super blob, or NULL */
static const unsigned char *cs_blob(const unsigned char *sb, uint32_t len, uint32_t type,
                                    uint32_t magic, uint32_t *blen)
{
    if (len < 12 || be32(sb) != CSMAGIC_EMBEDDED)
        return NULL;
    uint32_t count = be32(sb + 8);
    for (uint32_t i = 0; i < count && inside(12 + (uint64_t)i * 8, 8, len); i++) {
        uint32_t t = be32(sb + 12 + i * 8), off = be32(sb + 16 + i * 8);
        if (t != type || !inside(off, 8, len) || be32(sb + off) != magic)
            continue;
        *blen = be32(sb + off + 4);
        if (!inside(off, *blen, len) || *blen < 8)
            return NULL;
        return sb + off;
    }
    return NULL;
}

void macho_signature(const struct macho_file *f, int slice, struct macho_sig *out)
{
    memset(out, 0, sizeof *out);
    if (slice < 0 || slice >= f->nslices)
        return;
    const struct macho_slice *s = &f->slice[slice];
    struct scan sc = {0};
    each_command(f, s, scan_command, &sc);
    out->restrict_segment = sc.restrict_seg;
    if (!sc.codesig)
        return;
    uint32_t off = le32(sc.codesig + 8), size = le32(sc.codesig + 12);
    if (!inside(off, size, s->size))
        return;
    const unsigned char *sb = f->data + s->off + off;
    uint32_t blen;
    const unsigned char *cd = cs_blob(sb, size, 0, CSMAGIC_CODEDIR, &blen);
    if (cd && blen >= 16) {
        out->is_signed = 1;
        out->flags = be32(cd + 12);
    }
    const unsigned char *ent = cs_blob(sb, size, 5, CSMAGIC_ENTITLE, &blen);
    if (ent) {
        const char *x = (const char *)ent + 8;
        size_t n = blen - 8;
        out->allow_dyld_env = memmem(x, n, "com.apple.security.cs.allow-dyld-environment-variables",
                                     54) != NULL;
        out->no_library_validation = memmem(x, n, "com.apple.security.cs.disable-library-validation",
                                            48) != NULL;
    }
}
