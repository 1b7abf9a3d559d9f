/*
 * pyframes.c - the Python frames of an allocation, read from CPython's own
 * structures inside the allocating thread.
 *
 * Why: the stack of an allocation made by a python3 program stops in the
 * interpreter (`_PyObject_Malloc < PyByteArray_Resize < ...`), which says
 * nothing the user can act on.  The Python function and line are in the
 * interpreter's memory at that moment: the thread's state points to its
 * chain of frames, each frame to its code object (file, name, first line,
 * line table) and to the instruction it is at.  This file reads them while
 * a sampled (or, with `all`, every) stack is recorded, and puts them into
 * the native stack where the interpreter's evaluation frames
 * (_PyEval_EvalFrameDefault) are; docs/sites.md says what is exact.
 *
 * Inside the hook: no lock, no allocation, no system call, no call into
 * Python but one, PyGILState_GetThisThreadState, which loads the calling
 * thread's own thread state (pthread_getspecific on the interpreter's
 * key; it takes no lock, allocates nothing and cannot raise), so that a
 * thread that does not hold the GIL still finds its own frames and never
 * another thread's.  The chain read is the calling thread's own, which
 * only that thread changes: at the moment of its own allocation it is
 * consistent.  Every pointer is still checked before it is followed: in
 * user space, aligned, and every object of the right type (PyCode_Type,
 * PyUnicode_Type, PyBytes_Type, PyFrame_Type, compared with the addresses
 * of the interpreter's type objects); a frame that fails gives one
 * "<python: unreadable>" frame and ends the walk, which is also bounded
 * (PY_MAX frames).
 *
 * A Python frame is an identity: (code object, its file and name objects,
 * first line, line).  Identities are kept in a table of the shim's own
 * (raw mmap, open addressing, published by compare-and-swap, no lock) with
 * copies of the strings taken when first met, and each gets a small id.
 * The stack stores the id as a marker value (PP_PY_MARK); pp_py_write puts
 * a "pyframe" record for every new identity in the timeline before the
 * stacks that use it, outside any hook.
 *
 * Versions: 3.8 to 3.13, release builds with the GIL.  Offsets come from
 * the table in pyframes.h, or in 3.13 from the interpreter's own
 * _Py_DebugOffsets.  Anything else (free-threaded, a Py_TRACE_REFS debug
 * build, an unknown version) keeps native frames only, with one line on
 * stderr saying why.
 */
#define _GNU_SOURCE
#include "core/core.h"
#include "pyframes.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#if defined(__linux__)
#include <link.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PY_MAX     PP_PY_MAX         /* Python frames read per stack */
#define ENT_BITS   14                /* identities in the table */
#define FILE_MAX   192
#define NAME_MAX_  112

struct ent {
    _Atomic uint64_t key;            /* hash; 0: free */
    uintptr_t code, file_obj, name_obj;
    uint64_t sig;                    /* code_sig: what the strings hold */
    int32_t  first, line;
    uint32_t id, gen;
    _Atomic int ready, written;
    char     file[FILE_MAX], name[NAME_MAX_];
};

int pp_py_on;                           /* frames are read into allocation stacks */
int pp_py_for_sites;                    /* ... wanted (sites.c says so) */
static int py_ok;                       /* an interpreter whose frames can be read */
static struct pp_py_layout L;
static uintptr_t eval_lo, eval_hi;      /* _PyEval_EvalFrameDefault */
static uintptr_t t_code, t_unicode, t_bytes, t_frame;
static void *(*get_tstate)(void);
static struct ent *ents;
static _Atomic uint32_t next_ent_id = 1;
/* by id (ids are 1.. the table's size, one per entry): the entry's index
 * plus one, stored once it is ready, so that pp_py_write looks only at the
 * ids made since the ids below written_to were all written (a scan of the
 * whole table for each new CPU stack cost about 150,000 instructions) */
static _Atomic uint32_t *by_id;
static _Atomic uint32_t written_to = 1;
static _Atomic int ents_full;
static uint32_t unreadable_id, full_id;

/* ---- safe-looking reads ---------------------------------------------------- */

static inline int ptr_ok(uintptr_t p)
{
    return p >= 65536 && p < ((uintptr_t)1 << 47) && (p & 7) == 0;
}

static inline uintptr_t rd_ptr(uintptr_t base, int off)
{
    return *(const uintptr_t *)(base + (uintptr_t)off);
}

static inline int is_a(uintptr_t obj, uintptr_t type)
{
    return ptr_ok(obj) && rd_ptr(obj, 8) == type;
}

/* ---- strings --------------------------------------------------------------- */

static size_t put_utf8(char *out, size_t at, size_t cap, uint32_t c)
{
    if (c >= 0xd800 && c < 0xe000)
        c = '?';                        /* a lone surrogate (surrogateescape) */
    char b[4];
    size_t n;
    if (c < 0x80) {
        b[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (char)(0xc0 | (c >> 6));
        b[1] = (char)(0x80 | (c & 63));
        n = 2;
    } else if (c < 0x10000) {
        b[0] = (char)(0xe0 | (c >> 12));
        b[1] = (char)(0x80 | ((c >> 6) & 63));
        b[2] = (char)(0x80 | (c & 63));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (c >> 18));
        b[1] = (char)(0x80 | ((c >> 12) & 63));
        b[2] = (char)(0x80 | ((c >> 6) & 63));
        b[3] = (char)(0x80 | (c & 63));
        n = 4;
    }
    if (at + n >= cap)
        return at;
    memcpy(out + at, b, n);
    return at + n;
}

/* the LEN characters of KIND (1, 2, 4 bytes) at D as UTF-8 */
static void decode_str(const unsigned char *d, int64_t len, unsigned kind, char *out, size_t cap)
{
    size_t at = 0;
    for (int64_t i = 0; i < len && at + 1 < cap; i++) {
        uint32_t c = kind == 1 ? d[i] : kind == 2 ? ((const uint16_t *)d)[i]
                                                  : ((const uint32_t *)d)[i];
        at = put_utf8(out, at, cap, c);
        if (c >= 0x80 && at + 4 >= cap)
            break;
    }
    out[at] = 0;
}

/* The last characters of a str that does not fit, after "...": a file's
 * name is at the end of its path (a long path cut at its head lost the
 * name itself, and two files read the same).  FROM: the characters before
 * D left out already (those of the head that can never fit). */
static void decode_tail(const unsigned char *d, int64_t len, unsigned kind, int64_t from, char *out,
                        size_t cap)
{
    char tmp[4 * FILE_MAX + 8];
    decode_str(d, len, kind, tmp, sizeof tmp);
    size_t n = strlen(tmp);
    if (!from && n < cap) {
        memcpy(out, tmp, n + 1);
        return;
    }
    size_t keep = cap - 4 < n ? cap - 4 : n;
    const char *s = tmp + n - keep;
    while (*s && ((unsigned char)*s & 0xc0) == 0x80)
        s++;                            /* a character's first byte */
    memcpy(out, "...", 3);
    memcpy(out + 3, s, strlen(s) + 1);
}

/* a str's LEN and STATE: where its characters are (an offset), or 0 when
 * it is not a compact string (every str the compiler makes is) */
static uintptr_t str_data(int64_t len, uint32_t state, unsigned *kind)
{
    unsigned compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
    *kind = (state >> 2) & 7;
    if (!compact || len < 0 || (*kind != 1 && *kind != 2 && *kind != 4))
        return 0;
    return (uintptr_t)(ascii ? L.u_ascii_size : L.u_compact_size);
}

/* the characters of the str object O, in this thread's memory: their
 * address, with *LEN and *KIND; 0 when O is not a compact str */
static const unsigned char *chars_of(uintptr_t o, int64_t *len, unsigned *kind)
{
    *len = is_a(o, t_unicode) ? *(const int64_t *)(o + 16) : -1;
    uintptr_t at = *len >= 0 ? str_data(*len, *(const uint32_t *)(o + 32), kind) : 0;
    return at ? (const unsigned char *)(o + at) : NULL;
}

