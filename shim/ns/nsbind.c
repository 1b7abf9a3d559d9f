/*
 * nsbind.c - the namespace object's names bound to what the library's own
 * references would find bare.
 *
 * A namespace's global scope is the scope of its first object: bare, the
 * library's (the library, then its dependencies breadth first, libc among
 * them); with the shim, its namespace object alone.  So each of the
 * object's names must call the first definition in the library's scope:
 * an allocator of the library's own (linked in, or a dependency such as
 * tcmalloc), a definition of mmap or exit of its own.  The loader's own
 * list of that scope is private to it, so it is rebuilt here from what the
 * loader lists to dl_iterate_phdr: each object's DT_NEEDED, breadth first,
 * matched to the objects of the namespace as the loader matched them
 * (DT_SONAME, the name it was loaded by, $ORIGIN expanded), and each name
 * looked up in their symbol tables (DT_GNU_HASH or DT_HASH) with the
 * loader's rules for what a definition is.  Definitions versioned other
 * than GLIBC_* are passed over: libc's own references (strdup's malloc)
 * ask for a GLIBC_ version, which such a definition does not satisfy.
 *
 * Two threads may bind at once (nsshim.c): each works on a scope of its
 * own (a static one, or pages mapped for it), and no lock is taken but the
 * loader's own, for its list, by dl_iterate_phdr (never the one it holds
 * while it runs constructors).  Links nothing, as nsshim.c: its system
 * calls are made with the instruction itself (ns_sys).
 */
#define _GNU_SOURCE
#include "ns/nsbind.h"

#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#define MAX_OBJ 1024
#define NAME_MAX_ 4096

struct obj {
    uintptr_t base, lo, hi;             /* lo, hi: its loaded segments */
    const char *name;
    const ElfW(Dyn) *dyn;
    int dyn_moved;                      /* the loader added base to its entries */
    const ElfW(Phdr) *phdr;
    int phnum;
};

/* the namespace's objects, and room to work on them: static, not on the
 * stack of a hook whose thread may have a small one (16 KiB) */
struct scope {
    struct obj o[MAX_OBJ];
    int n, too_many;
    int order[MAX_OBJ];
    unsigned char seen[MAX_OBJ];
    char name[NAME_MAX_];
};
/* one for the hooks' binding, taken by one thread at a time; one for the
 * shim's calls, which its states for the namespace keep to one at a time */
static struct scope hook_scope, shim_scope;
static _Atomic int hook_busy;

/* what an object's dynamic section says */
struct dyn {
    const char *strtab, *soname;
    const ElfW(Sym) *symtab;
    const uint32_t *gnu, *sysv;
    const ElfW(Half) *versym;
    const ElfW(Verdef) *verdef;
    const ElfW(Verneed) *verneed;
};

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static int starts(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix)
        s++, prefix++;
    return !*prefix;
}

static int has_slash(const char *s)
{
    for (; *s; s++)
        if (*s == '/')
            return 1;
    return 0;
}

static const char *base_name(const char *s)
{
    const char *b = s;
    for (; *s; s++)
        if (*s == '/')
            b = s + 1;
    return b;
}

/* The address a dynamic entry's value V stands for.  glibc adds the load
 * base in place to the entries it uses most (MOVED: DT_STRTAB, DT_SYMTAB,
 * the hash tables, DT_VERSYM, DT_RELA, DT_JMPREL), unless the dynamic
 * section is read-only or the base is 0; never to the others (DT_VERDEF). */
static uintptr_t addr_of(const struct obj *o, uintptr_t v, int moved)
{
    return moved && o->dyn_moved ? v : o->base + v;
}

/* 1 when [P, P + N) lies inside one of O's loaded segments (what lies
 * between them may be mapped with no access) */
static int mapped(const struct obj *o, uintptr_t p, size_t n)
{
    for (int i = 0; i < o->phnum; i++) {
        const ElfW(Phdr) *ph = &o->phdr[i];
        uintptr_t lo = o->base + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && p >= lo && n <= ph->p_memsz && p - lo <= ph->p_memsz - n)
            return 1;
    }
    return 0;
}

