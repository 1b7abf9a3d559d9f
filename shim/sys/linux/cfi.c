/*
 * cfi.c - a stack walk from DWARF call-frame information, with the rule
 * of each return address remembered.
 *
 * libgcc's _Unwind_Backtrace costs over a thousand instructions a frame:
 * for every frame it finds the FDE, parses its CIE and runs the CFA
 * program from the start of the function.  A sampled allocation's stack
 * is mostly the same few return addresses again and again, so this walk
 * keeps, per return address, what that program computes for the x86-64
 * frames compilers emit: the CFA is %rsp or %rbp plus an offset, the
 * return address is at CFA-8, and %rbp is either unchanged or saved at a
 * known offset from the CFA.  A frame is then one table lookup, one
 * _dl_find_object (lock-free, allocation-free, glibc 2.35) and two loads.
 *
 * Anything else gives up and the caller walks with libgcc instead, which
 * handles everything: an address outside every loaded object (JIT code),
 * a signal frame, a CFA computed by a DWARF expression or from another
 * register, a table encoding other than the one every linker writes.  So
 * this file never reads memory that libgcc would not read, and decides
 * nothing libgcc would decide differently; it only remembers.
 *
 * The memory read is the stack, at addresses the rules give; a rule is
 * checked for sense (the CFA above the current frame and within 1 MiB of
 * it) before any read, and a failed check ends the walk.  Remembered rules
 * are keyed by the return address and by the object it lies in (its
 * .eh_frame_hdr and its end), so that a library unloaded and another
 * loaded at the same address never inherits the first one's rules.  The
 * table is raw memory of the shim's own, filled without a lock (a slot is
 * claimed with one compare-and-swap, then published); a full or contended
 * table only means the rule is computed again.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <dlfcn.h>
#include <string.h>

#if defined(__x86_64__) && defined(DLFO_STRUCT_HAS_EH_DBASE) && !defined(PP_NO_CFI)

enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16 };

/* .plt's CFA expression (GNU ld, gold and lld write the same bytes):
 * breg7 (%rsp) +8; breg16 (%rip) +0; lit15; and; lit11; ge; lit3; shl; plus */
static const uint8_t plt_cfa[] = {0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22};
enum { KIND_FRAME = 1, KIND_END = 2 };

struct rule {
    int32_t cfa_off;
    int16_t rbp_off;        /* 0: %rbp unchanged */
    uint8_t cfa_reg;        /* DW_RSP or DW_RBP */
    uint8_t kind;
};

#define SLOTS 8192          /* a power of two: 256 KiB of address space */
#define PROBES 4
#define BUSY 1

struct slot {
    _Atomic uintptr_t ip;           /* 0 empty, BUSY being written */
    uintptr_t obj;                  /* object_key() of the object it is in */
    struct rule r;
    uint64_t pad;                   /* 32 bytes: two slots a cache line */
};

static struct slot *table;

/* ---- reading the tables ------------------------------------------------- */

/* BIAS: the bytes' own address minus where they are read from (a copy
 * taken through the kernel: fetch below), for pc-relative pointers */
struct cursor {
    const uint8_t *p, *end;
    int bad;
    intptr_t bias;
};

/* LEN bytes of an object's tables at AT: in place, or (SAFE) copied into
 * BUF through the kernel, for the sampler thread, which walks another
 * thread's stack while that thread may unload the object (dlclose): a read
 * in place could then fault.  NULL when the bytes are gone. */
static const uint8_t *fetch(int safe, const uint8_t *at, size_t len, uint8_t *buf)
{
    if (!safe)
        return at;
    return pp_os_peek(buf, (uintptr_t)at, len) == 0 ? buf : NULL;
}

static uint64_t uleb(struct cursor *c)
{
    uint64_t v = 0;
    for (int shift = 0; c->p < c->end && shift < 64; shift += 7) {
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = 1;
    return 0;
}

static int64_t sleb(struct cursor *c)
{
    int64_t v = 0;
    int shift = 0;
    for (; c->p < c->end && shift < 64;) {
        uint8_t b = *c->p++;
        v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= -((int64_t)1 << shift);
            return v;
        }
    }
    c->bad = 1;
    return 0;
}