/* a str object as UTF-8; TAIL: its end kept when it does not fit */
static void copy_str(uintptr_t o, char *out, size_t cap, int tail)
{
    unsigned kind;
    int64_t len;
    const unsigned char *d = chars_of(o, &len, &kind);
    if (!d) {
        snprintf(out, cap, "<python: unreadable>");
        return;
    }
    if (tail) {
        int64_t from = len > (int64_t)cap ? len - (int64_t)cap : 0;
        decode_tail(d + from * kind, len - from, kind, from, out, cap);
        return;
    }
    decode_str(d, len, kind, out, cap);
}

static void copy_str_far(uintptr_t o, char *out, size_t cap, int tail);

/* ---- line numbers ---------------------------------------------------------- */

/* 3.8, 3.9: co_lnotab, (address, line) increments; LASTI in bytes */
static int line_lnotab(const unsigned char *p, int64_t n, int line, int64_t lasti)
{
    int64_t addr = 0;
    for (int64_t i = 0; i + 1 < n; i += 2) {
        addr += p[i];
        if (addr > lasti)
            break;
        line += (signed char)p[i + 1];
    }
    return line;
}

/* 3.10: co_linetable, (length in bytes, line increment or -128: none) */
static int line_310(const unsigned char *p, int64_t n, int line, int64_t addr)
{
    int64_t end = 0;
    for (int64_t i = 0; i + 1 < n; i += 2) {
        end += p[i];
        int d = (signed char)p[i + 1];
        if (d != -128)
            line += d;
        if (addr < end)
            return line;
    }
    return line;
}

static unsigned varint(const unsigned char **pp, const unsigned char *end)
{
    const unsigned char *p = *pp;
    if (p >= end)
        return 0;
    unsigned b = *p++, v = b & 63, shift = 0;
    while ((b & 64) && p < end && shift < 24) {
        b = *p++;
        shift += 6;
        v |= (b & 63) << shift;
    }
    *pp = p;
    return v;
}

/* 3.11+: the location table (Objects/locations.md); ADDR in code units */
static int line_311(const unsigned char *p, int64_t n, int line, int64_t addr)
{
    const unsigned char *end = p + n;
    int64_t at = 0;
    while (p < end) {
        unsigned first = *p;
        if (!(first & 0x80)) {
            p++;
            continue;
        }
        unsigned code = (first >> 3) & 15;
        const unsigned char *q = p + 1;
        if (code == 13 || code == 14) {
            unsigned u = varint(&q, end);
            line += (u & 1) ? -(int)(u >> 1) : (int)(u >> 1);
        } else if (code >= 10 && code <= 12) {
            line += (int)code - 10;
        }
        at += (first & 7) + 1;
        if (addr < at)
            return line;
        p++;
        while (p < end && !(*p & 0x80))
            p++;
    }
    return line;
}

/* the line of CODE at instruction offset LASTI (bytes in 3.8-3.9, code
 * units after); -1: not started, the first line */
static int table_line(const unsigned char *p, int64_t n, int64_t lasti, int first);

static int code_line(uintptr_t code, int64_t lasti, int first)
{
    if (lasti < 0)
        return first;
    uintptr_t tab = rd_ptr(code, L.co_linetable);
    if (!is_a(tab, t_bytes))
        return first;
    int64_t n = *(const int64_t *)(tab + 16);
    if (n < 0 || n > (1 << 24))
        return first;
    return table_line((const unsigned char *)(tab + 32), n, lasti, first);
}

/* the line at LASTI from a line table P[0..N) */
static int table_line(const unsigned char *p, int64_t n, int64_t lasti, int first)
{
    if (L.minor <= 9)
        return line_lnotab(p, n, first, lasti);
    if (L.minor == 10)
        return line_310(p, n, first, lasti * 2);
    return line_311(p, n, first, lasti);
}

/* ---- identities ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

/* interpreters set up so far: one set up again (its library opened again
 * after it was closed, or Py_Initialize after Py_Finalize) may make its
 * objects where the last one made them, so an identity, and a cached
 * line, is an interpreter's own */
static uint32_t py_gen;

static inline uint64_t gen_now(void)
{
    return __atomic_load_n(&py_gen, __ATOMIC_RELAXED);
}

/* the identity of CODE (its file and name objects FO, NO, first line
 * FIRST) at LINE; FAR: another thread's, whose strings are read through the
 * kernel; CODE 0: a pseudo-frame (LINE 0 unreadable, 1 the table full) */
static uint32_t ident(uintptr_t code, uintptr_t fo, uintptr_t no, uint64_t sig, int first, int line,
                      int far)
{
    if (!ents)
        return 0;
    uint32_t gen = code ? (uint32_t)gen_now() : 0;
    uint64_t key = mix(mix(mix(mix(mix(mix(1 + (uint64_t)gen, code), fo), no), sig),
                           (uint64_t)(uint32_t)first),
                       (uint64_t)(uint32_t)line) | 1;
    size_t mask = ((size_t)1 << ENT_BITS) - 1, i = key & mask;
    for (size_t step = 0; step < 64; step++, i = (i + 1) & mask) {
        struct ent *e = &ents[i];
        uint64_t k = atomic_load_explicit(&e->key, memory_order_acquire);
        if (k == key) {
            /* being filled by another thread, which may not be waited
             * for: make a twin further on (the same frame, two ids) */
            if (!atomic_load_explicit(&e->ready, memory_order_acquire))
                continue;
            if (e->code == code && e->file_obj == fo && e->name_obj == no && e->sig == sig &&
                e->line == line && e->first == first && e->gen == gen)
                return e->id;
            continue;
        }
        if (k)
            continue;
        uint64_t zero = 0;
        if (!atomic_compare_exchange_strong(&e->key, &zero, key)) {
            i = (i - 1) & mask;
            continue;
        }
        e->code = code;
        e->sig = sig;
        e->gen = gen;
        e->file_obj = fo;
        e->name_obj = no;
        e->first = first;
        e->line = line;
        if (code && far) {
            copy_str_far(fo, e->file, sizeof e->file, 1);
            copy_str_far(no, e->name, sizeof e->name, 0);
        } else if (code) {
            copy_str(fo, e->file, sizeof e->file, 1);
            copy_str(no, e->name, sizeof e->name, 0);
        } else {
            snprintf(e->file, sizeof e->file, "%s", "");
            snprintf(e->name, sizeof e->name, "%s",
                     line ? "<python: frame table full>" : "<python: unreadable>");
        }
        e->id = atomic_fetch_add(&next_ent_id, 1);
        atomic_store_explicit(&e->ready, 1, memory_order_release);
        if (e->id <= (1u << ENT_BITS))
            atomic_store_explicit(&by_id[e->id], (uint32_t)i + 1, memory_order_release);
        return e->id;
    }
    atomic_store(&ents_full, 1);
    return full_id;
}

/* The id of CODE at instruction LASTI.  Decoding a line table costs up to
 * a few thousand instructions for a long function, so the answer is kept
 * in a direct-mapped cache: one 64-bit word a slot, the high 40 bits of a
 * hash of (code object, its file and name objects, first line, LASTI) and
 * the id in the low 24, written and read whole (no torn entry, no lock).
 * A code object freed and another made at its address has other name or
 * file objects or first line, so a different hash, but for a collision of
 * 40 bits. */
#define CACHE_BITS 12
#define ID_BITS    24
static _Atomic uint64_t cache[1 << CACHE_BITS];

/* the cached id of (CODE, FO, NO, FIRST, LASTI), or 0 with its slot and tag */
static uint32_t cached(uintptr_t code, uintptr_t fo, uintptr_t no, uint64_t sig, int first,
                       int64_t lasti, _Atomic uint64_t **slot, uint64_t *tag)
{
    uint64_t h = mix(mix(mix(mix(mix(mix(mix(7, gen_now()), code), fo), no), sig),
                         (uint64_t)(uint32_t)first),
                     (uint64_t)lasti);
    *slot = &cache[(h >> 7) & ((1 << CACHE_BITS) - 1)];
    uint64_t e = atomic_load_explicit(*slot, memory_order_relaxed);
    *tag = h & ~(((uint64_t)1 << ID_BITS) - 1);
    if ((e & ~(((uint64_t)1 << ID_BITS) - 1)) == *tag && (e & (((uint64_t)1 << ID_BITS) - 1)))
        return (uint32_t)(e & (((uint64_t)1 << ID_BITS) - 1));
    return 0;
}

