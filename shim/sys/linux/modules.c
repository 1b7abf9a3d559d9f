/*
 * modules.c - the loaded modules as Linux's loader knows them, for the
 * shim's list of modules (sys/modules.c).
 *
 * A module is what dl_iterate_phdr reports: a path, a load bias and its
 * PT_LOAD segments; the GNU build id is read from its PT_NOTE segments in
 * memory.  A walk stops at once when the loader's counts of objects loaded
 * and unloaded have not moved since the last one.  dl_iterate_phdr lists
 * its caller's link namespace only: the namespaces the shim made (hooks/
 * namespace.c) are walked through their own object's dl_iterate_phdr.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <elf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

static char exe_path[4096];

static _Atomic(pp_ns_walk_fn) ns_walks[PP_NS_WALKS];
static _Atomic int ns_new;             /* a namespace came: walk it whole */

void pp_modules_namespace(int slot, pp_ns_walk_fn walk)
{
    if (slot < 0 || slot >= PP_NS_WALKS)
        return;
    atomic_store(&ns_walks[slot], walk);
    if (walk)
        atomic_store(&ns_new, 1);
}

/* CB(ARG) over the objects of each namespace the shim made, through their
 * own walks (the base libc's lists its caller's namespace only); the
 * caller holds the loader walk's try-lock, which keeps each one there */
static void each_namespace(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg)
{
    for (int k = 0; k < PP_NS_WALKS; k++) {
        pp_ns_walk_fn walk = atomic_load(&ns_walks[k]);
        if (walk)
            walk(cb, arg);
    }
}

static int read_build_id(uint8_t *out, size_t cap, const struct dl_phdr_info *info)
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
                nh->n_descsz <= cap) {
                memcpy(out, dp, nh->n_descsz);
                return (int)nh->n_descsz;
            }
            p = dp + desc;
        }
    }
    return 0;
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

/* an object opened by a descriptor's name that holds no code: the shim's
 * own for a namespace (hooks/nsstub.c, its name then made "[pp-ns-...]");
 * nothing to name, and its name would be another file's once the
 * descriptor is closed */
static int no_code_by_fd(const struct dl_phdr_info *info)
{
    static const char by_fd[] = "/proc/", ours[] = "[pp-ns-";
    if (!info->dlpi_name || (strncmp(info->dlpi_name, by_fd, sizeof by_fd - 1) != 0 &&
                             strncmp(info->dlpi_name, ours, sizeof ours - 1) != 0))
        return 0;
    for (int k = 0; k < info->dlpi_phnum; k++)
        if (info->dlpi_phdr[k].p_type == PT_LOAD && (info->dlpi_phdr[k].p_flags & PF_X))
            return 0;
    return 1;
}

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
    if (no_code_by_fd(info))
        return 0;
    struct pp_module_info m;
    uintptr_t range[PP_MODULE_RANGES][2];
    uint8_t id[32];
    memset(&m, 0, sizeof m);
    m.base = info->dlpi_addr;
    for (int k = 0; k < info->dlpi_phnum && m.nranges < PP_MODULE_RANGES; k++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[k];
        if (ph->p_type != PT_LOAD)
            continue;
        range[m.nranges][0] = info->dlpi_addr + ph->p_vaddr;
        range[m.nranges][1] = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
        m.nranges++;
    }
    m.range = (const uintptr_t (*)[2])range;
    const char *name = info->dlpi_name;
    if (!name || !*name)
        name = pp_modules_count() == 0 ? exe_path : "";
    m.path = name;
    m.path_len = strnlen(name, 4095);
    m.build_id = id;
    m.build_id_len = read_build_id(id, sizeof id, info);
    return pp_module_add(&m);
}

/* The loader's own word for its lists (r_debug, read by debuggers): RT_ADD
 * or RT_DELETE while a dlopen or dlclose is under way, RT_CONSISTENT
 * between them.  Each link namespace has its own: from glibc 2.35 on,
 * r_version 2 says the base namespace's links the others' (r_next, as in
 * <link.h>'s struct r_debug_extended; the loader never takes one off the
 * chain, and they live in its own data).  A dlmopen into another namespace
 * leaves the base namespace's RT_CONSISTENT throughout.  Read without a
 * lock; a stale answer only defers a look. */