static uint8_t u8(struct cursor *c)
{
    if (c->p >= c->end) {
        c->bad = 1;
        return 0;
    }
    return *c->p++;
}

/* A pointer in DW_EH_PE encoding ENC: absolute or pc-relative only
 * (what .eh_frame holds); anything else marks the cursor bad. */
static uintptr_t encoded(struct cursor *c, uint8_t enc)
{
    const uint8_t *at = c->p;
    int64_t v;
    switch (enc & 0x0f) {
    case 0x00: case 0x04: case 0x0c:
        if (c->end - c->p < 8)
            goto bad;
        memcpy(&v, c->p, 8);
        c->p += 8;
        break;
    case 0x03:                          /* udata4 */
    case 0x0b: {                        /* sdata4 */
        uint32_t u;
        if (c->end - c->p < 4)
            goto bad;
        memcpy(&u, c->p, 4);
        c->p += 4;
        v = (enc & 0x0f) == 0x0b ? (int64_t)(int32_t)u : (int64_t)u;
        break;
    }
    case 0x01: v = (int64_t)uleb(c); break;
    case 0x09: v = sleb(c); break;
    default: goto bad;
    }
    switch (enc & 0x70) {
    case 0x00: return (uintptr_t)v;
    case 0x10: return (uintptr_t)at + (uintptr_t)c->bias + (uintptr_t)v;
    default: goto bad;
    }
bad:
    c->bad = 1;
    return 0;
}

/* ---- running the CFA program --------------------------------------------- */

struct state {
    int64_t cfa_off;
    int cfa_reg;
    int rbp_saved, ra_undefined, unsupported;
    int64_t rbp_off, ra_off;
};

/* Run the CFA program [p, end) until the row for TARGET is reached.  INIT is
 * the state after the CIE's instructions (for DW_CFA_restore).  Returns 0
 * when it stopped for the target or the end, -1 on anything unsupported. */
