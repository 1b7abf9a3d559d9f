/*
 * modules.c - the shim's own list of loaded modules (executable, shared
 * libraries, plugins), so that stacks can be symbolised after the process
 * is gone, even for a library unloaded before exit.
 *
 * A module is what dl_iterate_phdr reports: a path, a load bias and its
 * PT_LOAD segments; the GNU build id is read from its PT_NOTE segments in
 * memory.  The list only grows: an unloaded module keeps its entry, and a
 * module loaded later at the same address gets a new one (look-ups go from
 * the newest entry back).  Entries live in raw mmap memory and are
 * published with a release store of the count, so look-ups take no lock.
 *
 * The list is refreshed at start-up, before each write of the sites, and
 * from a hook when a new stack has a frame in no known module (a plugin
 * just dlopen'd); a refresh is one dl_iterate_phdr walk under a try-lock,
 * and a refresh already under way is not waited for.  The core writes
 * each module's record once per process image (pp_modules_claim), outside
 * any hook.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#define MAX_MODULES 4096
#define MAX_RANGES  8
#define PATH_ARENA  (1u << 20)

struct module {
    uintptr_t base, lo, hi;
    int       nranges;
    uintptr_t range[MAX_RANGES][2];
    uint32_t  path_off, path_len;
    uint8_t   build_id[32];
    int       build_id_len;
    _Atomic int written;
};

static struct module *mods;
static _Atomic size_t n_mods;
static char *paths;
static size_t paths_used;
static atomic_flag busy = ATOMIC_FLAG_INIT;
static char exe_path[4096];

static int known(uintptr_t base, uintptr_t lo, uintptr_t hi)
{
    size_t n = atomic_load_explicit(&n_mods, memory_order_acquire);
    for (size_t i = n; i-- > 0;)
        if (mods[i].base == base && mods[i].lo == lo && mods[i].hi == hi)
            return 1;
    return 0;
}

static void read_build_id(struct module *m, const struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const void *)p;
            size_t name = (nh->n_namesz + 3) & ~3u, desc = (nh->n_descsz + 3) & ~3u;
            const char *np = p + sizeof *nh, *dp = np + name;
            if (dp + desc > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(np, "GNU", 4) &&
                nh->n_descsz <= sizeof m->build_id) {
                memcpy(m->build_id, dp, nh->n_descsz);
                m->build_id_len = (int)nh->n_descsz;
                return;
            }
            p = dp + desc;
        }
    }
}

/* The address range of a loaded object's PT_LOAD segments ([lo, hi);
 * hi is 0 when it has none). */
void pp_module_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi)
{
    *lo = UINTPTR_MAX;
    *hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < *lo)
            *lo = a;
        if (a + ph->p_memsz > *hi)
            *hi = a + ph->p_memsz;
    }
}

/* the loader's counts of objects loaded and unloaded, at the last refresh:
 * while they stand still the list cannot have changed */
static unsigned long long seen_adds, seen_subs;
static int seen_any;

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
    int *first = arg;
    if (*first) {
        *first = 0;
        if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
            if (seen_any && info->dlpi_adds == seen_adds && info->dlpi_subs == seen_subs)
                return 1;                        /* nothing came or went */
            seen_adds = info->dlpi_adds;
            seen_subs = info->dlpi_subs;
            seen_any = 1;
        }
    }
    uintptr_t lo, hi;
    pp_module_range(info, &lo, &hi);
    if (hi == 0 || known(info->dlpi_addr, lo, hi))
        return 0;
    size_t i = atomic_load_explicit(&n_mods, memory_order_relaxed);
    if (i >= MAX_MODULES)
        return 1;
    struct module *m = &mods[i];
    memset(m, 0, sizeof *m);
    m->base = info->dlpi_addr;
    m->lo = lo;
    m->hi = hi;
    for (int k = 0; k < info->dlpi_phnum && m->nranges < MAX_RANGES; k++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
        if (ph->p_type != PT_LOAD)
            continue;
        m->range[m->nranges][0] = info->dlpi_addr + ph->p_vaddr;
        m->range[m->nranges][1] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        m->nranges++;
    }
    const char *name = info->dlpi_name;
    if (!name || !*name)
        name = i == 0 ? exe_path : "";
    size_t len = strnlen(name, 4095);
    if (paths_used + len + 1 <= PATH_ARENA) {
        memcpy(paths + paths_used, name, len);
        paths[paths_used + len] = 0;
        m->path_off = (uint32_t)paths_used;
        m->path_len = (uint32_t)len;
        paths_used += len + 1;
    }
    read_build_id(m, info);
    atomic_store_explicit(&n_mods, i + 1, memory_order_release);
    return 0;
}

void pp_modules_refresh(void)
{
    if (!mods || atomic_flag_test_and_set_explicit(&busy, memory_order_acquire))
        return;
    int first = 1;
    dl_iterate_phdr(add_module, &first);
    atomic_flag_clear_explicit(&busy, memory_order_release);
}

int pp_modules_find(uintptr_t addr)
{
    size_t n = atomic_load_explicit(&n_mods, memory_order_acquire);
    for (size_t i = n; i-- > 0;)
        if (addr >= mods[i].lo && addr < mods[i].hi)
            return (int)i;
    return -1;
}

void pp_modules_init(void)
{
    ssize_t n = readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[n > 0 ? n : 0] = 0;
    mods = pp_os_map(MAX_MODULES * sizeof *mods);
    paths = pp_os_map(PATH_ARENA);
    if (!mods || !paths) {
        mods = NULL;
        return;
    }
    pp_modules_refresh();
}

size_t pp_modules_count(void)
{
    return mods ? atomic_load_explicit(&n_mods, memory_order_acquire) : 0;
}

int pp_modules_claim(size_t i, struct pp_module_info *out)
{
    struct module *m = &mods[i];
    if (atomic_exchange(&m->written, 1))
        return 0;
    out->path = paths + m->path_off;
    out->path_len = m->path_len;
    out->build_id = m->build_id;
    out->build_id_len = m->build_id_len;
    out->base = m->base;
    out->nranges = m->nranges;
    out->range = (const uintptr_t (*)[2])m->range;
    return 1;
}

/* a forked child writes its own image: every module again */
void pp_modules_after_fork_child(void)
{
    size_t n = mods ? atomic_load(&n_mods) : 0;
    for (size_t i = 0; i < n; i++)
        atomic_store(&mods[i].written, 0);
    atomic_flag_clear(&busy);
}