struct debug_chain {
    struct r_debug base;
    struct debug_chain *next;           /* with r_version 2 */
};

int pp_modules_settled(void)
{
    const struct debug_chain *r = (const struct debug_chain *)(void *)&_r_debug;
    int chained = __atomic_load_n(&_r_debug.r_version, __ATOMIC_ACQUIRE) >= 2;
    for (int k = 0; r && k < 64; k++) {
        if (__atomic_load_n(&r->base.r_state, __ATOMIC_ACQUIRE) != RT_CONSISTENT)
            return 0;
        r = chained ? __atomic_load_n(&r->next, __ATOMIC_ACQUIRE) : NULL;
    }
    return 1;
}

/* An object that a dlopen mapped can be unmapped again with no dlclose
 * (the dlopen fails in relocation, after the loader already said its list
 * was consistent); glibc unmaps under the lock dl_iterate_phdr holds, so
 * what is read inside the walk's callback stays mapped while it is read. */
struct while_loaded {
    uintptr_t base;
    void (*fn)(void *arg);
    void *arg;
    int ran;
};

static int run_while_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct while_loaded *w = arg;
    (void)size;
    if (w->ran || (uintptr_t)info->dlpi_addr != w->base)
        return w->ran;                  /* found in a namespace walked before */
    w->fn(w->arg);
    w->ran = 1;
    return 1;
}

int pp_modules_while_loaded(size_t i, void (*fn)(void *arg), void *arg)
{
    struct while_loaded w = {pp_modules_base(i), fn, arg, 0};
    if (!w.base || !pp_single_may_lock() || !pp_loader_walk_try())
        return -1;
    dl_iterate_phdr(run_while_loaded, &w);
    if (!w.ran)
        each_namespace(run_while_loaded, &w);
    pp_loader_walk_done();
    return w.ran;
}

/* dl_iterate_phdr holds the loader's lock, a pthread mutex, for the walk:
 * not on the sampler thread while glibc frees it without a wake
 * (single.c).  The program's threads refresh the list themselves when a
 * stack has a frame in a module it lacks (sites.c), and at each probe. */
void pp_modules_scan(void)
{
    if (!pp_single_may_lock())
        return;
    if (!exe_path[0])
        pp_os_exe(exe_path, sizeof exe_path);
    int first = 1;
    unsigned long long adds = seen_adds, subs = seen_subs;
    int any = seen_any;
    dl_iterate_phdr(add_module, &first);
    /* the loader's counts are the whole process's: unmoved, no namespace
     * changed either */
    if (any && adds == seen_adds && subs == seen_subs && !atomic_exchange(&ns_new, 0))
        return;
    int rest = 0;                       /* no first entry's counts there */
    each_namespace(add_module, &rest);
}

/* ---- a symbol of a loaded module, from its dynamic symbol table ------------
 * Read in memory, without the loader (whose look-ups take its locks and
 * allocate): the ELF header at the load bias, PT_DYNAMIC, and the GNU hash
 * table (or the SysV one's symbol count, scanned in order). */

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static int sym_match(const ElfW(Sym) *sym, const char *strtab, const char *name)
{
    return sym->st_shndx != SHN_UNDEF && sym->st_value && !strcmp(strtab + sym->st_name, name);
}

/* NAME in the dynamic section DYN of the object at BIAS: 0; -1 when it has
 * no such symbol, -2 when it has no table to look in */
