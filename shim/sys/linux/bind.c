/*
 * bind.c - pointing other objects' allocator references at the hooks.
 *
 * Interposition by LD_PRELOAD order is not always enough:
 *  - another allocator preloaded before the shim (jemalloc, tcmalloc,
 *    mimalloc) is the first definition of malloc, so the program and its
 *    libraries call it directly and the hooks see nothing;
 *  - a library opened with RTLD_DEEPBIND looks in its own dependencies
 *    first and calls libc's malloc directly;
 *  - __libc_malloc and friends are glibc's own names, never interposed.
 * For these, the GOT slots of each loaded object whose relocation names
 * one of the allocator functions are rewritten to the shim's hook (the
 * hooks then forward to the first definition: pp_resolve chooses it).
 * The other allocator's own references to mmap, munmap and mremap are
 * pointed at libc's, so that the memory it maps for its heap is not
 * counted as the program's mappings.  Run in the constructor and after
 * a dlopen (never inside a hook): it takes the loader's lock.
 *
 * It is the system layer's (ELF and the loader's own lists; sys.h): it
 * finds the hooks by name in the shim's own object, so neither the core
 * that calls it at start-up (allocator.c) nor the dlopen hook is named
 * here.  macOS needs no twin: dyld's __interpose table does this job.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* read by the dlopen hook (hooks/alloc.c): bind after each dlopen */
_Atomic int pp_bind_active __attribute__((visibility("hidden")));

/* which names go where: the shim's own definition of TO (or FROM) */
struct target {
    const char *from, *to;
    int libc_only;      /* glibc's internal names: only while glibc's is the allocator */
};

static const struct target targets[] = {
    {"malloc", 0, 0}, {"free", 0, 0}, {"calloc", 0, 0}, {"realloc", 0, 0},
    {"reallocarray", 0, 0}, {"posix_memalign", 0, 0}, {"aligned_alloc", 0, 0},
    {"memalign", 0, 0}, {"valloc", 0, 0}, {"pvalloc", 0, 0},
    {"malloc_usable_size", 0, 0},
    {"_Znwm", 0, 0}, {"_Znam", 0, 0}, {"_ZnwmRKSt9nothrow_t", 0, 0},
    {"_ZnamRKSt9nothrow_t", 0, 0}, {"_ZnwmSt11align_val_t", 0, 0},
    {"_ZnamSt11align_val_t", 0, 0}, {"_ZnwmSt11align_val_tRKSt9nothrow_t", 0, 0},
    {"_ZnamSt11align_val_tRKSt9nothrow_t", 0, 0},
    {"_ZdlPv", 0, 0}, {"_ZdaPv", 0, 0}, {"_ZdlPvm", 0, 0}, {"_ZdaPvm", 0, 0},
    {"_ZdlPvRKSt9nothrow_t", 0, 0}, {"_ZdaPvRKSt9nothrow_t", 0, 0},
    {"_ZdlPvSt11align_val_t", 0, 0}, {"_ZdaPvSt11align_val_t", 0, 0},
    {"_ZdlPvmSt11align_val_t", 0, 0}, {"_ZdaPvmSt11align_val_t", 0, 0},
    {"_ZdlPvSt11align_val_tRKSt9nothrow_t", 0, 0},
    {"_ZdaPvSt11align_val_tRKSt9nothrow_t", 0, 0},
    /* jemalloc's own API (a program linked with -ljemalloc, jemalloc
     * preloaded first) and C23's frees */
    {"mallocx", 0, 0}, {"rallocx", 0, 0}, {"xallocx", 0, 0}, {"dallocx", 0, 0},
    {"sdallocx", 0, 0}, {"free_sized", 0, 0}, {"free_aligned_sized", 0, 0},
    {"__libc_malloc", "malloc", 1}, {"__libc_free", "free", 1},
    {"__libc_calloc", "calloc", 1}, {"__libc_realloc", "realloc", 1},
    {"__libc_memalign", "memalign", 1}, {"__libc_valloc", "valloc", 1},
    {"__libc_pvalloc", "pvalloc", 1},
};
enum { N_TARGETS = sizeof targets / sizeof *targets };

static const char *const map_names[] = {"mmap", "mmap64", "munmap", "mremap"};
enum { N_MAP = sizeof map_names / sizeof *map_names };

static void *hook[N_TARGETS];
/* Names outside the standard family (jemalloc's API, C23's frees) are
 * bound only where their first definition is the allocator's own, and
 * only references to functions: a program may define a mallocx of its
 * own, or a data pointer of that name, as folly does */
