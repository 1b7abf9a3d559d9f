/*
 * split.c - a record longer than a page, written as parts that each fit one.
 *
 * A kill cuts a write to a regular file only between pages, so a record
 * that lies within one page goes in whole or not at all (timeline.c lays
 * them out so).  A record longer than a page cannot: a kill inside its
 * write leaves a line that is not JSON.  So such a record is written as
 * parts, each a record of its own of a page or less: the record's longest
 * list (or text) is shared out among them, every key before it is
 * repeated in each part, every key after it comes in the last part only,
 * and each part says which it is, before the shared key:
 *
 *   {"type":"sites","pid":7,...,"part":1,"parts":3,"split":"rows","rows":[r1,r2]}
 *   {"type":"sites","pid":7,...,"part":2,"parts":3,"split":"rows","rows":[r3,r4]}
 *   {"type":"sites","pid":7,...,"part":3,"parts":3,"split":"rows","rows":[r5],"rest":{...}}
 *
 * A list is cut between its items; a text between characters (never
 * inside an escape or a UTF-8 sequence), after a "\n" where one is near.
 * A reader joins the parts by appending the shared key's items (or text)
 * in order (docs/format.md, "Records longer than a page").  A record with
 * nothing to share out this way (its bulk in one item) is left whole.
 *
 * Pure text work on the caller's buffers: no allocation, no system call.
 */
#include <string.h>

#include "core/core.h"

/* the end of the JSON value at P (before E): one past a string, list or
 * object; at the ',', '}' or ']' that ends a number or a word; NULL when
 * the text ends first */
static const char *value_end(const char *p, const char *e)
{
    int depth = 0;
    while (p < e) {
        char c = *p;
        if (c == '"') {
            for (p++; p < e && *p != '"'; p += *p == '\\' ? 2 : 1)
                ;
            if (p >= e)
                return NULL;
            p++;
            if (!depth)
                return p;
            continue;
        }
        if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (!depth)
                return p;
            if (!--depth)
                return p + 1;
        } else if (c == ',' && !depth) {
            return p;
        }
        p++;
    }
    return NULL;
}

/* the record's key with the longest list or text: [key, value, end) */
struct shared {
    const char *key, *val, *end;
};

/* in the object [P, E) (E one past its '}') */
static int find_shared(const char *p, const char *e, struct shared *s)
{
    const char *q = p + 1;
    s->key = NULL;
    while (q < e && *q == '"') {
        const char *k = q, *v = value_end(q, e);
        if (!v || v >= e || *v != ':')
            return 0;
        v++;
        const char *ve = value_end(v, e);
        if (!ve || ve >= e || ve == v)
            return 0;
        if ((*v == '[' || *v == '"') && (!s->key || ve - v > s->end - s->val)) {
            s->key = k;
            s->val = v;
            s->end = ve;
        }
        if (*ve == '}')
            break;
        if (*ve != ',')
            return 0;
        q = ve + 1;
    }
    return s->key != NULL;
}

/* In a list's inside [P, E) (E at its ']'): the end of the item at P, at
 * its ',' or E.  In a text's inside: the end of the character at P. */
static const char *item_end(const char *p, const char *e, int text)
{
    if (!text) {
        const char *x = value_end(p, e + 1);
        return x && x <= e ? x : NULL;
    }
    if (*p == '\\') {
        size_t k = p + 1 < e && p[1] == 'u' ? 6 : 2;
        return (size_t)(e - p) >= k ? p + k : NULL;
    }
    p++;
    while (p < e && (*(const unsigned char *)p & 0xc0) == 0x80)
        p++;                            /* a UTF-8 sequence's continuation */
    return p;
}

/* How much of [P, E) the next part takes, at most ROOM bytes: whole
 * items (and the ',' after the last, for a list, when more follow).  For
 * a text, the cut goes after the last "\n" in the second half, if any. */
static const char *take(const char *p, const char *e, size_t room, int text)
{
    const char *end = p, *nl = NULL;
    while (end < e) {
        const char *x = item_end(end, e, text);
        if (!x || (size_t)(x - p) > room)
            break;
        if (text && x - end == 2 && end[1] == 'n' && (size_t)(x - p) > room / 2)
            nl = x;
        end = x;
        if (!text && end < e)
            end++;                      /* the ',' after it */
    }
    if (text && nl && end < e)
        end = nl;
    return end;
}

