/*
 * modules.c - the loaded images as dyld knows them, for the shim's list of
 * modules (sys/modules.c).
 *
 * Each image dyld reports gives its Mach-O header in memory, its slide (the
 * load bias) and its path; the header's load commands give the segments'
 * address ranges (__PAGEZERO, which maps nothing, left out) and the image's
 * UUID, which plays the part of a build id: dSYM bundles and symbol servers
 * are keyed by it.  A symbol of an image (pp_module_symbol, for
 * core/pyframes.c) comes from its own symbol table in memory (macho.c).
 */
#include "sys/sys.h"

#include <mach-o/dyld.h>
#include <mach-o/loader.h>
#include <string.h>

static int scan_image(uint32_t i)
{
    const struct mach_header_64 *h = (const void *)_dyld_get_image_header(i);
    if (!h || h->magic != MH_MAGIC_64)
        return 0;
    const char *name = _dyld_get_image_name(i);
    uintptr_t slide = (uintptr_t)_dyld_get_image_vmaddr_slide(i);
    uintptr_t range[PP_MODULE_RANGES][2];
    uint8_t uuid[16];
    struct pp_module_info m;
    memset(&m, 0, sizeof m);
    m.base = slide;
    const uint8_t *lc = (const uint8_t *)(h + 1);
    for (uint32_t k = 0; k < h->ncmds; k++) {
        const struct load_command *c = (const void *)lc;
        if (c->cmd == LC_SEGMENT_64) {
            const struct segment_command_64 *seg = (const void *)c;
            if (seg->vmsize && strcmp(seg->segname, SEG_PAGEZERO) != 0 &&
                m.nranges < PP_MODULE_RANGES) {
                range[m.nranges][0] = (uintptr_t)seg->vmaddr + slide;
                range[m.nranges][1] = (uintptr_t)(seg->vmaddr + seg->vmsize) + slide;
                m.nranges++;
            }
        } else if (c->cmd == LC_UUID) {
            memcpy(uuid, ((const struct uuid_command *)c)->uuid, sizeof uuid);
            m.build_id = uuid;
            m.build_id_len = (int)sizeof uuid;
        }
        lc += c->cmdsize;
    }
    m.range = (const uintptr_t (*)[2])range;
    m.path = name ? name : "";
    m.path_len = strnlen(m.path, 4095);
    return pp_module_add(&m);
}

/* dyld adds an image whole to the list pp_modules_scan reads */
int pp_modules_settled(void)
{
    return 1;
}

/* dyld unloads only what dlclose lets go: the caller keeps count of those
 * (pyframes.c) */
int pp_modules_while_loaded(size_t i, void (*fn)(void *arg), void *arg)
{
    (void)i;
    fn(arg);
    return 1;
}

void pp_modules_scan(void)
{
    uint32_t n = _dyld_image_count();
    for (uint32_t i = 0; i < n; i++)
        if (scan_image(i))
            break;
}

/* dyld's dlerror keeps its message per thread, never passed to free */
int pp_os_defined(const char *name)
{
    (void)name;
    return 1;
}

/* the dyld image whose header lies in module I of the list; its symbol
 * table read in memory (macho.c), no dlsym */
int pp_module_symbol(size_t i, const char *name, uintptr_t *addr, size_t *size)
{
    uint32_t n = _dyld_image_count();
    for (uint32_t k = 0; k < n; k++) {
        const struct mach_header *h = _dyld_get_image_header(k);
        if (h && pp_modules_find((uintptr_t)h) == (int)i)
            return pp_macho_symbol((uintptr_t)h, (uintptr_t)_dyld_get_image_vmaddr_slide(k), name,
                                   addr, size);
    }
    return -1;
}