static int dyn_of(const struct obj *o, struct dyn *d)
{
    *d = (struct dyn){0};
    uintptr_t soname = 0;
    int have_soname = 0;
    for (const ElfW(Dyn) *e = o->dyn; e && e->d_tag != DT_NULL; e++) {
        switch (e->d_tag) {
        case DT_STRTAB: d->strtab = (const char *)addr_of(o, e->d_un.d_ptr, 1); break;
        case DT_SYMTAB: d->symtab = (const ElfW(Sym) *)addr_of(o, e->d_un.d_ptr, 1); break;
        case DT_GNU_HASH: d->gnu = (const uint32_t *)addr_of(o, e->d_un.d_ptr, 1); break;
        case DT_HASH: d->sysv = (const uint32_t *)addr_of(o, e->d_un.d_ptr, 1); break;
        case DT_VERSYM: d->versym = (const ElfW(Half) *)addr_of(o, e->d_un.d_ptr, 1); break;
        case DT_VERDEF: d->verdef = (const ElfW(Verdef) *)addr_of(o, e->d_un.d_ptr, 0); break;
        case DT_VERNEED: d->verneed = (const ElfW(Verneed) *)addr_of(o, e->d_un.d_ptr, 0); break;
        case DT_SONAME: soname = e->d_un.d_val; have_soname = 1; break;
        default: break;
        }
    }
    if (!d->strtab || !d->symtab)
        return 0;
    if (have_soname)
        d->soname = d->strtab + soname;
    return 1;
}

static void obj_of(const struct dl_phdr_info *info, struct obj *o)
{
    *o = (struct obj){.base = info->dlpi_addr, .lo = UINTPTR_MAX,
                      .name = info->dlpi_name ? info->dlpi_name : "",
                      .phdr = info->dlpi_phdr, .phnum = info->dlpi_phnum};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_DYNAMIC) {
            o->dyn = (const ElfW(Dyn) *)lo;
            o->dyn_moved = info->dlpi_addr != 0 && (ph->p_flags & PF_W);
        }
        if (ph->p_type == PT_LOAD) {
            o->lo = lo < o->lo ? lo : o->lo;
            o->hi = lo + ph->p_memsz > o->hi ? lo + ph->p_memsz : o->hi;
        }
    }
}

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct scope *s = arg;
    if (s->n == MAX_OBJ) {
        s->too_many = 1;
        return 1;
    }
    obj_of(info, &s->o[s->n++]);
    return 0;
}

/* The table's address: weak, so that the reference is made when the
 * loader relocates this object (0 without a holder). */
extern const struct pp_ns_link *const pp_ns_pending __attribute__((weak));

const struct pp_ns_link *const *ns_pending(void)
{
    const struct pp_ns_link *const *at = &pp_ns_pending;
    __asm__("" : "+r"(at));             /* a weak name's address may be 0 */
    return at;
}

/* the namespace's objects in load order (dl_iterate_phdr lists the
 * namespace of its caller's return address: never a tail call) */
static void walk(const struct pp_ns_link *l, struct scope *s)
{
    s->n = s->too_many = 0;
    l->iterate(collect, s);
    __asm__ volatile("" ::: "memory");
}

static int holding(const struct scope *s, uintptr_t a)
{
    for (int k = 0; k < s->n; k++)
        if (a >= s->o[k].lo && a < s->o[k].hi)
            return k;
    return -1;
}

/* the name of version NDX in D's definitions, or NULL (the base entry,
 * the object's own name, names none: glibc matches no reference to it) */
static const char *version_name(const struct dyn *d, unsigned ndx)
{
    const ElfW(Verdef) *vd = d->verdef;
    for (int guard = 0; vd && guard < 4096; guard++) {
        if ((vd->vd_ndx & 0x7fff) == ndx && !(vd->vd_flags & VER_FLG_BASE)) {
            const ElfW(Verdaux) *a = (const ElfW(Verdaux) *)((const char *)vd + vd->vd_aux);
            return d->strtab + a->vda_name;
        }
        if (!vd->vd_next)
            break;
        vd = (const ElfW(Verdef) *)((const char *)vd + vd->vd_next);
    }
    return NULL;
}

/* what a reference asks for: for the binding (BINDING), a definition of
 * a GLIBC_ version or none; else the loader's match for one of VERSION
 * (NULL: none asked), of that version alone when HIDDEN */