static void cache_put(_Atomic uint64_t *slot, uint64_t tag, uint32_t id)
{
    if (id && id != unreadable_id && id != full_id && id < ((uint32_t)1 << ID_BITS))
        atomic_store_explicit(slot, tag | id, memory_order_relaxed);
}

/* What a str holds, in a word: its length, its first 8 bytes and its last
 * 24 (where paths and names differ).  The addresses of a code object and
 * its strings are not enough to tell it: code compiled, run and dropped
 * in a loop (exec, a module reloaded) frees them, and the next round's
 * are made at the same addresses, with other files and lines.  Those
 * bytes of the characters are read here in the thread's own memory, and
 * by the CPU sampler through the kernel (str_sig_far): the two agree. */
#define SIG_HEAD 8
#define SIG_TAIL 24
static uint64_t sig_of(int64_t len, const unsigned char *d, size_t bytes)
{
    uint64_t head = 0, tail[SIG_TAIL / 8] = {0};
    memcpy(&head, d, bytes < SIG_HEAD ? bytes : SIG_HEAD);
    if (bytes > SIG_HEAD) {
        size_t t = bytes - SIG_HEAD < SIG_TAIL ? bytes - SIG_HEAD : SIG_TAIL;
        memcpy(tail, d + bytes - t, t);
    }
    uint64_t h = mix((uint64_t)len, head);
    for (size_t i = 0; i < SIG_TAIL / 8; i++)
        h = mix(h, tail[i]);
    return h;
}

static uint64_t str_sig(uintptr_t o)
{
    unsigned kind;
    int64_t len;
    const unsigned char *d = chars_of(o, &len, &kind);
    if (!d || len > (1 << 20))
        return 0;
    return sig_of(len, d, (size_t)len * kind);
}

static uint64_t code_sig(uint64_t fo_sig, uint64_t no_sig)
{
    return mix(fo_sig, no_sig) | 1;
}

static uint32_t frame_id(uintptr_t code, int64_t lasti, int first)
{
    uintptr_t fo = rd_ptr(code, L.co_filename);
    uintptr_t no = rd_ptr(code, L.co_qualname >= 0 ? L.co_qualname : L.co_name);
    uint64_t sig = code_sig(str_sig(fo), str_sig(no));
    _Atomic uint64_t *slot;
    uint64_t tag;
    uint32_t id = cached(code, fo, no, sig, first, lasti, &slot, &tag);
    if (id)
        return id;
    id = ident(code, fo, no, sig, first, code_line(code, lasti, first), 0);
    cache_put(slot, tag, id);
    return id;
}

/* ---- the walk -------------------------------------------------------------- */

/* (A code object whose first line is 0.)  CPython's own frame that ends
 * an __init__ call made by a specialised CALL (3.13's _Py_InitCleanup):
 * its file and name are the same "__init__" object, it has no line, and
 * the interpreter never shows it (sys._getframe, tracebacks); a walk
 * passes over it, as over an entry frame.  Before, 9 of 10 objects made
 * in a loop showed an "__init__ (__init__)" frame between __init__ and
 * its caller. */
static int shown_never(uintptr_t file, uintptr_t name)
{
    return L.minor >= 12 && file == name;
}

/* the id frame_id_far gives such a frame: none, and the walk goes on */
#define SKIP_ID UINT32_MAX

/* Python frames of this thread, innermost first, in ids[]; ends[g] is one
 * past the last frame run by the g-th innermost evaluation call */
static int walk_frames(uint32_t *ids, int *ends, int *ngroups);

/* walks under way, and the program's dlcloses under way: a dlclose that
 * may unload the interpreter waits for the walks (pp_py_close_begin), and
 * no walk of an interpreter loaded late begins while one is under way.  An
 * interpreter linked into the program or loaded with it cannot go: its
 * frames are read during a dlclose too.
 *
 * py_late is set before pp_py_on is turned on for a late interpreter, and
 * never cleared (forgetting one turns pp_py_on off only): a walk that
 * reads pp_py_on on and then py_late off reads an interpreter that cannot
 * be unloaded. */
static _Atomic int py_walking, py_closing;
static int py_late;                     /* the interpreter is in a library loaded late */
static _Atomic int py_fin_seen;         /* a walk saw a linked-in runtime finalizing */

static int walk(uint32_t *ids, int *ends, int *ngroups)
{
    int n = 0;
    *ngroups = 0;
    atomic_fetch_add(&py_walking, 1);
    if (__atomic_load_n(&pp_py_on, __ATOMIC_SEQ_CST) &&
        !(__atomic_load_n(&py_late, __ATOMIC_SEQ_CST) && atomic_load(&py_closing)))
        n = walk_frames(ids, ends, ngroups);
    atomic_fetch_sub(&py_walking, 1);
    return n;
}

static uintptr_t runtime;               /* _PyRuntime */
static int peek(void *d, uintptr_t a, size_t n);
static int peek_ptr(uintptr_t a, uintptr_t *v);

/* An interpreter loaded late can go with no dlclose to say so: a dlopen
 * that fails in relocation (a library that needs libpython and a name
 * nobody defines) unmaps libpython again after a look may have found it,
 * and what the loader maps next can come where its data were, so that
 * its runtime's list of interpreters reads as anything.  So each walk of
 * one loaded late first reads, through the kernel, 16 bytes from the
 * middle of its evaluation function (tens of KiB; a debugger's or an
 * uprobe's breakpoint goes at its start), kept when it was found:
 * unmapped, or other bytes there, and it is gone; nothing of it is read
 * or called, and the next look finds it again wherever the loader maps
 * it.  The same library mapped again where it was has the same bytes and
 * the same addresses, and its runtime lists no interpreter until one is
 * set up. */
#define EVAL_MARK 16
static unsigned char eval_mark[EVAL_MARK];
static uintptr_t eval_mid;              /* where they are */
static int py_gone(void);

/* An interpreter loaded late may be in a namespace of its own (dlmopen),
 * with a libc of its own: its thread-specific keys are numbered from 0
 * again, in the slots of the same thread descriptor, and with the same
 * sequence numbers as the last namespace's libc, so that
 * PyGILState_GetThisThreadState may answer what a libpython opened before,
 * and closed since, left in this thread's slot (or another libc's value
 * for a key of the same number): CPython stores its thread state there
 * only when it finds the slot empty.  So its answer TS is believed only
 * when, read through the kernel, it is in the thread list of one of this
 * runtime's interpreters (HEAD on: an interpreter set up again at the
 * same address has the same address, and a state it freed, or one that
 * finalizing freed while its thread's slot still held it, is in no list)
 * and is this thread's; else the first state of this thread met in the
 * lists is taken.  0 (a thread with no Python state): none, at once.
 * Reading the lists costs one read a state up to the answer (CPython puts
 * a new thread's state first, so the main thread's comes last), so an
 * answer believed is remembered (a hash of the thread, the state, the
 * state its list began with, and the interpreter's generation) and
 * believed again at a later walk while, read again, its list still
 * begins with that state (no thread state was made since, and finalizing
 * did not cut the list down to its own) and the state before it still
 * points at it (or it is the first): a state deleted since is unlinked. */
#define TS_OK_BITS 8
static _Atomic uint64_t ts_ok[1 << TS_OK_BITS];

static _Atomic uint64_t *ts_slot(uintptr_t self, uintptr_t ts, uintptr_t first, uint64_t *tag)
{
    *tag = mix(mix(mix(mix(11, self), ts), first), gen_now()) | 1;
    return &ts_ok[(*tag >> 11) & ((1u << TS_OK_BITS) - 1)];
}

/* the first thread state in the lists of the interpreters from HEAD on
 * that is WANT (WANT 0: whose thread is SELF, one more read a state), read
 * through the kernel; FIRST: the state its list begins with.  0: none */