static int run_cfa(const uint8_t *p, const uint8_t *end, uintptr_t *loc, uintptr_t target,
               uint64_t code_align, int64_t data_align, struct state *s, const struct state *init)
{
    struct state saved[8];
    int depth = 0;
    struct cursor c = {p, end, 0, 0};
    while (c.p < c.end && !c.bad) {
        uint8_t op = u8(&c), low = op & 0x3f;
        uint64_t reg, delta = 0;
        int64_t off;
        switch (op >> 6) {
        case 1:
            delta = low;
            goto advance;
        case 2:
            off = (int64_t)uleb(&c) * data_align;
            reg = low;
            goto offset;
        case 3:
            reg = low;
            goto restore;
        }
        switch (op) {
        case 0x00:                                  /* nop */
            continue;
        case 0x02: delta = u8(&c); goto advance;
        case 0x03:
            if (c.end - c.p < 2)
                return -1;
            delta = (uint64_t)c.p[0] | (uint64_t)c.p[1] << 8;
            c.p += 2;
            goto advance;
        case 0x04:
            if (c.end - c.p < 4)
                return -1;
            delta = (uint64_t)c.p[0] | (uint64_t)c.p[1] << 8 | (uint64_t)c.p[2] << 16 |
                    (uint64_t)c.p[3] << 24;
            c.p += 4;
            goto advance;
        case 0x05:                                  /* offset_extended */
            reg = uleb(&c);
            off = (int64_t)uleb(&c) * data_align;
            goto offset;
        case 0x11:                                  /* offset_extended_sf */
            reg = uleb(&c);
            off = sleb(&c) * data_align;
            goto offset;
        case 0x06:                                  /* restore_extended */
            reg = uleb(&c);
            goto restore;
        case 0x07:                                  /* undefined */
            reg = uleb(&c);
            if (reg == DW_RA)
                s->ra_undefined = 1;
            else if (reg == DW_RBP || reg == DW_RSP)
                return -1;
            continue;
        case 0x08:                                  /* same_value */
            reg = uleb(&c);
            if (reg == DW_RBP)
                s->rbp_saved = 0;
            else if (reg == DW_RA || reg == DW_RSP)
                return -1;
            continue;
        case 0x09:                                  /* register */
            reg = uleb(&c);
            (void)uleb(&c);
            goto other_rule;
        case 0x0a:                                  /* remember_state */
            if (depth == 8)
                return -1;
            saved[depth++] = *s;
            continue;
        case 0x0b:                                  /* restore_state */
            if (depth == 0)
                return -1;
            *s = saved[--depth];
            continue;
        case 0x0c:                                  /* def_cfa */
            s->cfa_reg = (int)uleb(&c);
            s->cfa_off = (int64_t)uleb(&c);
            continue;
        case 0x12:                                  /* def_cfa_sf */
            s->cfa_reg = (int)uleb(&c);
            s->cfa_off = sleb(&c) * data_align;
            continue;
        case 0x0d:                                  /* def_cfa_register */
            s->cfa_reg = (int)uleb(&c);
            continue;
        case 0x0e:                                  /* def_cfa_offset */
            s->cfa_off = (int64_t)uleb(&c);
            continue;
        case 0x13:                                  /* def_cfa_offset_sf */
            s->cfa_off = sleb(&c) * data_align;
            continue;
        case 0x10:                                  /* expression */
        case 0x16:                                  /* val_expression */
            reg = uleb(&c);
            delta = uleb(&c);                       /* the expression's length */
            if (c.bad || delta > (uint64_t)(c.end - c.p))
                return -1;
            c.p += delta;
            goto other_rule;
        case 0x14:                                  /* val_offset */
            reg = uleb(&c);
            (void)uleb(&c);
            goto other_rule;
        case 0x15:                                  /* val_offset_sf */
            reg = uleb(&c);
            (void)sleb(&c);
            goto other_rule;
        case 0x2e:                                  /* GNU_args_size */
            (void)uleb(&c);
            continue;
        case 0x0f:                                  /* def_cfa_expression */
            /* the one every linker writes for .plt, where a CPU sample
             * lands in the stub of a call through it (__tls_get_addr's,
             * in a library): %rsp + 8, and 8 more once the entry's push
             * has run (from byte 11 of its 16).  Computed as libgcc would
             * for this row's own address, which is the sampled one: a
             * stub is never a caller.  Any other expression gives up */
            delta = uleb(&c);
            if (c.bad || delta != sizeof plt_cfa || delta > (uint64_t)(c.end - c.p) ||
                memcmp(c.p, plt_cfa, sizeof plt_cfa) != 0)
                return -1;
            c.p += delta;
            s->cfa_reg = DW_RSP;
            s->cfa_off = (target & 15) >= 11 ? 16 : 8;
            continue;
        case 0x2f:                                  /* GNU_negative_offset_extended */
            reg = uleb(&c);
            off = -(int64_t)uleb(&c) * data_align;
            goto offset;
        default:                                    /* set_loc, ... */
            return -1;
        }
    other_rule:             /* a rule this walk cannot follow: fine unless
                             * it is for a register the walk needs */
        if (reg == DW_RBP || reg == DW_RA || reg == DW_RSP)
            return -1;
        continue;
    advance:
        if (*loc + delta * code_align > target)
            return 0;
        *loc += delta * code_align;
        continue;
    offset:
        if (reg == DW_RBP) {
            s->rbp_saved = 1;
            s->rbp_off = off;
        } else if (reg == DW_RA) {
            s->ra_off = off;
            s->ra_undefined = 0;
        } else if (reg == DW_RSP) {
            return -1;
        }
        continue;
    restore:
        if (reg == DW_RBP) {
            s->rbp_saved = init->rbp_saved;
            s->rbp_off = init->rbp_off;
        } else if (reg == DW_RA) {
            s->ra_off = init->ra_off;
            s->ra_undefined = init->ra_undefined;
        }
        continue;
    }
    return c.bad ? -1 : 0;
}

/* The rule for return address IP (TARGET: the address whose row applies,
 * IP itself for the first frame, IP - 1 for the others) in the object whose
 * .eh_frame_hdr is HDR; SAFE: its tables are read through fetch().
 * Returns -1 when this walk cannot say. */
#define ENTRY_MAX 4096              /* an FDE or CIE longer is left to libgcc */