static int dyn_symbol(uintptr_t bias, const ElfW(Dyn) *dyn, const char *name, uintptr_t *addr,
                      size_t *size)
{
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const uint32_t *gnu = NULL, *sysv = NULL;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        uintptr_t v = d->d_un.d_ptr < bias ? bias + d->d_un.d_ptr : d->d_un.d_ptr;
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)v; break;
        case DT_STRTAB: strtab = (const char *)v; break;
        case DT_GNU_HASH: gnu = (const uint32_t *)v; break;
        case DT_HASH: sysv = (const uint32_t *)v; break;
        }
    }
    if (!symtab || !strtab || (!gnu && !sysv))
        return -2;
    const ElfW(Sym) *hit = NULL;
    if (gnu) {
        uint32_t nb = gnu[0], off = gnu[1], nbloom = gnu[2];
        const uint32_t *buckets = (const uint32_t *)((const ElfW(Addr) *)(gnu + 4) + nbloom);
        const uint32_t *chain = buckets + nb;
        uint32_t h = gnu_hash(name);
        uint32_t i = nb ? buckets[h % nb] : 0;
        if (i >= off)
            for (;; i++) {
                uint32_t h2 = chain[i - off];
                if ((h | 1) == (h2 | 1) && sym_match(&symtab[i], strtab, name)) {
                    hit = &symtab[i];
                    break;
                }
                if (h2 & 1)
                    break;
            }
    } else {
        for (uint32_t i = 0; i < sysv[1] && !hit; i++)
            if (sym_match(&symtab[i], strtab, name))
                hit = &symtab[i];
    }
    if (!hit)
        return -1;
    *addr = bias + hit->st_value;
    if (size)
        *size = hit->st_size;
    return 0;
}

static int elf_symbol(uintptr_t bias, const char *name, uintptr_t *addr, size_t *size)
{
    const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)bias;
    if (!bias || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_phentsize != sizeof(ElfW(Phdr)))
        return -1;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(bias + eh->e_phoff);
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC)
            return dyn_symbol(bias, (const ElfW(Dyn) *)(bias + ph[i].p_vaddr), name, addr, size) == 0
                       ? 0
                       : -1;
    return -1;
}

/* Does an object the loader lists define NAME, other than the shim (which
 * defines mallocx, say, for the hooks)?  Any other: the list's order is
 * not the order dlsym(RTLD_NEXT) searches (a shim opened with dlopen is
 * listed last, and its next malloc is libc's all the same).  Each object's
 * table is found from its program headers (the executable's, at bias 0
 * when it is not position-independent, too); one without a table counts
 * as defining it. */
struct defined {
    const char *name;
    int found;
};

static int is_self(const struct dl_phdr_info *info)
{
    uintptr_t here = (uintptr_t)is_self;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && here - (info->dlpi_addr + ph->p_vaddr) < ph->p_memsz)
            return 1;
    }
    return 0;
}

static int defined_in(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct defined *d = arg;
    (void)size;
    if (is_self(info))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
            uintptr_t at;
            const ElfW(Dyn) *dyn =
                (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
            d->found = dyn_symbol(info->dlpi_addr, dyn, d->name, &at, NULL) != -1;
            break;
        }
    return d->found;
}

int pp_os_defined(const char *name)
{
    struct defined d = {name, 0};
    if (!pp_single_may_lock() || !pp_loader_walk_wait(50000000))
        return 1;                       /* cannot walk now: the loader decides */
    dl_iterate_phdr(defined_in, &d);
    pp_loader_walk_done();
    return d.found;
}

int pp_os_elf_symbol(uintptr_t bias, const char *name, uintptr_t *addr, size_t *size)
{
    return elf_symbol(bias, name, addr, size);
}

int pp_module_symbol(size_t i, const char *name, uintptr_t *addr, size_t *size)
{
    return elf_symbol(pp_modules_base(i), name, addr, size);
}

/* ---- writable segments, the leak check's roots ------------------------------- */

struct writable {
    void (*fn)(uintptr_t start, uintptr_t end, void *arg);
    void *arg;
};

static int each_writable(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct writable *w = arg;
    (void)size;
    /* not the shim's own data: what it remembers is no reference of the
     * program's */
    uintptr_t mine = (uintptr_t)&each_writable;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && mine >= a && mine < a + ph->p_memsz)
            return 0;
    }
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_W)) {
            uintptr_t a = info->dlpi_addr + ph->p_vaddr;
            w->fn(a, a + ph->p_memsz, w->arg);
        }
    }
    return 0;
}

void pp_modules_each_writable(void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg)
{
    struct writable w = {fn, arg};
    dl_iterate_phdr(each_writable, &w);
    /* the namespaces' objects too (their globals hold their blocks), while
     * none of them can go (the try-lock their closing takes) */
    int held = pp_loader_walk_wait(50000000);
    if (!held)
        return;
    each_namespace(each_writable, &w);
    pp_loader_walk_done();
}