static uintptr_t find_state(uintptr_t head, uintptr_t want, uintptr_t self, uintptr_t *first)
{
    long budget = 1L << 16;             /* states read, a cycle's bound */
    uintptr_t v;
    for (uintptr_t i = head; i && ptr_ok(i) && budget > 0;) {
        uintptr_t t;
        if (peek_ptr(i + (uintptr_t)L.is_threads, &t) != 0)
            return 0;
        *first = t;
        for (; t && ptr_ok(t) && budget-- > 0;) {
            if (want ? t == want
                     : peek_ptr(t + (uintptr_t)L.ts_thread_id, &v) == 0 && v == self)
                return t;
            if (peek_ptr(t + (uintptr_t)L.ts_next, &t) != 0)
                break;
        }
        if (peek_ptr(i + (uintptr_t)L.is_next, &i) != 0)
            break;
    }
    return 0;
}

static uintptr_t ts_of_interp(uintptr_t ts, uintptr_t head)
{
    uintptr_t self = (uintptr_t)pthread_self(), v, interp, first, prev;
    uint64_t tag;
    if (!ts)
        return 0;
    int at_prev = L.ts_next - (int)sizeof(uintptr_t);  /* prev, then next */
    if (at_prev >= 0 && peek_ptr(ts + (uintptr_t)L.ts_interp, &interp) == 0 && ptr_ok(interp) &&
        peek_ptr(interp + (uintptr_t)L.is_threads, &first) == 0 &&
        atomic_load_explicit(ts_slot(self, ts, first, &tag), memory_order_relaxed) == tag &&
        peek_ptr(ts + (uintptr_t)at_prev, &prev) == 0 &&
        (prev ? peek_ptr(prev + (uintptr_t)L.ts_next, &v) == 0 && v == ts : first == ts))
        return ts;
    if (find_state(head, ts, self, &first)) {
        if (peek_ptr(ts + (uintptr_t)L.ts_thread_id, &v) != 0 || v != self)
            return 0;
        atomic_store_explicit(ts_slot(self, ts, first, &tag), tag, memory_order_relaxed);
        return ts;
    }
    /* not in any list: this thread's own, if it has one there */
    return find_state(head, 0, self, &first);
}

static int walk_frames(uint32_t *ids, int *ends, int *ngroups)
{
    int n = 0, g = 0;
    /* no interpreter yet (none made, or a libpython still being loaded
     * and relocated: its code is not to be run), or none left.  One loaded
     * late is read through the kernel: a dlopen that fails unmaps it with
     * no dlclose to say so */
    uintptr_t head = 0;
    if (py_late && py_gone())
        return 0;
    if (!runtime || (py_late ? peek(&head, runtime + (uintptr_t)L.rt_interp_head, sizeof head) != 0
                             : !(head = rd_ptr(runtime, L.rt_interp_head))) ||
        !head)
        return 0;
    uintptr_t ts = (uintptr_t)get_tstate();
    if (py_late) {
        ts = ts_of_interp(ts, head);
    } else {
        /* finalizing frees every thread state but its own before it
         * clears the slots that hold them: a daemon thread in a C call
         * that allocates then gets a freed state from its slot.  While
         * the runtime finalizes (its finalizing state set before the
         * others are freed, reset only by a new set-up), only the
         * finalizing thread's frames are read: its own state, or another
         * it runs under (a sub-interpreter ended at finalizing), known by
         * the finalizing state's thread (read through the kernel: only
         * this thread's state is sure to be live).  (One loaded late: a
         * freed state is in no list.)  A walk that finds it no longer
         * finalizing after one found it finalizing meets an interpreter
         * set up again: a new generation, counted before the mark is
         * cleared, so that no walk that saw the mark reads the old one */
        uintptr_t fin = __atomic_load_n((const uintptr_t *)(runtime + (uintptr_t)L.rt_finalizing),
                                        __ATOMIC_ACQUIRE), tid;
        if (fin) {
            if (!atomic_load(&py_fin_seen))
                atomic_store(&py_fin_seen, 1);
            if (fin != ts && (!ts || peek_ptr(fin + (uintptr_t)L.ts_thread_id, &tid) != 0 ||
                              tid != (uintptr_t)pthread_self()))
                return 0;
        } else if (atomic_load(&py_fin_seen)) {
            __atomic_fetch_add(&py_gen, 1, __ATOMIC_SEQ_CST);
            atomic_store(&py_fin_seen, 0);
        }
    }
    *ngroups = 0;
    if (!ptr_ok(ts))
        return 0;
    uintptr_t f = rd_ptr(ts, L.ts_frame);
    if (L.cf_current >= 0) {
        if (!ptr_ok(f))
            return 0;
        f = rd_ptr(f, L.cf_current);
    }
    while (f && n < PY_MAX) {
        if (!ptr_ok(f))
            goto bad;
        if (L.minor <= 10) {
            if (!is_a(f, t_frame))
                goto bad;
            uintptr_t code = rd_ptr(f, L.fr_code);
            if (!is_a(code, t_code))
                goto bad;
            int lasti = *(const int *)(f + (uintptr_t)L.fr_lasti);
            int first = *(const int *)(code + (uintptr_t)L.co_firstlineno);
            ids[n++] = frame_id(code, lasti, first);
            ends[g++] = n;
            f = rd_ptr(f, L.fr_back);
            continue;
        }
        unsigned char owner = *(const unsigned char *)(f + (uintptr_t)L.if_owner);
        if (L.owned_by_cstack >= 0 && owner == (unsigned)L.owned_by_cstack) {
            if (g == 0 || ends[g - 1] != n)
                ends[g++] = n;          /* the entry frame of an evaluation call */
            f = rd_ptr(f, L.if_previous);
            continue;
        }
        uintptr_t code = rd_ptr(f, L.if_code);
        if (!is_a(code, t_code))
            goto bad;
        int first = *(const int *)(code + (uintptr_t)L.co_firstlineno);
        if (PP_UNLIKELY(first == 0) && shown_never(rd_ptr(code, L.co_filename),
                                                   rd_ptr(code, L.co_name))) {
            f = rd_ptr(f, L.if_previous);
            continue;
        }
        uintptr_t ins = rd_ptr(f, L.if_instr), start = code + (uintptr_t)L.co_code;
        int64_t size = *(const int64_t *)(code + 16);      /* code units */
        int64_t lasti = ins >= start ? (int64_t)(ins - start) / 2 : -1;
        if (lasti >= size)
            lasti = -1;
        ids[n++] = frame_id(code, lasti, first);
        if (L.if_entry >= 0 && *(const unsigned char *)(f + (uintptr_t)L.if_entry))
            ends[g++] = n;
        f = rd_ptr(f, L.if_previous);
    }
    if (g == 0 || ends[g - 1] != n)
        ends[g++] = n;
    *ngroups = g;
    return n;
bad:
    ids[n++] = unreadable_id;
    ends[g++] = n;
    *ngroups = g;
    return n;
}

/* Merge the Python frames into the native stack FRAMES[0..N): each
 * evaluation frame, innermost first, is replaced by the Python frames of
 * its call; frames of calls whose evaluation frame was not seen (a cut
 * stack) go at the end.  Returns the new count, at most MAX. */
static int merge(const uint32_t *ids, const int *ends, int np, int ng, uintptr_t *frames,
                 int n, int max)
{
    uintptr_t out[PP_STACK_MAX];
    int o = 0, g = 0, k = 0;
    for (int i = 0; i < n && o < PP_STACK_MAX; i++) {
        if (frames[i] > eval_lo && frames[i] <= eval_hi && g < ng) {
            for (; k < ends[g] && o < PP_STACK_MAX; k++)
                out[o++] = PP_PY_MARK(ids[k]);
            g++;
            continue;
        }
        out[o++] = frames[i];
    }
    for (; k < np && o < PP_STACK_MAX; k++)
        out[o++] = PP_PY_MARK(ids[k]);
    if (o > max)
        o = max;
    memcpy(frames, out, (size_t)o * sizeof *out);
    return o;
}

int pp_py_merge(uintptr_t *frames, int n, int max)
{
    uint32_t ids[PY_MAX + 1];
    int ends[PY_MAX + 2], ng;
    int np = walk(ids, ends, &ng);
    if (np == 0)
        return n;
    return merge(ids, ends, np, ng, frames, n, max);
}