static const char *const alloc_only_names[] = {"mallocx", "rallocx", "xallocx", "dallocx",
                                               "sdallocx", "free_sized", "free_aligned_sized"};
static int bindable[N_TARGETS];         /* 1: as any; 2: functions only; 0: not */
static void *libc_map[N_MAP];
static uintptr_t self_base, alloc_base;
static int foreign, ready, all_names;

struct walk {
    int patched;        /* slots now pointing at a hook for malloc */
};

static int find(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

/* The targets by a hash of their names: every relocation of every object
 * is looked up, nearly all of them names of no interest (a program's
 * start-up spent more in comparing them than in the rest of the walk). */
enum { SLOTS = 128 };                   /* a power of two, over 2 * N_TARGETS */
static struct { uint32_t hash; signed char target; } slots[SLOTS];
_Static_assert(2 * N_TARGETS < SLOTS, "the hash of targets needs room");

static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void index_targets(void)
{
    for (int i = 0; i < SLOTS; i++)
        slots[i].target = -1;
    for (int i = 0; i < N_TARGETS; i++) {
        uint32_t h = name_hash(targets[i].from), k = h;
        while (slots[k % SLOTS].target >= 0)
            k++;
        slots[k % SLOTS].hash = h;
        slots[k % SLOTS].target = (signed char)i;
    }
}

static int find_target(const char *name)
{
    uint32_t h = name_hash(name);
    for (uint32_t k = h; slots[k % SLOTS].target >= 0; k++)
        if (slots[k % SLOTS].hash == h && strcmp(name, targets[slots[k % SLOTS].target].from) == 0)
            return slots[k % SLOTS].target;
    return -1;
}

static void write_slot(void **slot, void *value, uintptr_t relro_lo, uintptr_t relro_hi)
{
    if (*slot == value)
        return;
    uintptr_t a = (uintptr_t)slot;
    if (a >= relro_lo && a < relro_hi) {
        uintptr_t page = a & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
        if (mprotect((void *)page, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE))
            return;
        *slot = value;
        mprotect((void *)page, (size_t)sysconf(_SC_PAGESIZE), PROT_READ);
        return;
    }
    *slot = value;
}

/* the dynamic section's addresses are relocated by the loader, except in
 * objects it did not relocate (the vDSO) */
static uintptr_t dyn_addr(const struct dl_phdr_info *info, ElfW(Addr) v)
{
    return v < info->dlpi_addr ? info->dlpi_addr + v : v;
}

static void patch_relocs(const struct dl_phdr_info *info, const ElfW(Rela) *r, size_t bytes,
                         const ElfW(Sym) *symtab, const char *strtab, int is_alloc,
                         uintptr_t relro_lo, uintptr_t relro_hi, struct walk *w)
{
    for (size_t i = 0; i < bytes / sizeof *r; i++) {
        unsigned long type = ELF64_R_TYPE(r[i].r_info);
#if defined(__x86_64__)
        if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
            continue;
#elif defined(__aarch64__)
        if (type != R_AARCH64_JUMP_SLOT && type != R_AARCH64_GLOB_DAT)
            continue;
#else
        continue;
#endif
        const char *name = strtab + symtab[ELF64_R_SYM(r[i].r_info)].st_name;
        void **slot = (void **)(info->dlpi_addr + r[i].r_offset);
        if (is_alloc) {
            int m = find(name, map_names, N_MAP);
            if (m >= 0 && libc_map[m])
                write_slot(slot, libc_map[m], relro_lo, relro_hi);
            continue;
        }
        int t = find_target(name);
        if (t < 0 || !hook[t] || (targets[t].libc_only && foreign) ||
            (!targets[t].libc_only && !all_names))
            continue;
        if (!bindable[t] || (bindable[t] == 2 && ELF64_ST_TYPE(symtab[ELF64_R_SYM(
                                                     r[i].r_info)].st_info) == STT_OBJECT))
            continue;
        write_slot(slot, hook[t], relro_lo, relro_hi);
        if (t == 0 && *slot == hook[t])
            w->patched++;
    }
}

static int bind_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct walk *w = arg;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (info->dlpi_addr == self_base || strstr(name, "/ld-linux") || strstr(name, "linux-vdso"))
        return 0;
    int is_alloc = info->dlpi_addr == alloc_base;
    if (is_alloc && !foreign)
        return 0;           /* glibc's own references already reach the hooks */
    const ElfW(Dyn) *dyn = NULL;
    uintptr_t relro_lo = 0, relro_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_DYNAMIC)
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
        else if (ph->p_type == PT_GNU_RELRO) {
            relro_lo = info->dlpi_addr + ph->p_vaddr;
            relro_hi = relro_lo + ph->p_memsz;
        }
    }
    if (!dyn)
        return 0;
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    const ElfW(Rela) *jmprel = NULL, *rela = NULL;
    size_t jmpsz = 0, relasz = 0;
    int pltrel_rela = 1;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: symtab = (const ElfW(Sym) *)dyn_addr(info, d->d_un.d_ptr); break;
        case DT_STRTAB: strtab = (const char *)dyn_addr(info, d->d_un.d_ptr); break;
        case DT_JMPREL: jmprel = (const ElfW(Rela) *)dyn_addr(info, d->d_un.d_ptr); break;
        case DT_PLTRELSZ: jmpsz = d->d_un.d_val; break;
        case DT_RELA: rela = (const ElfW(Rela) *)dyn_addr(info, d->d_un.d_ptr); break;
        case DT_RELASZ: relasz = d->d_un.d_val; break;
        case DT_PLTREL: pltrel_rela = d->d_un.d_val == DT_RELA; break;
        }
    }
    if (!symtab || !strtab)
        return 0;
    if (jmprel && pltrel_rela)
        patch_relocs(info, jmprel, jmpsz, symtab, strtab, is_alloc, relro_lo, relro_hi, w);
    if (rela)
        patch_relocs(info, rela, relasz, symtab, strtab, is_alloc, relro_lo, relro_hi, w);
    return 0;
}

