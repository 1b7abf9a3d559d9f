/*
 * split.c - a record longer than a page, written as parts that each fit one.
 *
 * A kill cuts a write to a regular file only between pages, so a record
 * that lies within one page goes in whole or not at all (timeline.c lays
 * them out so).  A record longer than a page cannot: a kill inside its
 * write leaves a line that is not JSON.  So such a record is written in
 * parts of a page or less each.  Its longest list (or text) is shared out:
 * "more" records, which name the record's type and the key, carry all but
 * the first items, and come first; then the record itself, every key in
 * place, with "in_parts" before that key and the first items:
 *
 *   {"type":"more","pid":7,"of":"sites","key":"rows","part":2,"in_parts":3,"rows":[r3,r4]}
 *   {"type":"more","pid":7,"of":"sites","key":"rows","part":3,"in_parts":3,"rows":[r5]}
 *   {"type":"sites","pid":7,...,"in_parts":3,"rows":[r1,r2],"rest":{...}}
 *
 * So a reader that counts records, or reads any other key, sees the record
 * once and where it was (a summary is still its image's last record); one
 * that reads the list appends the items of the "more" records before it,
 * in order (docs/format.md, "Records longer than a page").  A
 * list is cut between items, a text between characters (never inside an
 * escape or a UTF-8 sequence), after a "\n" where one is near.  A record
 * with nothing to share out this way (its bulk in one item) is left whole.
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

/* the record's key with the longest list or text, [key, value, end), and
 * the values of its "type" and "pid" */
struct shared {
    const char *key, *val, *end;
    const char *type, *type_end, *pid, *pid_end;
};

/* in the object [P, E) (E one past its '}') */
static int find_shared(const char *p, const char *e, struct shared *s)
{
    const char *q = p + 1;
    memset(s, 0, sizeof *s);
    while (q < e && *q == '"') {
        const char *k = q, *v = value_end(q, e);
        if (!v || v >= e || *v != ':')
            return 0;
        v++;
        const char *ve = value_end(v, e);
        if (!ve || ve >= e || ve == v)
            return 0;
        if (v - k == 7 && !memcmp(k, "\"type\":", 7) && *v == '"') {
            s->type = v;
            s->type_end = ve;
        } else if (v - k == 6 && !memcmp(k, "\"pid\":", 6)) {
            s->pid = v;
            s->pid_end = ve;
        } else if ((*v == '[' || *v == '"') && (!s->key || ve - v > s->end - s->val)) {
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
    return s->key && s->type && s->pid;
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

/* the split as laid out */
struct plan {
    const char *in, *in_end;            /* the list's or text's inside */
    int text;
    size_t room_first, room_more;       /* a part's share, at most */
};

/* "<key>":[the items in Q..X] (or the text's characters, in quotes) */
static void add_share(struct out *o, const struct shared *s, const struct plan *pl,
                      const char *q, const char *x, size_t key)
{
    size_t share = (size_t)(x - q);
    if (!pl->text && x < pl->in_end)
        share--;                        /* the ',' between parts */
    add(o, s->key, key);
    add(o, pl->text ? "\"" : "[", 1);
    add(o, q, share);
    add(o, pl->text ? "\"" : "]", 1);
}

/* the end of the share of the part that starts at Q (Q itself: none fits) */
static const char *share_end(const struct plan *pl, const char *q)
{
    size_t room = q == pl->in ? pl->room_first : pl->room_more;
    return take(q, pl->in_end, room, pl->text);
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
    size_t type = (size_t)(s.type_end - s.type), pid = (size_t)(s.pid_end - s.pid);
    /* besides its share and its numbers: the first part, the record with
     * "in_parts":, and its newline; a more record,
     * {"type":"more","pid":,"of":,"key":,"part":,"in_parts":,<key>[]} and
     * its newline */
    size_t first = head + 12 + key + 2 + tail + 1;
    size_t more = 21 + pid + 6 + type + 7 + (key - 1) + 8 + 12 + 1 + key + 2 + 1 + 1;
    size_t parts = 0, width = 1;        /* the digits of the numbers */
    for (;;) {
        if (first + width >= page || more + 2 * width >= page)
            return 0;
        pl.room_first = page - first - width;
        pl.room_more = page - more - 2 * width;
        parts = count_parts(&pl);
        if (parts < 2)
            return 0;
        if (digits(parts) <= width)
            break;
        width = digits(parts);
    }
    struct out o = {out, 0, cap};
    size_t i = 0;
    const char *q = pl.in, *first_end = NULL;
    do {                                /* the more records */
        const char *x = share_end(&pl, q);
        if (!i++) {
            first_end = x;
            q = x;
            continue;
        }
        add(&o, "{\"type\":\"more\",\"pid\":", 21);
        add(&o, s.pid, pid);
        add(&o, ",\"of\":", 6);
        add(&o, s.type, type);
        add(&o, ",\"key\":", 7);
        add(&o, s.key, key - 1);        /* the key without its ':' */
        add(&o, ",\"part\":", 8);
        add_num(&o, i);
        add(&o, ",\"in_parts\":", 12);
        add_num(&o, parts);
        add(&o, ",", 1);
        add_share(&o, &s, &pl, q, x, key);
        add(&o, "}\n", 2);
        q = x;
    } while (q < pl.in_end);
    add(&o, p, head);                   /* the record, with the first items */
    add(&o, "\"in_parts\":", 11);
    add_num(&o, parts);
    add(&o, ",", 1);
    add_share(&o, &s, &pl, pl.in, first_end, key);
    add(&o, s.end, tail);
    add(&o, "\n", 1);
    if (i != parts || (out && o.len > cap))
        return 0;
    return o.len;
}