/* ---- another thread's frames, from outside (the CPU sampler) ----------------
 *
 * The CPU sampler (cpu.c) reads the Python frames of a thread it has
 * samples of while that thread runs on: nothing in it is consistent at the
 * moment of the read, and any of it may be freed under the reader.  So
 * every read here goes through the kernel (pp_os_peek: an address not
 * mapped is an error, never a fault), every object is checked for its type
 * before its fields are believed, and every walk is bounded.  A frame that
 * fails ends the walk with one "<python: unreadable>" frame.  Only the
 * sampler thread runs this (one buffer for line tables, no lock). */

#define CODE_BYTES 384                  /* of a code object: every field read */
#define FRAME_BYTES 128                 /* of a frame */
#define LINES_MAX  (64u << 10)          /* a line table read whole up to this */
#define TS_MAX     4096                 /* thread states looked at per search */
#define TS_CACHE   256

static int far_off;                     /* the kernel refused a read: no more
                                         * (cpu.c says so) */
static int pthread_tid_at = -1;         /* the tid in glibc's struct pthread (sys.h) */
static unsigned char *lines;            /* LINES_MAX, the sampler's */
static struct { pid_t tid; uintptr_t ts; } ts_cache[TS_CACHE];

static int peek(void *d, uintptr_t a, size_t n)
{
    if (far_off || a < 65536 || a >= ((uintptr_t)1 << 47) - n)
        return -1;
    int err = pp_os_peek(d, a, n);
    if (err && err != EFAULT)
        far_off = 1;
    return err ? -1 : 0;
}

static int peek_ptr(uintptr_t a, uintptr_t *v)
{
    *v = 0;
    return (a & 7) ? -1 : peek(v, a, sizeof *v);
}

/* fields of a copy */
static uintptr_t f_ptr(const void *b, int off)
{
    uintptr_t v;
    memcpy(&v, (const char *)b + off, sizeof v);
    return v;
}

static int64_t f_i64(const void *b, int off)
{
    int64_t v;
    memcpy(&v, (const char *)b + off, sizeof v);
    return v;
}

static int f_int(const void *b, int off)
{
    int v;
    memcpy(&v, (const char *)b + off, sizeof v);
    return v;
}

static void copy_str_far(uintptr_t o, char *out, size_t cap, int tail)
{
    unsigned char h[48], d[4 * FILE_MAX];
    unsigned kind = 0;
    int64_t len = -1;
    uintptr_t at = 0;
    if (ptr_ok(o) && peek(h, o, sizeof h) == 0 && f_ptr(h, 8) == t_unicode) {
        len = f_i64(h, 16);
        uint32_t state;
        memcpy(&state, h + 32, sizeof state);
        at = len >= 0 ? str_data(len, state, &kind) : 0;
    }
    int64_t from = 0;
    if (at && len > (int64_t)cap) {     /* more than fits is cut anyway */
        from = tail ? len - (int64_t)cap : 0;
        len = (int64_t)cap;
    }
    if (!at || peek(d, o + at + (uintptr_t)from * kind, (size_t)len * kind) != 0) {
        snprintf(out, cap, "<python: unreadable>");
        return;
    }
    if (tail)
        decode_tail(d, len, kind, from, out, cap);
    else
        decode_str(d, len, kind, out, cap);
}

/* str_sig, read through the kernel: one read for a short string (its
 * header and characters), else the header, then the head and the tail */
static uint64_t str_sig_far(uintptr_t o)
{
    unsigned char b[160];
    unsigned kind = 0;
    if (!ptr_ok(o) || (peek(b, o, sizeof b) != 0 && peek(b, o, 48) != 0) ||
        f_ptr(b, 8) != t_unicode)
        return 0;
    int64_t len = f_i64(b, 16);
    uint32_t state;
    memcpy(&state, b + 32, sizeof state);
    uintptr_t at = len >= 0 ? str_data(len, state, &kind) : 0;
    if (!at || len > (1 << 20))
        return 0;
    size_t bytes = (size_t)len * kind;
    if (at + bytes <= sizeof b && peek(b, o, at + bytes) == 0)
        return sig_of(len, b + at, bytes);
    unsigned char d[SIG_HEAD + SIG_TAIL];
    size_t t = bytes > SIG_HEAD + SIG_TAIL ? SIG_TAIL : bytes - (bytes < SIG_HEAD ? bytes : SIG_HEAD);
    size_t h = bytes < SIG_HEAD ? bytes : SIG_HEAD;
    if (peek(d, o + at, h) != 0 || (t && peek(d + h, o + at + bytes - t, t) != 0))
        return 0;
    return sig_of(len, d, h + t);
}

/* the line of the code object copied in C (at CODE) at LASTI */
static int line_far(const void *c, int64_t lasti, int first)
{
    if (lasti < 0)
        return first;
    unsigned char h[32];
    uintptr_t tab = f_ptr(c, L.co_linetable);
    if (!ptr_ok(tab) || peek(h, tab, sizeof h) != 0 || f_ptr(h, 8) != t_bytes)
        return first;
    int64_t n = f_i64(h, 16);
    if (n < 0)
        return first;
    if (n > (int64_t)LINES_MAX)
        n = LINES_MAX;                  /* a longer table: the line at its end */
    if (peek(lines, tab + 32, (size_t)n) != 0)
        return first;
    return table_line(lines, n, lasti, first);
}

/* the id of the frame running CODE at LASTI (or, 3.11+, instruction INS),
 * or 0 when CODE is not a code object */
static uint32_t frame_id_far(uintptr_t code, int64_t lasti, uintptr_t ins)
{
    uint64_t c[CODE_BYTES / 8];
    if (!ptr_ok(code) || peek(c, code, sizeof c) != 0 || f_ptr(c, 8) != t_code)
        return 0;
    int first = f_int(c, L.co_firstlineno);
    if (first == 0 && shown_never(f_ptr(c, L.co_filename), f_ptr(c, L.co_name)))
        return SKIP_ID;
    if (L.minor >= 11) {
        uintptr_t start = code + (uintptr_t)L.co_code;
        lasti = ins >= start ? (int64_t)(ins - start) / 2 : -1;
        if (lasti >= f_i64(c, 16))
            lasti = -1;
    }
    uintptr_t fo = f_ptr(c, L.co_filename);
    uintptr_t no = f_ptr(c, L.co_qualname >= 0 ? L.co_qualname : L.co_name);
    uint64_t sig = code_sig(str_sig_far(fo), str_sig_far(no));
    _Atomic uint64_t *slot;
    uint64_t tag;
    uint32_t id = cached(code, fo, no, sig, first, lasti, &slot, &tag);
    if (id)
        return id;
    id = ident(code, fo, no, sig, first, line_far(c, lasti, first), 1);
    cache_put(slot, tag, id);
    return id;
}

/* is TS the thread state of thread TID: its native_thread_id (3.11+), or
 * the tid in the struct pthread its thread_id (pthread_self) points to */
static int ts_is(uintptr_t ts, pid_t tid)
{
    uintptr_t v;
    if (L.ts_native_id >= 0)
        return peek_ptr(ts + (uintptr_t)L.ts_native_id, &v) == 0 && v == (uintptr_t)tid;
    int32_t t;
    return pthread_tid_at >= 0 && peek_ptr(ts + (uintptr_t)L.ts_thread_id, &v) == 0 &&
           v && peek(&t, v + (uintptr_t)pthread_tid_at, sizeof t) == 0 && t == tid;
}

/* thread TID's PyThreadState, or 0: the interpreters' lists of threads.
 * While the runtime finalizes, the cache is passed over: finalizing frees
 * every other thread's state (unlinked from the lists first), and a
 * daemon thread still running C code would have its freed state, perhaps
 * reused, read through the cache (read through the kernel: no fault, but
 * frames that are not the thread's).  A linked-in runtime's mark is read
 * directly, a late one's through the kernel. */