/* the load address of the object FN is in (as bind_object compares
 * dlpi_addr), with its name when NAME is given; 0 when none */
static uintptr_t base_of(void *fn, const char **name)
{
    uintptr_t base = 0;
    if (name)
        *name = NULL;
    pp_real_object_of(fn, &base, name);
    return base;
}

/* ALLOC_FN: the allocator's malloc; FOREIGN_: it is not glibc's; ALL: the
 * standard names too (else only glibc's __libc_* names: with the shim first
 * the loader already gave the others to the hooks).  Returns the number of
 * GOT slots for malloc that now reach the hook. */
int pp_bind_all(void *alloc_fn, int foreign_, int all)
{
    if (!ready) {
        const char *self_name;
        self_base = base_of((void *)pp_bind_all, &self_name);
        if (!self_name || !*self_name)
            return 0;
        void *self = dlopen(self_name, RTLD_NOW | RTLD_NOLOAD);
        if (!self)
            return 0;
        for (int i = 0; i < N_TARGETS; i++)
            if (base_of(hook[i] = dlsym(self, targets[i].to ? targets[i].to : targets[i].from),
                        NULL) != self_base)
                hook[i] = NULL;       /* not the shim's own (a dependency's) */
        pp_real_dlclose(self);
        index_targets();
        for (int i = 0; i < N_MAP; i++)
            libc_map[i] = pp_real_next(map_names[i]);
        pp_dl_forget();               /* a name not found, if any */
        ready = 1;
    }
    foreign = foreign_;
    all_names = all || foreign_;
    /* both walks (the allocator's object, then every object) under the
     * loader walk's try-lock, which a fork waits for (modules.c): a scan
     * under way is waited for, 50 ms at most, as a fork waits */
    void *first[N_TARGETS] = {0};
    int only[N_TARGETS];
    for (int i = 0; i < N_TARGETS; i++) {
        only[i] = find(targets[i].from, alloc_only_names,
                       (int)(sizeof alloc_only_names / sizeof *alloc_only_names)) >= 0;
        if (only[i])                    /* before the lock: the look takes it too */
            first[i] = pp_real_global(targets[i].from);
    }
    int held = pp_loader_walk_wait(50000000);
    alloc_base = base_of(alloc_fn, NULL);
    for (int i = 0; i < N_TARGETS; i++)
        bindable[i] = !only[i]                                                       ? 1
                      : first[i] && alloc_base && base_of(first[i], NULL) == alloc_base ? 2
                                                                                         : 0;
    struct walk w = {0};
    dl_iterate_phdr(bind_object, &w);
    if (held)
        pp_loader_walk_done();
    atomic_store(&pp_bind_active, foreign_);
    return w.patched;
}