struct ask {
    int binding;
    const char *version;
    int hidden;
};

/* 1 when symbol I of D is a definition of NAME that the reference A
 * finds (a thread variable's too, but for the binding) */
static int takes(const struct dyn *d, uint32_t i, const char *name, const struct ask *a)
{
    const ElfW(Sym) *sym = &d->symtab[i];
    int type = ELF64_ST_TYPE(sym->st_info), bind = ELF64_ST_BIND(sym->st_info);
    if (sym->st_shndx == SHN_UNDEF || (sym->st_value == 0 && type != STT_TLS) ||
        (type != STT_NOTYPE && type != STT_OBJECT && type != STT_FUNC && type != STT_COMMON &&
         type != STT_GNU_IFUNC && (a->binding || type != STT_TLS)) ||
        (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE) ||
        !same(d->strtab + sym->st_name, name))
        return 0;
    if (!d->versym)
        return 1;
    unsigned v = d->versym[i], ndx = v & 0x7fff;
    if (a->binding) {
        const char *vn = ndx >= 2 ? version_name(d, ndx) : NULL;
        return !(v & 0x8000) && (!vn || starts(vn, "GLIBC_"));
    }
    if (!a->version)
        return !(v & 0x8000);           /* the default version, or none */
    /* the version asked for; else one the object does not name (glibc:
     * its version's hash is 0), unless hidden on either side */
    const char *vn = version_name(d, ndx);
    if (vn && same(vn, a->version))
        return 1;
    return !vn && !a->hidden && !(v & 0x8000);
}

/* the index of NAME's definition in D's symbol table that A finds,
 * through D's hash table (its Bloom filter first); 0 when none */
static uint32_t find_def(const struct dyn *d, const char *name, const struct ask *a)
{
    if (d->gnu) {
        uint32_t h = 5381;
        for (const char *c = name; *c; c++)
            h = h * 33 + (unsigned char)*c;
        uint32_t nbuckets = d->gnu[0], symoffset = d->gnu[1], nbloom = d->gnu[2];
        uint32_t shift = d->gnu[3];
        const ElfW(Addr) *bloom = (const ElfW(Addr) *)(d->gnu + 4);
        const uint32_t *buckets = (const uint32_t *)(bloom + nbloom);
        const uint32_t *chain = buckets + nbuckets;
        const unsigned bits = 8 * sizeof(ElfW(Addr));
        if (!nbuckets)
            return 0;
        if (nbloom) {
            ElfW(Addr) word = bloom[(h / bits) % nbloom];
            ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> shift) % bits));
            if ((word & mask) != mask)
                return 0;
        }
        for (uint32_t i = buckets[h % nbuckets]; i >= symoffset; i++) {
            uint32_t c = chain[i - symoffset];
            if ((c | 1) == (h | 1) && takes(d, i, name, a))
                return i;
            if (c & 1)
                break;
        }
        return 0;
    }
    if (d->sysv) {
        uint32_t h = 0, nbucket = d->sysv[0];
        for (const char *c = name; *c; c++) {
            h = (h << 4) + (unsigned char)*c;
            uint32_t g = h & 0xf0000000u;
            h = (h ^ (g >> 24)) & ~g;
        }
        const uint32_t *bucket = d->sysv + 2, *chain = bucket + nbucket;
        for (uint32_t i = nbucket ? bucket[h % nbucket] : 0; i; i = chain[i])
            if (takes(d, i, name, a))
                return i;
    }
    return 0;
}

/* the address of O's definition of NAME, as the binding takes one (an
 * IFUNC's resolver called), or 0 */
static uintptr_t lookup(const struct obj *o, const char *name)
{
    static const struct ask binding = {.binding = 1};
    struct dyn d;
    uint32_t i = o->dyn && dyn_of(o, &d) ? find_def(&d, name, &binding) : 0;
    if (!i)
        return 0;
    uintptr_t a = o->base + d.symtab[i].st_value;
    if (ELF64_ST_TYPE(d.symtab[i].st_info) == STT_GNU_IFUNC)
        a = ((uintptr_t(*)(void))a)();
    return a;
}

/* WANT with $ORIGIN or ${ORIGIN} expanded to the directory of FROM, into
 * OUT; 0 when it has neither, or is too long */