static uintptr_t ts_of(pid_t tid)
{
    unsigned h = ((unsigned)tid * 2654435761u) >> 24;
    uintptr_t fin = 0;
    if (!runtime)
        return 0;
    if (py_late)
        peek_ptr(runtime + (uintptr_t)L.rt_finalizing, &fin);
    else
        fin = __atomic_load_n((const uintptr_t *)(runtime + (uintptr_t)L.rt_finalizing),
                              __ATOMIC_ACQUIRE);
    if (!fin && ts_cache[h].tid == tid && ts_is(ts_cache[h].ts, tid))
        return ts_cache[h].ts;
    uintptr_t interp;
    if (peek_ptr(runtime + (uintptr_t)L.rt_interp_head, &interp) != 0)
        return 0;
    int budget = TS_MAX;
    for (int k = 0; interp && k < 64 && budget > 0; k++) {
        uintptr_t ts;
        if (!ptr_ok(interp) || peek_ptr(interp + (uintptr_t)L.is_threads, &ts) != 0)
            return 0;
        for (; ts && budget-- > 0;) {
            if (!ptr_ok(ts))
                break;
            if (ts_is(ts, tid)) {
                ts_cache[h].tid = tid;
                ts_cache[h].ts = ts;
                return ts;
            }
            if (peek_ptr(ts + (uintptr_t)L.ts_next, &ts) != 0)
                break;
        }
        if (peek_ptr(interp + (uintptr_t)L.is_next, &interp) != 0)
            return 0;
    }
    return 0;
}

int pp_py_read_thread(pid_t tid, struct pp_py_stack *s)
{
    s->n = s->ng = s->bad = 0;
    if (!py_ok || far_off)
        return 0;
    if (!lines) {
        lines = pp_os_map(LINES_MAX);
        if (!lines)
            return 0;
        if (L.ts_native_id < 0)
            pthread_tid_at = pp_os_tid_offset(1);
    }
    uintptr_t ts = ts_of(tid), f;
    if (!ts || peek_ptr(ts + (uintptr_t)L.ts_frame, &f) != 0)
        return 0;
    if (L.cf_current >= 0 && f && (!ptr_ok(f) || peek_ptr(f + (uintptr_t)L.cf_current, &f)))
        f = 1;                          /* unreadable */
    int n = 0, g = 0;
    uint64_t fb[FRAME_BYTES / 8];
    while (f && n < PY_MAX) {
        if (!ptr_ok(f) || peek(fb, f, sizeof fb) != 0)
            goto bad;
        uint32_t id;
        if (L.minor <= 10) {
            if (f_ptr(fb, 8) != t_frame)
                goto bad;
            if (!(id = frame_id_far(f_ptr(fb, L.fr_code), f_int(fb, L.fr_lasti), 0)))
                goto bad;
            s->ids[n++] = id;
            s->ends[g++] = n;
            f = f_ptr(fb, L.fr_back);
            continue;
        }
        unsigned char owner = ((const unsigned char *)fb)[L.if_owner];
        if (L.owned_by_cstack >= 0 && owner == (unsigned)L.owned_by_cstack) {
            if (g == 0 || s->ends[g - 1] != n)
                s->ends[g++] = n;
            f = f_ptr(fb, L.if_previous);
            continue;
        }
        if (!(id = frame_id_far(f_ptr(fb, L.if_code), 0, f_ptr(fb, L.if_instr))))
            goto bad;
        if (id == SKIP_ID) {
            f = f_ptr(fb, L.if_previous);
            continue;
        }
        s->ids[n++] = id;
        if (L.if_entry >= 0 && ((const unsigned char *)fb)[L.if_entry])
            s->ends[g++] = n;
        f = f_ptr(fb, L.if_previous);
    }
    if (n && (g == 0 || s->ends[g - 1] != n))
        s->ends[g++] = n;
    s->n = n;
    s->ng = g;
    return n;
bad:
    s->ids[n++] = unreadable_id;
    s->ends[g++] = n;
    s->n = n;
    s->ng = g;
    s->bad = 1;
    return n;
}

int pp_py_evals(const uintptr_t *frames, int n)
{
    int e = 0;
    for (int i = 0; i < n; i++)
        e += frames[i] > eval_lo && frames[i] <= eval_hi;
    return e;
}

/* S's frames merged into FRAMES[0..N), a sample's stack.  OUTER (the
 * native walk reached the outermost frame and S was read whole): the
 * evaluation calls are matched from the outermost, so that where the
 * thread has since gone deeper the extra inner calls are left out, and
 * where it has since returned from calls the sample was in, their
 * evaluation frames become "<python: unreadable>"; else as pp_py_merge. */
int pp_py_merge_read(const struct pp_py_stack *s, uintptr_t *frames, int n, int max, int outer)
{
    if (s->n == 0)
        return n;
    int e = pp_py_evals(frames, n);
    if (!outer || s->bad || e == s->ng)
        return merge(s->ids, s->ends, s->n, s->ng, frames, n, max);
    uintptr_t out[PP_STACK_MAX];
    int o = 0, shift = e - s->ng, ev = 0;
    for (int i = 0; i < n && o < PP_STACK_MAX; i++) {
        if (!(frames[i] > eval_lo && frames[i] <= eval_hi)) {
            out[o++] = frames[i];
            continue;
        }
        int g = ev++ - shift;
        if (g < 0) {
            out[o++] = PP_PY_MARK(unreadable_id);
            continue;
        }
        for (int k = g ? s->ends[g - 1] : 0; k < s->ends[g] && o < PP_STACK_MAX; k++)
            out[o++] = PP_PY_MARK(s->ids[k]);
    }
    if (o > max)
        o = max;
    memcpy(frames, out, (size_t)o * sizeof *out);
    return o;
}

int pp_py_is_unreadable(uintptr_t v)
{
    return unreadable_id && v == PP_PY_MARK(unreadable_id);
}

/* ---- start-up -------------------------------------------------------------- */

static void say_no(const char *why, const char *what)
{
    if (pp_state.first_image)
        pp_warn("Python frames are not read: ", why, what, "; native frames only");
}

/* a symbol of the process, or 0: pp_real_global (a program without
 * Python leaves the loader no message, and its own first dlerror() reads
 * NULL as it would without the shim) */
static size_t scope;                    /* 0: the global scope; else a libpython's
                                         * module (pp_modules_*) plus 1 */

static uintptr_t sym(const char *name)
{
    if (scope) {
        uintptr_t a;
        return pp_module_symbol(scope - 1, name, &a, NULL) == 0 ? a : 0;
    }
    return (uintptr_t)pp_real_global(name);
}

static int py_found;                    /* an interpreter was met, read or not */
static uintptr_t py_base;               /* the load base of that library */
static int py_tried;                    /* pp_py_init ran: stacks are on */
static size_t py_modules_seen;
static _Atomic int py_rescan;           /* an interpreter was forgotten: the list
                                         * is looked through again from its start */
_Atomic unsigned pp_dlopens;