/* The copies of an FDE and its CIE a safe walk reads through the kernel:
 * static, not on the stack, where they took 8 KiB of an allocation hook's
 * frame (a thread with a 16 KiB stack, deep in a dlmopen, ran past its
 * guard page) though only the sampler thread's walks copy.  One walk at a
 * time has them; another at that moment cannot say. */
static uint8_t safe_fde[4 + ENTRY_MAX], safe_cie[4 + ENTRY_MAX];
static _Atomic int safe_busy;

static int compute_in(uintptr_t target, const uint8_t *hdr_at, struct rule *out, int safe,
                      uint8_t *fb, uint8_t *cb);

static int compute(uintptr_t target, const uint8_t *hdr_at, struct rule *out, int safe)
{
    if (!safe)
        return compute_in(target, hdr_at, out, 0, NULL, NULL);
    int want = 0;
    if (!atomic_compare_exchange_strong(&safe_busy, &want, 1))
        return -1;
    int rc = compute_in(target, hdr_at, out, 1, safe_fde, safe_cie);
    atomic_store_explicit(&safe_busy, 0, memory_order_release);
    return rc;
}

static int compute_in(uintptr_t target, const uint8_t *hdr_at, struct rule *out, int safe,
                      uint8_t *fb, uint8_t *cb)
{
    uint8_t hb[20], eb[8];
    /* .eh_frame_hdr: version 1, a sorted table of (start, FDE) as signed
     * 32-bit offsets from the header, as every linker writes it */
    const uint8_t *hdr = hdr_at ? fetch(safe, hdr_at, sizeof hb, hb) : NULL;
    if (!hdr || hdr[0] != 1 || hdr[3] != 0x3b)
        return -1;
    struct cursor c = {hdr + 4, hdr + 4 + 16, 0, hdr_at - hdr};
    (void)encoded(&c, hdr[1]);                       /* eh_frame_ptr */
    if (hdr[2] != 0x03 && hdr[2] != 0x0b)
        return -1;
    uint32_t count;
    if (c.end - c.p < 4)
        return -1;
    memcpy(&count, c.p, 4);
    c.p += 4;
    if (c.bad || count == 0)
        return -1;
    const uint8_t *tab = hdr_at + (c.p - hdr);     /* (start, FDE) pairs, in place */
    int32_t e[2];
    size_t lo = 0, hi = count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        const uint8_t *m = fetch(safe, tab + 8 * mid, 4, eb);
        if (!m)
            return -1;
        memcpy(&e[0], m, 4);
        if ((uintptr_t)hdr_at + (uintptr_t)(intptr_t)e[0] <= target)
            lo = mid;
        else
            hi = mid;
    }
    const uint8_t *m = fetch(safe, tab + 8 * lo, 8, eb);
    if (!m)
        return -1;
    memcpy(e, m, 8);
    if ((uintptr_t)hdr_at + (uintptr_t)(intptr_t)e[0] > target)
        return -1;
    const uint8_t *fde_at = hdr_at + e[1];

    /* the FDE and its CIE */
    uint32_t len, cie_ptr;
    const uint8_t *fde = fetch(safe, fde_at, 8, fb);
    if (!fde)
        return -1;
    memcpy(&len, fde, 4);
    if (len == 0 || len == 0xffffffffu || (safe && len > ENTRY_MAX))
        return -1;
    memcpy(&cie_ptr, fde + 4, 4);
    if (!(fde = fetch(safe, fde_at, 4 + (size_t)len, fb)))
        return -1;
    const uint8_t *fde_end = fde + 4 + len;
    const uint8_t *cie_at = fde_at + 4 - cie_ptr;
    const uint8_t *cie = fetch(safe, cie_at, 4, cb);
    uint32_t cie_len;
    if (!cie)
        return -1;
    memcpy(&cie_len, cie, 4);
    if (cie_len == 0 || cie_len == 0xffffffffu || (safe && cie_len > ENTRY_MAX))
        return -1;
    if (!(cie = fetch(safe, cie_at, 4 + (size_t)cie_len, cb)))
        return -1;
    const uint8_t *cie_end = cie + 4 + cie_len;
    struct cursor k = {cie + 8, cie_end, 0, cie_at - cie};
    uint8_t version = u8(&k);
    const char *aug = (const char *)k.p;
    size_t aug_len = strnlen(aug, (size_t)(k.end - k.p));
    if (aug_len == (size_t)(k.end - k.p))
        return -1;
    k.p += aug_len + 1;
    uint64_t code_align = uleb(&k);
    int64_t data_align = sleb(&k);
    uint64_t ra_reg = version == 1 ? u8(&k) : uleb(&k);
    uint8_t fde_enc = 0;
    int has_z = aug[0] == 'z';
    if (ra_reg != DW_RA || (aug[0] && !has_z))
        return -1;
    if (has_z) {
        uint64_t n = uleb(&k);
        const uint8_t *after = k.p + n;
        if (k.bad || n > (uint64_t)(k.end - k.p))
            return -1;
        for (const char *a = aug + 1; *a; a++) {
            if (*a == 'R')
                fde_enc = u8(&k);
            else if (*a == 'L')
                (void)u8(&k);
            else if (*a == 'P') {
                uint8_t penc = u8(&k);
                (void)encoded(&k, penc & 0x7f);     /* the personality, skipped */
            } else
                return -1;                           /* 'S' (signal frame) and others */
        }
        if (k.bad)
            return -1;
        k.p = after;
    }

    struct cursor f = {fde + 8, fde_end, 0, fde_at - fde};
    uintptr_t start = encoded(&f, fde_enc);
    uintptr_t range = encoded(&f, fde_enc & 0x0f);
    if (f.bad || target < start || target - start >= range)
        return -1;
    if (has_z) {
        uint64_t n = uleb(&f);
        if (f.bad || n > (uint64_t)(f.end - f.p))
            return -1;
        f.p += n;
    }

    struct state s = {.cfa_reg = DW_RSP, .cfa_off = 8, .ra_off = -8};
    uintptr_t loc = start;
    if (run_cfa(k.p, cie_end, &loc, UINTPTR_MAX, code_align, data_align, &s, &s) != 0)
        return -1;
    struct state init = s;
    loc = start;
    if (run_cfa(f.p, fde_end, &loc, target, code_align, data_align, &s, &init) != 0)
        return -1;

    if (s.ra_undefined) {
        out->kind = KIND_END;
        return 0;
    }
    if ((s.cfa_reg != DW_RSP && s.cfa_reg != DW_RBP) || s.ra_off != -8 ||
        s.cfa_off <= 0 || s.cfa_off > (1 << 20) ||
        (s.rbp_saved && (s.rbp_off < -(1 << 14) || s.rbp_off >= 0 || s.rbp_off == 0)))
        return -1;
    out->kind = KIND_FRAME;
    out->cfa_reg = (uint8_t)s.cfa_reg;
    out->cfa_off = (int32_t)s.cfa_off;
    out->rbp_off = (int16_t)(s.rbp_saved ? s.rbp_off : 0);
    return 0;
}

