/*
 * symbols_elf.c - return addresses to function, source file and line, with
 * inlined calls, in the perfprobe command (never in the traced process).
 *
 * The module records of a run (path, load bias, build id) are reported to
 * libdwfl (elfutils) as an offline session: each module's ELF file is
 * opened from its recorded path, its build id compared with the recorded
 * one (a file rebuilt since the run is not trusted), and its debug
 * information found the standard way, including /usr/lib/debug/.build-id.
 * An address then resolves through the DWARF scopes that contain it
 * (dwarf_getscopes): each inlined subroutine gives a frame of its own, whose
 * line is the call site recorded in the inlined instance.  Without DWARF the
 * symbol table gives the function; without that, "module+0xOFFSET".
 *
 * Recorded frames are return addresses, so address - 1 is looked up: the
 * call instruction itself, whose line is the line of the call.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct mod {
    uint64_t lo, hi, base;
    char *path;
    int usable;              /* reported to libdwfl with a matching build id */
};

struct cached { uint64_t addr; int n; struct sym_frame *f; };

struct symbols {
    Dwfl *dwfl;
    struct mod *mods;
    int nmods;
    struct cached *cache;    /* open addressing on addr */
    size_t cache_cap, cache_n;
    char **strings;          /* everything to free */
    size_t nstrings, cap_strings;
};

static char *keep(struct symbols *s, char *str)
{
    if (!str)
        return NULL;
    if (s->nstrings == s->cap_strings) {
        s->cap_strings = s->cap_strings ? s->cap_strings * 2 : 256;
        s->strings = realloc(s->strings, s->cap_strings * sizeof *s->strings);
    }
    s->strings[s->nstrings++] = str;
    return str;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static void hex(const unsigned char *b, int n, char *out)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * (n > 0 ? n : 0)] = 0;
}

struct symbols *symbols_new(json_t *recs)
{
    struct symbols *s = calloc(1, sizeof *s);
    size_t i;
    json_t *o;
    s->dwfl = dwfl_begin(&callbacks);
    s->mods = calloc(json_array_size(recs) + 1, sizeof *s->mods);
    if (s->dwfl)
        dwfl_report_begin(s->dwfl);
    json_array_foreach(recs, i, o) {
        const char *path = json_string_value(json_object_get(o, "path"));
        const char *bid = json_string_value(json_object_get(o, "build_id"));
        uint64_t lo, hi;
        if (!module_extent(o, &lo, &hi) || !path)
            continue;
        struct mod *m = &s->mods[s->nmods++];
        m->path = keep(s, strdup(path));
        m->base = (uint64_t)json_num(o, "base", 0);
        m->lo = lo;
        m->hi = hi;
        if (!s->dwfl || !*path || path[0] != '/')
            continue;
        Dwfl_Module *dm = dwfl_report_elf(s->dwfl, path, path, -1, m->base, false);
        if (!dm)
            continue;
        const unsigned char *bits;
        GElf_Addr vaddr;
        int n = dwfl_module_build_id(dm, &bits, &vaddr);
        char have[2 * 64 + 1] = "";
        if (n > 0 && n <= 64)
            hex(bits, n, have);
        m->usable = !bid || !*bid || !strcmp(have, bid);
    }
    if (s->dwfl)
        dwfl_report_end(s->dwfl, NULL, NULL);
    s->cache_cap = 1024;
    s->cache = calloc(s->cache_cap, sizeof *s->cache);
    return s;
}

void symbols_free(struct symbols *s)
{
    if (!s)
        return;
    if (s->dwfl)
        dwfl_end(s->dwfl);
    for (size_t i = 0; i < s->nstrings; i++)
        free(s->strings[i]);
    for (size_t i = 0; i < s->cache_cap; i++)
        free(s->cache[i].f);
    free(s->strings);
    free(s->cache);
    free(s->mods);
    free(s);
}

static struct mod *find_mod(struct symbols *s, uint64_t a)
{
    for (int i = s->nmods; i-- > 0;)          /* the newest first */
        if (a >= s->mods[i].lo && a < s->mods[i].hi)
            return &s->mods[i];
    return NULL;
}

static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute at;
    const char *n = NULL;
    if (dwarf_attr_integrate(die, DW_AT_name, &at))
        n = dwarf_formstring(&at);
    if (!n && dwarf_attr_integrate(die, DW_AT_linkage_name, &at))
        n = dwarf_formstring(&at);
    return n;
}