void pp_py_init(void)
{
    __atomic_store_n(&pp_py_on, 0, __ATOMIC_RELEASE);
    py_ok = 0;
    py_tried = 1;
    uintptr_t eval = sym("_PyEval_EvalFrameDefault");
    if (!eval)
        return;                         /* no interpreter */
    py_found = 1;
    int major = 0, minor = 0;
    const unsigned long *hex = (const unsigned long *)sym("Py_Version");
    if (hex) {
        major = (int)(*hex >> 24);
        minor = (int)((*hex >> 16) & 255);
    } else if (scope) {
        /* loaded late, maybe still being relocated: none of its code is
         * run; its version is in its name (libpython3.N) */
        const char *path = pp_modules_path(scope - 1), *base = path ? strrchr(path, '/') : NULL;
        if (base && strncmp(base + 1, "libpython3.", 11) == 0) {
            major = 3;
            minor = atoi(base + 12);
        }
    } else {
        const char *(*ver)(void) = (const char *(*)(void))sym("Py_GetVersion");
        const char *v = ver ? ver() : NULL;
        if (v && v[0] >= '0' && v[0] <= '9' && v[1] == '.') {
            major = v[0] - '0';
            minor = atoi(v + 2);
        }
    }
    char vs[16];
    snprintf(vs, sizeof vs, "%d.%d", major, minor);
    static const struct pp_py_layout rows[] = {PP_PY_LAYOUTS};
    const struct pp_py_layout *row = NULL;
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (major == 3 && rows[i].minor == minor)
            row = &rows[i];
    if (!row) {
        say_no("CPython ", major ? vs : "of an unknown version");
        return;
    }
    if (sym("_Py_PrintReferences") || sym("_Py_ForgetReference")) {
        say_no("a debug build of CPython ", vs);
        return;
    }
    L = *row;
    if (minor >= 13) {
        const char *rt = (const char *)sym("_PyRuntime");
        if (!rt || memcmp(rt, "xdebugpy", 8) != 0) {
            say_no("no _Py_DebugOffsets in CPython ", vs);
            return;
        }
        uint64_t v = *(const uint64_t *)(rt + PP_PY_DBG_VERSION);
        if (*(const uint64_t *)(rt + PP_PY_DBG_FREE_THREADED)) {
            say_no("a free-threaded build of CPython ", vs);
            return;
        }
        if ((v >> 24) == 3 && ((v >> 16) & 255) == 13) {
#define DBG(field, at) L.field = (int)*(const uint64_t *)(rt + (at))
            DBG(ts_frame, PP_PY_DBG_TS_FRAME);
            DBG(if_previous, PP_PY_DBG_IF_PREVIOUS);
            DBG(if_code, PP_PY_DBG_IF_CODE);
            DBG(if_instr, PP_PY_DBG_IF_INSTR);
            DBG(if_owner, PP_PY_DBG_IF_OWNER);
            DBG(co_filename, PP_PY_DBG_CO_FILENAME);
            DBG(co_name, PP_PY_DBG_CO_NAME);
            DBG(co_qualname, PP_PY_DBG_CO_QUALNAME);
            DBG(co_linetable, PP_PY_DBG_CO_LINETABLE);
            DBG(co_firstlineno, PP_PY_DBG_CO_FIRSTLINENO);
            DBG(co_code, PP_PY_DBG_CO_CODE);
            DBG(rt_interp_head, PP_PY_DBG_RT_INTERP_HEAD);
            DBG(is_next, PP_PY_DBG_IS_NEXT);
            DBG(is_threads, PP_PY_DBG_IS_THREADS);
            DBG(ts_next, PP_PY_DBG_TS_NEXT);
            DBG(ts_interp, PP_PY_DBG_TS_INTERP);
            DBG(ts_thread_id, PP_PY_DBG_TS_THREAD_ID);
            DBG(ts_native_id, PP_PY_DBG_TS_NATIVE_ID);
            DBG(rt_finalizing, PP_PY_DBG_RT_FINALIZING);
#undef DBG
        }
    }
    get_tstate = (void *(*)(void))sym("PyGILState_GetThisThreadState");
    t_code = sym("PyCode_Type");
    t_unicode = sym("PyUnicode_Type");
    t_bytes = sym("PyBytes_Type");
    t_frame = sym("PyFrame_Type");
    size_t eval_size = 0;
    if (scope) {
        uintptr_t a;
        if (pp_module_symbol(scope - 1, "_PyEval_EvalFrameDefault", &a, &eval_size) != 0)
            eval_size = 0;
    } else {
#if defined(__linux__)
        Dl_info info;
        const ElfW(Sym) *es = NULL;
        if (dladdr1((void *)eval, &info, (void **)&es, RTLD_DL_SYMENT) && es)
            eval_size = es->st_size;
#else
        /* Mach-O symbols have no size: the module's symbol table gives
         * the bytes up to the next symbol */
        int m = pp_modules_find(eval);
        if (m < 0) {
            pp_modules_refresh();
            m = pp_modules_find(eval);
        }
        uintptr_t a;
        if (m < 0 || pp_module_symbol((size_t)m, "_PyEval_EvalFrameDefault", &a, &eval_size) != 0 ||
            a != eval)
            eval_size = 0;
#endif
    }
    if (!get_tstate || !t_code || !t_unicode || !t_bytes || !t_frame || !eval_size) {
        say_no("symbols missing from CPython ", vs);
        return;
    }
    eval_mid = eval + ((eval_size / 2) & ~(size_t)15);
    if (scope && pp_os_peek(eval_mark, eval_mid, sizeof eval_mark) != 0) {
        say_no("unreadable code in CPython ", vs);
        return;
    }
    eval_lo = eval;
    eval_hi = eval + eval_size;         /* return addresses: (lo, hi] */
    if (!ents) {
        if (!by_id)
            by_id = pp_os_map(sizeof *by_id * ((1u << ENT_BITS) + 1));
        if (!by_id)
            return;
        ents = pp_os_map(sizeof(struct ent) << ENT_BITS);
        if (!ents)
            return;
    }
    unreadable_id = ident(0, 0, 0, 0, 0, 0, 0);
    full_id = ident(0, 0, 0, 0, 0, 1, 0);
    /* an interpreter set up again (its library opened again) makes its
     * objects where the last one made them: its identities are its own,
     * and no cached line of the last one's may answer for its code */
    __atomic_fetch_add(&py_gen, 1, __ATOMIC_RELAXED);
    atomic_store(&py_fin_seen, 0);
    for (size_t i = 0; i < sizeof cache / sizeof *cache; i++)
        atomic_store_explicit(&cache[i], 0, memory_order_relaxed);
    memset(ts_cache, 0, sizeof ts_cache);   /* the CPU sampler's thread states */
    runtime = sym("_PyRuntime");
    py_ok = 1;
    if (pp_py_for_sites)
        __atomic_store_n(&pp_py_on, 1, __ATOMIC_SEQ_CST);
}

/* An interpreter loaded after the start: an application that embeds Python
 * through dlopen, often RTLD_LOCAL, where a look-up in the global scope does
 * not reach it.  Each module added to the shim's list since the last look is
 * looked at: for a new libpython3 the symbols are read from the library's
 * own dynamic symbol table in memory (no loader call: the loader's look-ups
 * allocate, and take no reference that would keep the library loaded).
 *
 * Two threads look.  The sampler, for a second after each dlopen (the
 * dlopen may still be running when the count moves), refreshes the list
 * and looks (pp_py_watch): within a tick of the load.  And the program's
 * own thread, at its first sampled allocations after a dlopen (16 of them
 * while the loader's lists are settled: the count moves as the dlopen
 * begins, and one that has not yet mapped its library reads settled
 * then), refreshes the list and looks before it reads that allocation's
 * frames (pp_py_after_dlopen); it also looks
 * whenever it refreshed the list for another reason (a stack with a frame
 * in no known module; a refresh the sampler had to leave to it while
 * glibc believes the process single-threaded, modules.c).  An
 * interpreter's first allocations come from Py_Initialize, before any
 * Python code runs, so no frame of the program's is missed however late
 * the sampler ticks. */
#define WATCH_TICKS 100
static pp_lock_t watch_lock = PP_LOCK_INIT;
static unsigned dlopens_seen, watch_left;

static void init_in_scope(void *arg)
{
    (void)arg;
    pp_py_init();
}

/* The list keeps the entries of modules since unloaded (sys/modules.c): a
 * libpython among them is read only while it is still mapped (its ELF
 * header read through the kernel, no loader call), and not while a dlopen
 * or dlclose is under way (the one being loaded may yet fail and be
 * unmapped; it is looked at again next time).  Its symbols are read while
 * the loader cannot unload it (sys/modules.c: a dlopen that fails in
 * relocation unmaps what it mapped with no dlclose, after the loader said
 * its list was consistent).  One that is gone, or where another library
 * is now, is looked at again too: the list does not add a library opened
 * again where it was before, which the loader often does.  A look that reads a
 * library's symbols counts as a walk: a dlclose that begins meanwhile
 * waits for it before the loader may unmap what it reads. */