static size_t digits(size_t v)
{
    size_t d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

struct out {
    char *p;
    size_t len, cap;
};

static void add(struct out *o, const char *s, size_t n)
{
    if (o->p && o->len + n <= o->cap)
        memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void add_num(struct out *o, size_t v)
{
    char d[24];
    size_t k = digits(v), i = k;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    add(o, d, k);
}

/* the split as laid out: how much each part holds besides its share */
struct plan {
    const char *in, *in_end;            /* the list's or text's inside */
    int text;
    size_t room_mid, room_last;         /* a part's share, at most */
};

/* the end of the share of the part that starts at Q (Q itself: none fits) */
static const char *share_end(const struct plan *pl, const char *q)
{
    size_t left = (size_t)(pl->in_end - q);
    if (left <= pl->room_last)
        return pl->in_end;
    /* not the last part: something is left for the part that ends it */
    return take(q, pl->in_end, pl->room_mid < left ? pl->room_mid : left - 1, pl->text);
}

/* the count of parts, or 0 when an item does not fit in one */
static size_t count_parts(const struct plan *pl)
{
    size_t parts = 0;
    const char *q = pl->in;
    do {
        const char *x = share_end(pl, q);
        if (x == q && q < pl->in_end)
            return 0;
        q = x;
        parts++;
    } while (q < pl->in_end);
    return parts;
}

/* The parts of the record P[0..N) (one line, ended by '\n'), each at most
 * PAGE bytes with its newline, into OUT (OUT NULL: only measured).
 * Returns their bytes, or 0 when the record is not split (it fits, or has
 * nothing to share out that would make it fit, or CAP is too small). */
size_t pp_split(const char *p, size_t n, size_t page, char *out, size_t cap)
{
    if (n <= page || n < 3 || p[0] != '{' || p[n - 1] != '\n' || p[n - 2] != '}')
        return 0;
    const char *e = p + n - 1;          /* one past the closing '}' */
    struct shared s;
    if (!find_shared(p, e, &s))
        return 0;
    struct plan pl = {s.val + 1, s.end - 1, *s.val == '"', 0, 0};
    size_t head = (size_t)(s.key - p), key = (size_t)(s.val - s.key);
    size_t tail = (size_t)(e - s.end);          /* after the value, with '}' */
    /* what every part holds besides its share and its two numbers: the
     * head, "part":,"parts":,"split":<key>, <key>: and the brackets, the
     * end ('}', or the tail in the last part) and the newline */
    size_t fixed = head + 26 + (key - 1) + key + 2 + 1;
    size_t parts = 0, width = 2;        /* the two numbers' digits */
    for (;;) {
        if (fixed + width + (tail > 1 ? tail : 1) >= page)
            return 0;
        pl.room_mid = page - fixed - width - 1;
        pl.room_last = page - fixed - width - tail;
        parts = count_parts(&pl);
        if (!parts)
            return 0;
        if (digits(parts) + digits(parts) <= width)
            break;
        width = 2 * digits(parts);
    }
    struct out o = {out, 0, cap};
    size_t i = 0;
    const char *q = pl.in;
    do {
        const char *x = share_end(&pl, q);
        size_t share = (size_t)(x - q);
        if (!pl.text && x < pl.in_end)
            share--;                    /* the ',' between parts */
        add(&o, p, head);
        add(&o, "\"part\":", 7);
        add_num(&o, ++i);
        add(&o, ",\"parts\":", 9);
        add_num(&o, parts);
        add(&o, ",\"split\":", 9);
        add(&o, s.key, key - 1);        /* the key without its ':' */
        add(&o, ",", 1);
        add(&o, s.key, key);
        add(&o, pl.text ? "\"" : "[", 1);
        add(&o, q, share);
        add(&o, pl.text ? "\"" : "]", 1);
        if (x == pl.in_end)
            add(&o, s.end, tail);
        else
            add(&o, "}", 1);
        add(&o, "\n", 1);
        q = x;
    } while (q < pl.in_end);
    if (i != parts || (out && o.len > cap))
        return 0;
    return o.len;
}