static int expand_origin(const char *want, const char *from, char *out)
{
    const char *dir_end = from;
    for (const char *p = from; *p; p++)
        if (*p == '/')
            dir_end = p;
    size_t n = 0;
    int did = 0;
    for (const char *p = want; *p;) {
        int skip = starts(p, "${ORIGIN}") ? 9 : starts(p, "$ORIGIN") ? 7 : 0;
        if (skip) {
            for (const char *q = from; q < dir_end; q++)
                if (n < NAME_MAX_ - 1)
                    out[n++] = *q;
            p += skip;
            did = 1;
        } else if (n < NAME_MAX_ - 1) {
            out[n++] = *p++;
        } else {
            return 0;
        }
    }
    out[n] = 0;
    return did && n < NAME_MAX_ - 1;
}

/* the object of the namespace a DT_NEEDED name of FROM is, as the loader
 * matched it: a name with a slash (after $ORIGIN) by the name it was
 * loaded by; a bare one by its DT_SONAME, else by the last part of the
 * name it was found by, which the library (loaded by its path) is not;
 * -1 when none is */
static int needed(struct scope *s, const char *want, const struct obj *from, int library,
                  int self)
{
    if (expand_origin(want, from->name, s->name))
        want = s->name;
    for (int k = 0; k < s->n; k++) {
        struct dyn d;
        if (k == self)
            continue;
        if (has_slash(want) ? same(s->o[k].name, want)
                            : (s->o[k].dyn && dyn_of(&s->o[k], &d) && d.soname && same(d.soname, want)))
            return k;
    }
    if (has_slash(want))
        return -1;
    for (int k = 0; k < s->n; k++)
        if (k != self && k != library && same(base_name(s->o[k].name), want))
            return k;
    return -1;
}

/* ORDER's N objects, then every object they need, breadth first, as the
 * loader lists a scope (SEEN marks those in it); the new count */
static int closure(struct scope *s, int *order, int n, unsigned char *seen, int library,
                   int self)
{
    for (int q = 0; q < n; q++) {
        const struct obj *o = &s->o[order[q]];
        struct dyn d;
        if (!o->dyn || !dyn_of(o, &d))
            continue;
        for (const ElfW(Dyn) *e = o->dyn; e->d_tag != DT_NULL; e++) {
            int k = e->d_tag == DT_NEEDED ? needed(s, d.strtab + e->d_un.d_val, o, library, self) : -1;
            if (k >= 0 && !seen[k]) {
                seen[k] = 1;
                order[n++] = k;
            }
        }
    }
    return n;
}

/* ROOT's scope as the loader lists it: ROOT, then what it needs, breadth
 * first, into S->order (S->seen marks its objects); the count.  LIBRARY
 * and SELF as for needed(). */
static int scope_of(struct scope *s, int root, int library, int self)
{
    for (int k = 0; k < s->n; k++)
        s->seen[k] = 0;
    s->order[0] = root;
    s->seen[root] = 1;
    return closure(s, s->order, 1, s->seen, library, self);
}

void ns_fwd_base(struct fwd *f, const struct pp_ns_link *l)
{
    *f = (struct fwd){.c = l->base, .counted = ~0u, .bound = PP_NS_LIBC};
}

/* the namespace's libc: the object whose DT_SONAME is libc.so.6, or -1 */
static int libc_of(const struct scope *s)
{
    for (int k = 0; k < s->n; k++) {
        struct dyn d;
        if (s->o[k].dyn && dyn_of(&s->o[k], &d) && d.soname && same(d.soname, "libc.so.6"))
            return k;
    }
    return -1;
}

static void set_at(struct fwd *f, int i, uintptr_t a)
{
    static const size_t at[F_N] = {
#define F_AT(id, field, name) offsetof(struct fwd, c.field),
        PP_NS_CALLS(F_AT)
#undef F_AT
        offsetof(struct fwd, mmap), offsetof(struct fwd, mmap64),
        offsetof(struct fwd, munmap), offsetof(struct fwd, mremap),
        offsetof(struct fwd, iterate),
    };
    unsigned char *to = (unsigned char *)f + at[i];
    for (size_t k = 0; k < sizeof a; k++)
        to[k] = (unsigned char)(a >> (8 * k));
    f->from[i] = a;
}