static void look(void)
{
    size_t n = pp_modules_count(), i, again = (size_t)-1;
    if (atomic_exchange(&py_rescan, 0))
        py_modules_seen = 0;
    for (i = py_modules_seen; i < n && !py_found; i++) {
        const char *path = pp_modules_path(i);
        const char *base = path ? strrchr(path, '/') : NULL;
        char magic[4];
        if (!base || strncmp(base + 1, "libpython3", 10) != 0)
            continue;
        if (!pp_modules_settled())
            break;
        atomic_fetch_add(&py_walking, 1);
        int later = atomic_load(&py_closing), gone = 0;
        if (!later) {
            gone = pp_os_peek(magic, pp_modules_base(i), sizeof magic) != 0 ||
                   memcmp(magic, "\177ELF", 4) != 0;
            if (!gone) {
                __atomic_store_n(&py_late, 1, __ATOMIC_SEQ_CST);
                scope = i + 1;
                int ran = pp_modules_while_loaded(i, init_in_scope, NULL);
                scope = 0;
                later = ran < 0;
                gone = ran == 0;
                if (ran > 0) {
                    py_base = pp_modules_base(i);
                    gone = !py_found;   /* another library there now */
                }
            }
            if (gone && again == (size_t)-1)
                again = i;
        }
        atomic_fetch_sub(&py_walking, 1);
        if (later)
            break;
    }
    py_modules_seen = i < again ? i : again;
}

void pp_py_watch(void)
{
    unsigned c = atomic_load_explicit(&pp_dlopens, memory_order_relaxed);
    if (c != dlopens_seen) {
        dlopens_seen = c;
        watch_left = WATCH_TICKS;
    }
    if (!watch_left || py_found || !py_tried)
        return;
    watch_left--;
    if (pp_trylock(&watch_lock))
        return;                         /* a fork, or the program's look */
    pp_modules_refresh();
    look();
    pp_unlock(&watch_lock);
}

#define AFTER_LOOKS 16
static _Atomic unsigned dlopens_looked, after_left;

void pp_py_after_dlopen(void)
{
    unsigned c = atomic_load_explicit(&pp_dlopens, memory_order_relaxed);
    if ((c == atomic_load_explicit(&dlopens_looked, memory_order_relaxed) &&
         !atomic_load_explicit(&after_left, memory_order_relaxed)) ||
        py_found || !py_tried || !pp_modules_settled())
        return;
    unsigned left = AFTER_LOOKS;
    if (atomic_exchange_explicit(&dlopens_looked, c, memory_order_relaxed) == c)
        left = atomic_load_explicit(&after_left, memory_order_relaxed);
    atomic_store_explicit(&after_left, left ? left - 1 : 0, memory_order_relaxed);
    pp_modules_refresh();
    pp_py_look();
}

void pp_py_look(void)
{
    if (py_found || !py_tried || pp_trylock(&watch_lock))
        return;                         /* the sampler is looking now */
    look();
    pp_unlock(&watch_lock);
}

/* A program may open libpython and close it again (a host that looks
 * whether it is there, or is done with a plugin): its code and data go,
 * and no hook may call PyGILState_GetThisThreadState or read _PyRuntime
 * there any more.  While any dlclose of the program's is under way (a
 * count: two threads may close at once), no walk of an interpreter loaded
 * late begins and no look sets one up; the walks and looks under way end
 * (each takes microseconds; waited for 20 ms at most) before the loader
 * can unmap anything.  After the outermost, an interpreter loaded late
 * whose library is no longer where it was is forgotten (the CPU sampler's
 * reads too), and one loaded later is looked for again, from the start of
 * the list: the loader often maps it again where it was, and the list,
 * which keeps the old entry, does not add the same one twice.  Nothing
 * here waits for a lock. */
/* An interpreter loaded late whose library is gone: nothing of it is
 * read again, and the list is looked at again from its start */
static void forget_late(void)
{
    __atomic_store_n(&pp_py_on, 0, __ATOMIC_SEQ_CST);
    py_ok = py_found = 0;
    runtime = 0;
    eval_lo = eval_hi = 0;
    atomic_store(&py_rescan, 1);
}

int pp_py_close_begin(void)
{
    if (!py_tried)
        return 0;
    atomic_fetch_add(&py_closing, 1);
    uint64_t until = pp_now_ns() + 20000000;
    while (atomic_load(&py_walking) && pp_now_ns() < until)
        sched_yield();
    return 1;
}

void pp_py_close_end(int began)
{
    Dl_info info;
    if (!began)
        return;
    if (py_late && py_ok &&
        (!dladdr((void *)eval_lo, &info) || (uintptr_t)info.dli_fbase != py_base))
        forget_late();
    atomic_fetch_sub(&py_closing, 1);
}

/* (A walk of an interpreter loaded late.)  Whether its library is gone
 * (above, at walk_frames); one gone is forgotten as after a dlclose, by
 * one thread, not while a look may be setting one up (that look's own
 * answer stands; the next walk reads again). */
static int py_gone(void)
{
    unsigned char now[EVAL_MARK];
    uintptr_t at = eval_lo, mid = eval_mid;
    if (at && pp_os_peek(now, mid, sizeof now) == 0 && memcmp(now, eval_mark, sizeof now) == 0)
        return 0;
    if (pp_trylock(&watch_lock) == 0) {
        if (eval_lo == at && py_ok)
            forget_late();
        pp_unlock(&watch_lock);
    }
    return 1;
}

/* The look walks the loader's list (dl_iterate_phdr holds the loader's
 * write lock meanwhile): a fork waits for a look in progress, so that the
 * child does not inherit that lock held by a thread it does not have.  The
 * wait is bounded (a thread that forks from inside a dlopen holds what the
 * walk waits for); then the fork goes ahead, and the child, whose loader
 * lock may be held for good, keeps watch_lock held too: it never looks. */
static int watch_held;

void pp_py_fork_prepare(void)
{
    watch_held = pp_lock_until(&watch_lock, pp_now_ns() + 50000000) == 0;
}

void pp_py_fork_done(void)
{
    if (watch_held)
        pp_unlock(&watch_lock);
    watch_held = 0;
}

/* ---- writing --------------------------------------------------------------- */

static _Atomic int map_written;         /* the pseudo-frame of mapping sites */

/* a "pyframe" record for each identity not written yet (outside hooks) */
void pp_py_write(struct pp_buf *b)
{
    if (!ents)
        return;
    if (pp_py_on && !atomic_exchange(&map_written, 1)) {
        b->len = 0;
        pp_buf_str(b, "{\"type\":\"pyframe\",\"id\":");
        pp_buf_u64(b, (uint64_t)-(intptr_t)PP_MAP_MARK);
        pp_buf_str(b, ",\"mapping\":true,\"name\":\"(pymalloc arena: anonymous mapping)\"}");
        pp_timeline_record(b);
    }
    /* the ids from written_to on: one still being filled (by another
     * thread, or by one a fork left behind) is passed over, and looked at
     * again next time */
    uint32_t from = atomic_load(&written_to), end = atomic_load(&next_ent_id), done = from;
    for (uint32_t id = from; id < end && id <= (1u << ENT_BITS); id++) {
        uint32_t at = atomic_load_explicit(&by_id[id], memory_order_acquire);
        if (!at)
            continue;
        if (done == id)
            done = id + 1;
        struct ent *e = &ents[at - 1];
        if (atomic_exchange(&e->written, 1))
            continue;
        b->len = 0;
        pp_buf_str(b, "{\"type\":\"pyframe\",\"id\":");
        pp_buf_u64(b, e->id);
        pp_buf_key(b, "file");
        pp_buf_json_str(b, e->file, sizeof e->file);
        pp_buf_key(b, "name");
        pp_buf_json_str(b, e->name, sizeof e->name);
        pp_buf_key(b, "line");
        pp_buf_i64(b, e->line);
        pp_buf_key(b, "first_line");
        pp_buf_i64(b, e->first);
        pp_buf_str(b, "}");
        pp_timeline_record(b);
    }
    while (done > from && !atomic_compare_exchange_weak(&written_to, &from, done) && done > from)
        ;
}

/* a forked child writes its own records again */
void pp_py_after_fork_child(void)
{
    if (!ents)
        return;
    atomic_store(&map_written, 0);
    atomic_store(&written_to, 1);
    for (size_t i = 0; i < ((size_t)1 << ENT_BITS); i++)
        atomic_store(&ents[i].written, 0);
}
