/*
 * symbols_macho.c - return addresses to functions on macOS: the same
 * interface as symbols_elf.c (read.h), from the Mach-O symbol tables of the
 * images a run loaded (macho.c), in the command only.
 *
 * A module record's "base" is taken as the image's slide (where it loaded
 * minus the address its file asks for), as "base" is the load bias on
 * Linux: file address = return address - 1 - base.  The image file is read
 * from its recorded path; in a fat file the slice whose LC_UUID equals the
 * recorded build id is used (any slice of this machine's architecture when
 * the record has none; none when the record's id matches no slice: a file
 * rebuilt since the run is not trusted).  Only the symbol table is read: a
 * function, no file and line (dSYM bundles, DWARF, are not read yet).
 * Images in the dyld shared cache (the system's libraries) have no file
 * of their own, and an image without symbols, give "image+0xOFFSET", the
 * offset from the image's Mach-O header.
 */
#define _GNU_SOURCE
#include "read/macho.h"
#include "read/read.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct mod {
    uint64_t lo, hi, base;
    char *path;
    int loaded;                       /* syms holds the image's symbols */
    struct macho_syms syms;
};

struct symbols {
    struct mod *mods;
    int nmods;
    char **strings;                   /* every string handed out, to free */
    size_t nstrings, cap;
};

static const char *keep(struct symbols *s, const char *str)
{
    if (s->nstrings == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->strings = realloc(s->strings, s->cap * sizeof *s->strings);
    }
    return s->strings[s->nstrings++] = strdup(str);
}

/* "1A2B-..." or "1a2b..." as 32 lowercase hex digits */
static void uuid_norm(const char *in, char out[33])
{
    int n = 0;
    for (; *in && n < 32; in++)
        if (isxdigit((unsigned char)*in))
            out[n++] = (char)tolower((unsigned char)*in);
    out[n] = 0;
}

static void load_image(struct mod *m, const char *bid)
{
    struct macho_file f;
    if (macho_load(m->path, &f) < 0)
        return;
#if defined(__aarch64__) || defined(__arm64__)
    int32_t cpu = MACHO_CPU_ARM64;
#else
    int32_t cpu = MACHO_CPU_X86_64;
#endif
    char want[33] = "", have[33];
    if (bid)
        uuid_norm(bid, want);
    int pick = -1;
    for (int i = 0; i < f.nslices && pick < 0; i++) {
        macho_uuid_hex(&f, i, have);
        if (want[0] && !strcmp(want, have))
            pick = i;
    }
    if (!want[0])
        pick = macho_pick(&f, cpu, 0);
    if (pick >= 0 && macho_symbols(&f, pick, &m->syms) == 0)
        m->loaded = 1;
    macho_close(&f);
}

struct symbols *symbols_new(json_t *recs)
{
    struct symbols *s = calloc(1, sizeof *s);
    size_t i;
    json_t *o;
    s->mods = calloc(json_array_size(recs) + 1, sizeof *s->mods);
    json_array_foreach(recs, i, o) {
        const char *path = json_string_value(json_object_get(o, "path"));
        uint64_t lo, hi;
        if (!module_extent(o, &lo, &hi) || !path)
            continue;
        struct mod *m = &s->mods[s->nmods++];
        m->path = strdup(path);
        m->base = (uint64_t)json_num(o, "base", 0);
        m->lo = lo;
        m->hi = hi;
        if (path[0] == '/')
            load_image(m, json_string_value(json_object_get(o, "build_id")));
    }
    return s;
}

void symbols_free(struct symbols *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nmods; i++) {
        free(s->mods[i].path);
        macho_syms_free(&s->mods[i].syms);
    }
    for (size_t i = 0; i < s->nstrings; i++)
        free(s->strings[i]);
    free(s->strings);
    free(s->mods);
    free(s);
}

int symbols_lookup(struct symbols *s, uint64_t addr, struct sym_frame *out, int max)
{
    if (max < 1)
        return 0;
    uint64_t a = addr ? addr - 1 : 0;
    struct mod *m = NULL;
    for (int i = s->nmods; i-- > 0 && !m;)          /* the newest first */
        if (a >= s->mods[i].lo && a < s->mods[i].hi)
            m = &s->mods[i];
    struct sym_frame f = {.addr = addr, .module = m ? m->path : NULL};
    const struct macho_sym *sym = m && m->loaded ? macho_find(&m->syms, a - m->base) : NULL;
    char buf[600];
    if (sym) {
        f.fn = sym->name;
    } else if (m) {
        uint64_t head = m->loaded ? m->base + m->syms.text_vmaddr : m->lo;
        snprintf(buf, sizeof buf, "%s+0x%" PRIx64,
                 strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path, a - head);
        f.fn = keep(s, buf);
    } else {
        snprintf(buf, sizeof buf, "0x%" PRIx64, a);
        f.fn = keep(s, buf);
    }
    out[0] = f;
    return 1;
}