static const char *const names[F_N] = {
#define F_NAME(id, field, name) name,
    PP_NS_CALLS(F_NAME)
#undef F_NAME
    "mmap", "mmap64", "munmap", "mremap", "dl_iterate_phdr",
};

static int bind_in(struct fwd *f, const struct pp_ns_link *l, struct scope *s);

long ns_sys(long nr, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* on the static scope; a thread that finds it taken (two threads binding
 * at once, rare) works on one of its own, in pages mapped for it (the
 * thread's stack may be 16 KiB): waiting could wait for a thread that
 * holds the loader's list lock this one's walk wants.  -1 when no pages
 * could be had. */
static int bind_on_pages(struct fwd *f, const struct pp_ns_link *l)
{
    long len = (long)((sizeof(struct scope) + 4095) & ~(size_t)4095);
    long p = ns_sys(SYS_mmap, 0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p < 0 && p > -4096)
        return -1;
    int rc = bind_in(f, l, (struct scope *)p);
    ns_sys(SYS_munmap, p, len, 0, 0, 0, 0);
    return rc;
}

int ns_fwd_bind(struct fwd *f, const struct pp_ns_link *l)
{
    int want = 0;
    ns_fwd_base(f, l);
    if (!atomic_compare_exchange_strong(&hook_busy, &want, 1))
        return bind_on_pages(f, l);
    int rc = bind_in(f, l, &hook_scope);
    atomic_store_explicit(&hook_busy, 0, memory_order_release);
    return rc;
}

/* The library is the object after this one: the namespace's first object
 * (hooks/nsstub.c) needs this object, then the library, and the loader
 * lists them in that order.  Its scope is the first object's, less the
 * first object (which defines none of these names) and this one. */
static int bind_in(struct fwd *f, const struct pp_ns_link *l, struct scope *s)
{
    walk(l, s);
    if (s->too_many)
        return 0;
    int self = holding(s, (uintptr_t)(void *)ns_fwd_bind), library = self + 1;
    if (self < 0 || library >= s->n)
        return 1;
    int *order = s->order, n = scope_of(s, library, library, self);
    int libc = libc_of(s), def[F_N];
    uintptr_t at[F_N];
    for (int i = 0; i < F_N; i++) {
        def[i] = -1;
        at[i] = 0;
        for (int q = 0; q < n && !at[i]; q++)
            if (order[q] != self && (at[i] = lookup(&s->o[order[q]], names[i])))
                def[i] = order[q];
    }
    int a = def[F_MALLOC];
    if (a < 0)
        return 1;                       /* no allocator here: the base's */
    /* counted when the allocator's family is whole (its free, calloc,
     * realloc and malloc_usable_size); one not libc's is the library's own,
     * whose mappings are not the program's */
    int whole = def[F_FREE] == a && def[F_CALLOC] == a && def[F_REALLOC] == a &&
                def[F_USABLE] == a;
    f->counted = 0;
    for (int i = 0; i < F_FAMILY; i++)
        if (whole && def[i] == a)
            f->counted |= 1u << i;
    f->own = a != libc;
    f->bound = !whole ? PP_NS_PASS : a == libc ? PP_NS_LIBC : PP_NS_OWN;
    for (int i = 0; i < F_N; i++) {
        if (def[i] < 0)
            continue;
        if (i >= F_MMAP && i <= F_MREMAP && def[i] == libc)
            at[i] = 0;                  /* libc's: the system call itself */
        set_at(f, i, at[i]);
        f->from[i] = at[i] ? at[i] : (uintptr_t)s->o[def[i]].lo;
    }
    return 1;
}

/* ---- the namespace looked at under the loader's lock ---- *
 * glibc unmaps an object, and frees its name, under the lock its
 * dl_iterate_phdr holds (recursively) while its callback runs: what is
 * below runs inside such a callback, so that every object walked stays
 * while it is read. */
struct locked {
    int (*fn)(const struct pp_ns_link *);
    const struct pp_ns_link *l;
    int rc;
};

static int run_locked(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size;
    struct locked *k = arg;
    k->rc = k->fn(k->l);
    return 1;
}

static int under_lock(const struct pp_ns_link *l, int (*fn)(const struct pp_ns_link *))
{
    struct locked k = {fn, l, 0};
    l->iterate(run_locked, &k);
    __asm__ volatile("" ::: "memory");  /* never a tail call (walk) */
    return k.rc;
}

/* the loader (or the vDSO): by its DT_SONAME */
static int is_loader(const struct obj *o)
{
    struct dyn d;
    return o->dyn && dyn_of(o, &d) && d.soname &&
           (same(d.soname, "ld-linux-x86-64.so.2") || starts(d.soname, "linux-vdso"));
}

/* ---- the objects bound into, held ---- */

#define MAX_HELD 8
static void *held[MAX_HELD];
static int nheld;

static uintptr_t held_at[MAX_HELD];     /* where each held object is */

void ns_hold(const struct fwd *f, const struct pp_ns_link *l)
{
    struct scope *s = &shim_scope;
    walk(l, s);
    if (s->too_many || nheld == MAX_HELD)
        return;
    int libc = libc_of(s);
    for (int i = 0; i < F_N && nheld < MAX_HELD; i++) {
        int k = f->from[i] ? holding(s, f->from[i]) : -1, dup = 0;
        if (k < 0 || k == libc)
            continue;
        for (int j = 0; j < nheld; j++)
            dup |= held_at[j] == s->o[k].lo;
        if (dup)
            continue;
        /* each object bound into, as the loader keeps an object another's
         * relocations bound into (its libc comes with it) */
        void *(*open_)(const char *, int) = (void *(*)(const char *, int))l->base.dlopen;
        void *h = open_(s->o[k].name, RTLD_NOW | RTLD_NOLOAD);
        __asm__ volatile("" ::: "memory");  /* a call from here: this namespace */
        if (h) {
            held_at[nheld] = s->o[k].lo;
            held[nheld++] = h;
        }
    }
}

static int only_held(const struct pp_ns_link *l)
{
    struct scope *s = &shim_scope;
    int *order = s->order, n = 0, self;
    unsigned char *in = s->seen;
    if (!nheld)
        return 0;
    walk(l, s);
    if (s->too_many)
        return 0;
    self = holding(s, (uintptr_t)(void *)ns_only_held);
    int table = holding(s, (uintptr_t)ns_pending());
    for (int k = 0; k < s->n; k++) {
        in[k] = k == self || k == table || !*s->o[k].name || has_slash(s->o[k].name) == 0;
        for (int j = 0; j < nheld; j++)
            if (s->o[k].lo == held_at[j] && !in[k]) {
                in[k] = 1;
                order[n++] = k;
            }
    }
    closure(s, order, n, in, -1, self);         /* what they need */
    for (int k = 0; k < s->n; k++)
        if (!in[k] && !is_loader(&s->o[k]))
            return 0;
    return 1;
}

int ns_only_held(const struct pp_ns_link *l)
{
    return under_lock(l, only_held);
}

void ns_self(const struct pp_ns_link *l, uintptr_t *lo, uintptr_t *hi, uintptr_t *base)
{
    struct scope *s = &shim_scope;
    walk(l, s);
    int self = holding(s, (uintptr_t)(void *)ns_self);
    *lo = self < 0 ? 0 : s->o[self].lo;
    *hi = self < 0 ? 0 : s->o[self].hi;
    *base = self < 0 ? 0 : s->o[self].base;
}

static int others(const struct pp_ns_link *l)
{
    struct scope *s = &shim_scope;
    walk(l, s);
    int self = holding(s, (uintptr_t)(void *)ns_others), table = holding(s, (uintptr_t)ns_pending());
    int n = 0;
    for (int k = 0; k < s->n; k++)
        n += k != self && k != table && *s->o[k].name && !is_loader(&s->o[k]);
    return n;
}

int ns_others(const struct pp_ns_link *l)
{
    return under_lock(l, others);
}

int ns_holds_library(const struct pp_ns_link *l)
{
    struct scope *s = &shim_scope;
    walk(l, s);
    int self = holding(s, (uintptr_t)(void *)ns_holds_library);
    if (s->too_many || self < 0 || self + 1 >= s->n)
        return 0;
    for (int j = 0; j < nheld; j++)
        if (held_at[j] == s->o[self + 1].lo)
            return 1;
    return 0;
}

/* the version O's reference through symbol SYM asks for (D: O's dynamic
 * section), into A: its DT_VERNEED entry named by its DT_VERSYM index */
static void asked(const struct obj *o, const struct dyn *d, uint32_t sym, struct ask *a)
{
    *a = (struct ask){0};
    unsigned ndx = d->versym ? d->versym[sym] & 0x7fff : 0;
    const ElfW(Verneed) *vn = d->verneed;
    for (int guard = 0; ndx >= 2 && vn && guard < 4096; guard++) {
        const ElfW(Vernaux) *x = (const ElfW(Vernaux) *)((const char *)vn + vn->vn_aux);
        for (unsigned k = 0; k < vn->vn_cnt && mapped(o, (uintptr_t)x, sizeof *x); k++) {
            if ((x->vna_other & 0x7fff) == ndx) {
                a->version = d->strtab + x->vna_name;
                a->hidden = (x->vna_other & 0x8000) != 0;
                return;
            }
            x = (const ElfW(Vernaux) *)((const char *)x + x->vna_next);
        }
        if (!vn->vn_next)
            break;
        vn = (const ElfW(Verneed) *)((const char *)vn + vn->vn_next);
    }
}

/* Whether O has a reference the loader bound, or will bind, into the
 * library (LIB: its dynamic section): a relocation that names a symbol
 * the library defines, of the version asked for.  Bare, the namespace's
 * global scope is the library's, so such a reference is bound there, and
 * the loader keeps the library for O (in O's private l_reldeps) when it is
 * not among O's own needs.  USER_NOW: one is bound; USER_LATER: none yet,
 * but a lazy slot not called yet (it still points into O) names one;
 * USER_NEVER: neither.  A symbol O defines and the loader binds to O
 * alone (local, hidden, protected) is no reference. */
enum { USER_NEVER, USER_NOW, USER_LATER };

static int refers_to(const struct obj *o, const struct dyn *lib)
{
    struct dyn d;
    uintptr_t rela[2] = {0, 0}, size[2] = {0, 0};
    int later = 0;
    if (!dyn_of(o, &d))
        return USER_NEVER;
    for (const ElfW(Dyn) *e = o->dyn; e->d_tag != DT_NULL; e++) {
        if (e->d_tag == DT_RELA)
            rela[0] = e->d_un.d_ptr ? addr_of(o, e->d_un.d_ptr, 1) : 0;
        else if (e->d_tag == DT_RELASZ)
            size[0] = e->d_un.d_val;
        else if (e->d_tag == DT_JMPREL)
            rela[1] = addr_of(o, e->d_un.d_ptr, 1);
        else if (e->d_tag == DT_PLTRELSZ)
            size[1] = e->d_un.d_val;
    }
    for (int t = 0; t < 2; t++) {
        const ElfW(Rela) *r = (const ElfW(Rela) *)rela[t];
        if (!r || !mapped(o, rela[t], size[t]))
            continue;
        for (size_t i = 0; i < size[t] / sizeof *r; i++) {
            uint32_t sym = ELF64_R_SYM(r[i].r_info);
            uintptr_t at = o->base + r[i].r_offset;
            const ElfW(Sym) *y = &d.symtab[sym];
            if (!sym || !mapped(o, (uintptr_t)y, sizeof *y) ||
                ELF64_ST_BIND(y->st_info) == STB_LOCAL ||
                (y->st_shndx != SHN_UNDEF && ELF64_ST_VISIBILITY(y->st_other) != STV_DEFAULT))
                continue;
            const char *name = d.strtab + y->st_name;
            struct ask a;
            asked(o, &d, sym, &a);
            if (!mapped(o, (uintptr_t)name, 1) || !find_def(lib, name, &a))
                continue;
            if (ELF64_R_TYPE(r[i].r_info) != R_X86_64_JUMP_SLOT)
                return USER_NOW;
            if (!mapped(o, at, sizeof(uintptr_t)))
                continue;
            uintptr_t v = *(const uintptr_t *)at;
            if (v < o->lo || v >= o->hi)
                return USER_NOW;
            later = 1;
        }
    }
    return later ? USER_LATER : USER_NEVER;
}

/* 1 when the DT_NEEDED name WANT of FROM is the library (L, at index
 * LIBRARY of S; D: its dynamic section), as the loader matched it: with a
 * slash (after $ORIGIN), by the name L was loaded by; bare, by L's
 * DT_SONAME, or by the last part of the name it was loaded by when no
 * other object answers to WANT (the loader found another file by it) */
static int names_library(struct scope *s, const char *want, const struct obj *from,
                         int library, const struct dyn *d)
{
    const struct obj *l = &s->o[library];
    if (expand_origin(want, from->name, s->name))
        want = s->name;
    if (has_slash(want))
        return same(l->name, want);
    if (d->soname)
        return same(d->soname, want);
    if (!same(base_name(l->name), want))
        return 0;
    for (int k = 0; k < s->n; k++) {
        struct dyn e;
        if (k != library && &s->o[k] != from &&
            (same(base_name(s->o[k].name), want) ||
             (s->o[k].dyn && dyn_of(&s->o[k], &e) && e.soname && same(e.soname, want))))
            return 0;
    }
    return 1;
}

/* What was found at earlier looks, for the library they were made for:
 * the object last found using it (it stays a user while it is loaded:
 * what it needs and what the loader bound do not change), and the
 * objects found to use it neither now nor later (USER_NEVER), by where
 * they are; so that a look at each later dlclose reads only what is new. */
static uintptr_t looked_for;
static struct {
    uintptr_t lo, hi;
    const void *dyn;
} user, never[MAX_OBJ];
static int nnever;

static int same_obj(const struct obj *o, uintptr_t lo, uintptr_t hi, const void *dyn)
{
    return o->lo == lo && o->hi == hi && (const void *)o->dyn == dyn;
}

static int uses_library(struct scope *s, int k, int library, const struct dyn *ld)
{
    const struct obj *o = &s->o[k];
    struct dyn d;
    if (!o->dyn || !dyn_of(o, &d))
        return USER_NEVER;
    for (const ElfW(Dyn) *e = o->dyn; e->d_tag != DT_NULL; e++)
        if (e->d_tag == DT_NEEDED && names_library(s, d.strtab + e->d_un.d_val, o, library, ld))
            return USER_NOW;
    return refers_to(o, ld);
}

static int library_needed(const struct pp_ns_link *l)
{
    struct scope *s = &shim_scope;
    walk(l, s);
    int self = holding(s, (uintptr_t)(void *)ns_library_needed), library = self + 1;
    struct dyn ld;
    if (s->too_many)
        return 1;                       /* cannot say: kept */
    if (self < 0 || library >= s->n || !s->o[library].dyn || !dyn_of(&s->o[library], &ld))
        return 0;
    if (looked_for != s->o[library].lo) {
        looked_for = s->o[library].lo;
        nnever = 0;
        user.lo = user.hi = 0;
    }
    /* the first object's scope: it, and what it needs, breadth first */
    scope_of(s, 0, -1, -1);
    for (int k = 0; k < s->n; k++)
        if (!s->seen[k] && same_obj(&s->o[k], user.lo, user.hi, user.dyn))
            return 1;
    for (int k = 0; k < s->n; k++) {
        const struct obj *o = &s->o[k];
        int known = 0;
        if (s->seen[k] || k == self || !*o->name)
            continue;
        for (int j = 0; j < nnever && !known; j++)
            known = same_obj(o, never[j].lo, never[j].hi, never[j].dyn);
        if (known)
            continue;
        int use = uses_library(s, k, library, &ld);
        if (use == USER_NOW) {
            user.lo = o->lo, user.hi = o->hi, user.dyn = o->dyn;
            return 1;
        }
        if (use == USER_NEVER) {
            if (nnever == MAX_OBJ)
                nnever = 0;             /* full of objects since gone: afresh */
            never[nnever].lo = o->lo, never[nnever].hi = o->hi, never[nnever].dyn = o->dyn;
            nnever++;
        }
    }
    return 0;
}

int ns_library_needed(const struct pp_ns_link *l)
{
    return under_lock(l, library_needed);
}

void ns_release(const struct pp_ns_link *l)
{
    while (nheld > 0)
        l->unload(held[--nheld]);
}