/* ---- the table of rules --------------------------------------------------- */

/* the object an address lies in, as one word: its .eh_frame_hdr and its
 * end (a library loaded where another was has a different pair) */
static inline uintptr_t object_key(uintptr_t eh, uintptr_t end)
{
    return eh ^ (end << 1);
}

static inline struct slot *home(uintptr_t ip)
{
    return &table[(size_t)((ip * 0x9e3779b97f4a7c15ull) >> 40) & (SLOTS - 1)];
}

/* the common case inline: the rule at the address's home slot */
static inline int lookup_home(uintptr_t ip, uintptr_t obj, struct rule *out)
{
    struct slot *s = home(ip);
    if (atomic_load_explicit(&s->ip, memory_order_acquire) != ip || s->obj != obj)
        return 0;
    *out = s->r;
    return 1;
}

/* the rest: the other slots, else computed (and kept when a slot is free) */
__attribute__((noinline)) static int lookup_slow(uintptr_t ip, uintptr_t target, uintptr_t eh,
                                                 uintptr_t obj, struct rule *out, int safe)
{
    struct slot *h = home(ip);
    size_t at = (size_t)(h - table);
    for (int i = 1; i < PROBES; i++) {
        struct slot *s = &table[(at + (size_t)i) & (SLOTS - 1)];
        uintptr_t k = atomic_load_explicit(&s->ip, memory_order_acquire);
        if (k == ip && s->obj == obj) {
            *out = s->r;
            return 0;
        }
        if (k == 0)
            break;
    }
    if (compute(target, (const uint8_t *)eh, out, safe) != 0)
        return -1;
    for (int i = 0; i < PROBES; i++) {
        struct slot *s = &table[(at + (size_t)i) & (SLOTS - 1)];
        uintptr_t zero = 0;
        if (atomic_load_explicit(&s->ip, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&s->ip, &zero, BUSY)) {
            s->obj = obj;
            s->r = *out;
            atomic_store_explicit(&s->ip, ip, memory_order_release);
            break;
        }
    }
    return 0;
}

