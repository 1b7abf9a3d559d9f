/*
 * jsonline.c - is a timeline line JSON, and where does the whole record of
 * a glued line start.
 *
 * A process killed inside its write(2) leaves a record cut short with no
 * newline; when another process of the tree goes on writing, its record is
 * glued after the cut bytes on the same line.  `perfprobe run` mends such
 * lines in place (mend.c) and the reader recovers the glued record of a
 * file nobody mended (timeline_read.c): both find the split here.
 *
 * json_text_valid is a strict RFC 8259 check that builds nothing: one
 * object between optional whitespace, strings of valid UTF-8 with no
 * control characters and only the standard escapes (a \u surrogate only as
 * a pair), numbers as the grammar has them, nesting up to 512.  It is the
 * fast gate that lets `run` look at every line of a large file without
 * parsing it into values; whatever it rejects is checked again by jansson
 * before a byte is rewritten, and a split is only taken where both accept
 * the record, so a record kept is one that jq, Python's json and jansson
 * all read.
 */
#include "read/read.h"

#include <string.h>

#define MAX_DEPTH 512

struct scan {
    const unsigned char *p, *end;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(struct scan *s, unsigned *v)
{
    if (s->end - s->p < 4)
        return 0;
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s->p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return 0;
        *v = *v << 4 | d;
    }
    s->p += 4;
    return 1;
}

size_t utf8_seq_len(const unsigned char *p, size_t left)
{
    unsigned c = *p;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return c ? 1 : 0;
    if (c >= 0xc2 && c <= 0xdf)
        n = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else
        return 0;
    if (left <= n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i <= n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n + 1;
}

/* one UTF-8 sequence starting at a byte >= 0x80 */
static int utf8_seq(struct scan *s)
{
    size_t n = utf8_seq_len(s->p, (size_t)(s->end - s->p));
    s->p += n;
    return n != 0;
}

static int string(struct scan *s)
{
    s->p++;                                      /* the opening quote */
    while (s->p < s->end) {
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c >= 0x80) {
            if (!utf8_seq(s))
                return 0;
            continue;
        }
        s->p++;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return 0;
        c = *s->p++;
        if (c == 'u') {
            unsigned u, v;
            if (!hex4(s, &u))
                return 0;
            if (u >= 0xdc00 && u <= 0xdfff)
                return 0;
            if (u >= 0xd800 && u <= 0xdbff &&
                (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
                 (s->p += 2, !hex4(s, &v)) || v < 0xdc00 || v > 0xdfff))
                return 0;
        } else if (!strchr("\"\\/bfnrt", (int)c) || c == 0) {
            return 0;
        }
    }
    return 0;
}

static int digits(struct scan *s)
{
    const unsigned char *from = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
        s->p++;
    return s->p > from;
}

static int number(struct scan *s)
{
    if (*s->p == '-')
        s->p++;
    if (s->p < s->end && *s->p == '0')
        s->p++;
    else if (s->p >= s->end || *s->p < '1' || *s->p > '9' || !digits(s))
        return 0;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!digits(s))
            return 0;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!digits(s))
            return 0;
    }
    return 1;
}

static int word(struct scan *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
        return 0;
    s->p += n;
    return 1;
}

static int value(struct scan *s, int depth);

/* an object or an array, from its opening bracket */
static int container(struct scan *s, int depth)
{
    unsigned char close = *s->p == '{' ? '}' : ']';
    int object = close == '}';
    if (depth >= MAX_DEPTH)
        return 0;
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 1;
    }
    for (;;) {
        if (object) {
            if (s->p >= s->end || *s->p != '"' || !string(s))
                return 0;
            skip_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return 0;
            skip_ws(s);
        }
        if (!value(s, depth + 1))
            return 0;
        skip_ws(s);
        if (s->p >= s->end)
            return 0;
        if (*s->p == close) {
            s->p++;
            return 1;
        }
        if (*s->p++ != ',')
            return 0;
        skip_ws(s);
    }
}

static int value(struct scan *s, int depth)
{
    if (s->p >= s->end)
        return 0;
    switch (*s->p) {
    case '{':
    case '[':
        return container(s, depth);
    case '"':
        return string(s);
    case 't':
        return word(s, "true");
    case 'f':
        return word(s, "false");
    case 'n':
        return word(s, "null");
    default:
        return (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) && number(s);
    }
}

int json_text_valid(const char *p, size_t n)
{
    struct scan s = {(const unsigned char *)p, (const unsigned char *)p + n};
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{' || !container(&s, 0))
        return 0;
    skip_ws(&s);
    return s.p == s.end;
}

/* P..P+N holds one JSON object (and whitespace) for this check and for
 * jansson both */
static int whole_record(const char *p, size_t n)
{
    if (!json_text_valid(p, n))
        return 0;
    json_t *o = json_loadb(p, n, 0, NULL);
    int ok = json_is_object(o);
    json_decref(o);
    return ok;
}

#define RECORD_START "{\"type\":\""
#define MAX_TRIES 64

long line_resync(const char *line, size_t len)
{
    size_t k = sizeof RECORD_START - 1;
    int tries = 0;
    if (len <= k)
        return -1;
    for (size_t at = len - k; at > 0 && tries < MAX_TRIES; at--) {
        if (line[at] != '{' || memcmp(line + at, RECORD_START, k))
            continue;
        tries++;
        if (whole_record(line + at, len - at))
            return (long)at;
    }
    return -1;
}

long line_cut_pid(const char *cut, size_t len)
{
    size_t k = sizeof RECORD_START - 1;
    if (len <= k || memcmp(cut, RECORD_START, k))
        return -1;
    const char *q = memchr(cut + k, '"', len - k);
    static const char key[] = ",\"pid\":";
    if (!q || (size_t)(cut + len - (q + 1)) <= sizeof key - 1 || memcmp(q + 1, key, sizeof key - 1))
        return -1;
    const char *d = q + sizeof key, *end = cut + len;
    long pid = 0;
    const char *from = d;
    while (d < end && *d >= '0' && *d <= '9' && d - from < 10)
        pid = pid * 10 + (*d++ - '0');
    if (d == from || d >= end || (*d != ',' && *d != '}') || (*from == '0' && d - from > 1))
        return -1;
    return pid;
}