static const char *call_file(Dwarf_Die *cu, Dwarf_Die *inl)
{
    Dwarf_Attribute at;
    Dwarf_Word idx;
    Dwarf_Files *files;
    size_t nfiles;
    if (!dwarf_attr(inl, DW_AT_call_file, &at) || dwarf_formudata(&at, &idx) ||
        dwarf_getsrcfiles(cu, &files, &nfiles) || idx >= nfiles)
        return NULL;
    return dwarf_filesrc(files, idx, NULL, NULL);
}

static int resolve(struct symbols *s, uint64_t addr, struct sym_frame *out, int max)
{
    uint64_t a = addr ? addr - 1 : 0;
    struct mod *m = find_mod(s, a);
    struct sym_frame base = {.addr = addr, .module = m ? m->path : NULL};
    char buf[600];
    Dwfl_Module *dm = s->dwfl && m && m->usable ? dwfl_addrmodule(s->dwfl, a) : NULL;
    if (!dm) {
        if (m)
            snprintf(buf, sizeof buf, "%s+0x%" PRIx64, strrchr(m->path, '/') ?
                     strrchr(m->path, '/') + 1 : m->path, a - m->base);
        else
            snprintf(buf, sizeof buf, "0x%" PRIx64, a);
        base.fn = keep(s, strdup(buf));
        out[0] = base;
        return 1;
    }
    /* the line of the innermost code */
    Dwfl_Line *ln = dwfl_module_getsrc(dm, a);
    const char *file = NULL;
    int line = 0;
    if (ln)
        file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
    const char *sym = dwfl_module_addrname(dm, a);
    int n = 0;
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(dm, a, &bias);
    Dwarf_Die *scopes = NULL;
    int ns = cu ? dwarf_getscopes(cu, a - bias, &scopes) : 0;
    for (int i = 0; i < ns && n < max; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
            continue;
        const char *name = die_name(&scopes[i]);
        out[n] = base;
        out[n].fn = keep(s, strdup(name ? name : sym ? sym : "??"));
        out[n].file = file ? keep(s, strdup(file)) : NULL;
        out[n].line = line;
        out[n].inlined = tag == DW_TAG_inlined_subroutine;
        n++;
        if (tag == DW_TAG_subprogram)
            break;
        /* the caller's position is the call site of this inlined copy */
        Dwarf_Attribute at;
        Dwarf_Word cl = 0;
        if (dwarf_attr(&scopes[i], DW_AT_call_line, &at))
            dwarf_formudata(&at, &cl);
        file = call_file(cu, &scopes[i]);
        line = (int)cl;
    }
    free(scopes);
    if (n == 0) {
        out[0] = base;
        if (sym) {
            out[0].fn = keep(s, strdup(sym));
        } else {
            snprintf(buf, sizeof buf, "%s+0x%" PRIx64, strrchr(m->path, '/') ?
                     strrchr(m->path, '/') + 1 : m->path, a - m->base);
            out[0].fn = keep(s, strdup(buf));
        }
        out[0].file = file ? keep(s, strdup(file)) : NULL;
        out[0].line = line;
        n = 1;
    }
    return n;
}

int symbols_lookup(struct symbols *s, uint64_t addr, struct sym_frame *out, int max)
{
    if (s->cache_n * 2 >= s->cache_cap) {           /* grow */
        struct cached *old = s->cache;
        size_t oc = s->cache_cap;
        s->cache_cap *= 2;
        s->cache = calloc(s->cache_cap, sizeof *s->cache);
        for (size_t i = 0; i < oc; i++) {
            if (!old[i].f)
                continue;
            size_t j = (old[i].addr * 0x9e3779b97f4a7c15ull >> 17) & (s->cache_cap - 1);
            while (s->cache[j].f)
                j = (j + 1) & (s->cache_cap - 1);
            s->cache[j] = old[i];
        }
        free(old);
    }
    size_t j = (addr * 0x9e3779b97f4a7c15ull >> 17) & (s->cache_cap - 1);
    while (s->cache[j].f && s->cache[j].addr != addr)
        j = (j + 1) & (s->cache_cap - 1);
    if (!s->cache[j].f) {
        struct sym_frame tmp[32];
        int n = resolve(s, addr, tmp, 32);
        s->cache[j].addr = addr;
        s->cache[j].n = n;
        s->cache[j].f = malloc((size_t)n * sizeof *tmp);
        memcpy(s->cache[j].f, tmp, (size_t)n * sizeof *tmp);
        s->cache_n++;
    }
    int n = s->cache[j].n < max ? s->cache[j].n : max;
    memcpy(out, s->cache[j].f, (size_t)n * sizeof *out);
    return n;
}