/* ---- the walk ------------------------------------------------------------- */

int pp_cfi_ready(void)
{
    if (!table)
        table = pp_os_map(SLOTS * sizeof *table);
    return table != NULL;
}

/* Return addresses of the stack of the caller into OUT (at most MAX),
 * skipping those in [skip_lo, skip_hi) at the top.  Returns the number
 * written, or -1 when the walk must be left to libgcc. */
__attribute__((noinline)) int pp_cfi_walk(uintptr_t *out, int max, uintptr_t skip_lo,
                                         uintptr_t skip_hi)
{
    uintptr_t ip, sp, bp;
    if (!table)
        return -1;
    /* this point's address with this point's registers */
    __asm__ volatile("lea 0(%%rip), %0\n\t"
                     "mov %%rsp, %1\n\t"
                     "mov %%rbp, %2"
                     : "=&r"(ip), "=&r"(sp), "=&r"(bp));
    int n = 0;
    /* the object of the previous frame: objects cannot come or go while
     * their code is on this stack, so one lookup serves every frame in it */
    uintptr_t lo = 0, end = 0, eh = 0, obj = 0;      /* empty: the first looks up */
    for (int steps = 0; steps < max + 64; steps++) {
        /* the row of a return address is the call's: the byte before it
         * (the first address is this function's own, never a return
         * address, so it cannot collide with one in the table) */
        uintptr_t target = steps ? ip - 1 : ip;
        if (PP_UNLIKELY(target - lo >= end - lo)) {
            struct dl_find_object fo;
            if (_dl_find_object((void *)target, &fo) != 0)
                return -1;
            lo = (uintptr_t)fo.dlfo_map_start;
            end = (uintptr_t)fo.dlfo_map_end;
            eh = (uintptr_t)fo.dlfo_eh_frame;
            obj = object_key(eh, end);
        }
        struct rule r;
        if (PP_UNLIKELY(!lookup_home(ip, obj, &r)) && lookup_slow(ip, target, eh, obj, &r, 0) != 0)
            return -1;
        if (PP_UNLIKELY(r.kind == KIND_END))
            break;
        uintptr_t cfa = (r.cfa_reg == DW_RSP ? sp : bp) + (uintptr_t)(intptr_t)r.cfa_off;
        if (PP_UNLIKELY(cfa - sp - 1 >= (1u << 20)))      /* not above, or too far */
            break;
        if (r.rbp_off) {
            uintptr_t at = cfa + (uintptr_t)(intptr_t)r.rbp_off;
            if (PP_UNLIKELY(at < sp))
                break;
            bp = *(const uintptr_t *)at;
        }
        sp = cfa;
        ip = *(const uintptr_t *)(cfa - 8);
        if (PP_UNLIKELY(!ip))
            break;
        if (n == 0 && ip >= skip_lo && ip < skip_hi)
            continue;                         /* the shim's own frames */
        out[n++] = ip;
        if (n >= max)
            break;
    }
    return n;
}

/* The instruction at IP is a `ret` or a `pop` of a register, as in an
 * epilogue's run of pops: a rule's slot below the stack pointer there was
 * popped already.  (A slot below it in a function that saved %rbp into the
 * red zone with a move, and uses %rbp since, is not: the walk stops.)
 * Read through the kernel: the object may be gone. */
