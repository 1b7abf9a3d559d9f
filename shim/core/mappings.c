/*
 * mappings.c - the program's own mmap'd memory, kept as address ranges.
 *
 * munmap may unmap the middle of a mapping, MAP_FIXED may map over part of
 * another, and mremap may grow, shrink or move one, so a per-call size is
 * not enough: the table is a sorted array of [start, end) ranges, each
 * anonymous or file-backed, and every change is applied to the bytes it
 * really covers.  mmap is a system call anyway, so a mutex here costs
 * nothing measurable; the table's storage comes from raw mmap and grows by
 * doubling.
 */
#include "core/core.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

struct range { uintptr_t start, end; int kind; };

static struct range *tab;
static size_t n_tab, cap_tab;
static uint64_t bytes[2], peak, window_peak;
static pp_lock_t lock = PP_LOCK_INIT;

static size_t page_round(size_t len)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return (len + page - 1) & ~(page - 1);
}

static int grow(void)
{
    size_t cap = cap_tab ? cap_tab * 2 : 256;
    struct range *t = pp_os_map(cap * sizeof *t);
    if (!t)
        return -1;
    if (tab) {
        memcpy(t, tab, n_tab * sizeof *t);
        pp_os_unmap(tab, cap_tab * sizeof *t);
    }
    tab = t;
    cap_tab = cap;
    return 0;
}

/* index of the first range whose end is above addr */
static size_t lower(uintptr_t addr)
{
    size_t lo = 0, hi = n_tab;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (tab[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void insert_at(size_t i, struct range r)
{
    if (n_tab == cap_tab && grow() < 0)
        return;          /* out of memory for the table: the range goes uncounted */
    memmove(tab + i + 1, tab + i, (n_tab - i) * sizeof *tab);
    tab[i] = r;
    n_tab++;
    bytes[r.kind] += r.end - r.start;
}

static void remove_locked(uintptr_t a, uintptr_t b)
{
    size_t i = lower(a);
    while (i < n_tab && tab[i].start < b) {
        struct range r = tab[i];
        uintptr_t lo = r.start > a ? r.start : a;
        uintptr_t hi = r.end < b ? r.end : b;
        bytes[r.kind] -= hi - lo;
        if (r.start < a && r.end > b) {          /* a hole in the middle */
            tab[i].end = a;
            struct range tail = {b, r.end, r.kind};
            bytes[r.kind] -= tail.end - tail.start;  /* insert_at adds it back */
            insert_at(i + 1, tail);
            return;
        }
        if (r.start < a) {                        /* keep the head */
            tab[i].end = a;
            i++;
        } else if (r.end > b) {                   /* keep the tail */
            tab[i].start = b;
            i++;
        } else {                                  /* all of it goes */
            memmove(tab + i, tab + i + 1, (n_tab - i - 1) * sizeof *tab);
            n_tab--;
        }
    }
}

static void note_peak(void)
{
    uint64_t now = bytes[0] + bytes[1];
    if (now > peak)
        peak = now;
    if (now > window_peak)
        window_peak = now;
}

void pp_map_add(uintptr_t addr, size_t len, int kind)
{
    uintptr_t end = addr + page_round(len);
    pp_lock(&lock);
    remove_locked(addr, end);                     /* MAP_FIXED over old ranges */
    insert_at(lower(addr), (struct range){addr, end, kind});
    note_peak();
    pp_unlock(&lock);
}

void pp_map_remove(uintptr_t addr, size_t len)
{
    pp_lock(&lock);
    remove_locked(addr, addr + page_round(len));
    pp_unlock(&lock);
}

void pp_map_move(uintptr_t old, size_t old_len, uintptr_t neu, size_t new_len,
                 int keep_old)
{
    pp_lock(&lock);
    size_t i = lower(old);
    if (i < n_tab && tab[i].start <= old) {       /* only ranges we track */
        int kind = tab[i].kind;
        if (!keep_old)
            remove_locked(old, old + page_round(old_len));
        uintptr_t end = neu + page_round(new_len);
        remove_locked(neu, end);
        insert_at(lower(neu), (struct range){neu, end, kind});
        note_peak();
    }
    pp_unlock(&lock);
}

void pp_map_read(struct pp_maps *out, int reset_window, int nonblock)
{
    int locked = !nonblock || pp_trylock(&lock) == 0;
    if (!nonblock)
        pp_lock(&lock);
    /* without the lock (a signal arrived mid-update) the figures may be a
     * call old; they are read anyway, for a last sample */
    out->anon = bytes[PP_MAP_ANON];
    out->file = bytes[PP_MAP_FILE];
    out->peak = peak;
    out->window_peak = window_peak;
    out->ranges = n_tab;
    if (reset_window && locked)
        window_peak = bytes[0] + bytes[1];
    if (locked)
        pp_unlock(&lock);
}

void pp_map_lock(void)   { pp_lock(&lock); }
void pp_map_unlock(void) { pp_unlock(&lock); }

void pp_map_after_fork_child(void)
{
    peak = window_peak = bytes[0] + bytes[1];
    pp_unlock(&lock);
}

/* Resident bytes of the program's own anonymous mappings (mincore). */
uint64_t pp_map_resident_anon(void)
{
    uint64_t total = 0;
    pp_lock(&lock);
    for (size_t i = 0; i < n_tab;) {
        if (tab[i].kind != PP_MAP_ANON) {
            i++;
            continue;
        }
        /* ranges that touch go to mincore as one span */
        uintptr_t start = tab[i].start, end = tab[i].end;
        for (i++; i < n_tab && tab[i].kind == PP_MAP_ANON && tab[i].start == end; i++)
            end = tab[i].end;
        total += pp_os_resident(start, end - start);
    }
    pp_unlock(&lock);
    return total;
}