static int in_epilogue(uintptr_t ip)
{
    uint8_t c[2];
    if (pp_os_peek(c, ip, sizeof c) != 0)
        return 0;
    return c[0] == 0xc3 || (c[0] >= 0x58 && c[0] <= 0x5f) ||
           (c[0] == 0x41 && c[1] >= 0x58 && c[1] <= 0x5f);
}

/* The same walk over another thread's stack, as the kernel copied it for a
 * CPU sample (cpu.c): registers IP, SP, BP at the sample and SIZE bytes of
 * the stack from SP in COPY.  Every read is from the copy; an address
 * outside [SP, SP+SIZE) ends the walk.  OUT[0] is the sampled IP itself.
 * Returns the number of frames, -1 when even the first frame's rule is
 * unknown; *COMPLETE is 1 when the walk reached the stack's outermost frame
 * (a rule that says so, or a zero return address).  The thread may have
 * unloaded an object of the sample since (dlclose): the objects' tables are
 * read through the kernel here (compute's SAFE), never in place. */
int pp_cfi_walk_copy(uintptr_t *out, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                     const void *copy, size_t size, int *complete)
{
    const uintptr_t sp0 = sp;
    int n = 0;
    *complete = 0;
    if (!table || max <= 0)
        return -1;
    uintptr_t lo = 0, end = 0, eh = 0, obj = 0;
    out[n++] = ip;
    for (int steps = 0; n < max && steps < max + 64; steps++) {
        uintptr_t target = steps ? ip - 1 : ip;
        if (target - lo >= end - lo) {
            struct dl_find_object fo;
            if (_dl_find_object((void *)target, &fo) != 0)
                return steps ? n : -1;
            lo = (uintptr_t)fo.dlfo_map_start;
            end = (uintptr_t)fo.dlfo_map_end;
            eh = (uintptr_t)fo.dlfo_eh_frame;
            obj = object_key(eh, end);
        }
        struct rule r;
        /* the sampled address is not a return address: its row is its own,
         * computed every time and never kept under a return address's key */
        if (steps == 0) {
            if (compute(target, (const uint8_t *)eh, &r, 1) != 0)
                return -1;
        } else if (!lookup_home(ip, obj, &r) && lookup_slow(ip, target, eh, obj, &r, 1) != 0) {
            return n;
        }
        if (r.kind == KIND_END) {
            *complete = 1;
            break;
        }
        uintptr_t cfa = (r.cfa_reg == DW_RSP ? sp : bp) + (uintptr_t)(intptr_t)r.cfa_off;
        if (cfa <= sp || cfa - sp0 > size)      /* not above, or past the copy */
            break;
        if (r.rbp_off) {
            uintptr_t at = cfa + (uintptr_t)(intptr_t)r.rbp_off;
            if (steps == 0 && at < sp0 && in_epilogue(ip)) {
                /* sampled in an epilogue, past its `pop %rbp`: compilers
                 * leave the save's rule in force there, but the slot is
                 * below the stack pointer (not in the copy) and %rbp
                 * already holds what it held */
            } else if (at < sp0 || at + 8 > sp0 + size) {
                break;
            } else {
                memcpy(&bp, (const char *)copy + (at - sp0), 8);
            }
        }
        sp = cfa;
        memcpy(&ip, (const char *)copy + (cfa - 8 - sp0), 8);
        if (!ip) {
            *complete = 1;
            break;
        }
        out[n++] = ip;
    }
    return n;
}

#else  /* not x86-64, or a glibc without _dl_find_object: libgcc walks */

int pp_cfi_ready(void) { return 0; }
int pp_cfi_walk(uintptr_t *out, int max, uintptr_t skip_lo, uintptr_t skip_hi)
{
    (void)out; (void)max; (void)skip_lo; (void)skip_hi;
    return -1;
}
int pp_cfi_walk_copy(uintptr_t *out, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                     const void *copy, size_t size, int *complete)
{
    (void)out; (void)max; (void)ip; (void)sp; (void)bp; (void)copy; (void)size;
    *complete = 0;
    return -1;
}

#endif
