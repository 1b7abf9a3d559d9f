/*
 * buf.c - formatting into caller-owned fixed buffers.
 *
 * The shim may not use stdio (it allocates, takes locks, and may be the
 * very thing being interposed), so numbers, fixed-point seconds and JSON
 * strings are formatted here by hand.  A buffer that fills up silently
 * drops the rest; callers size their buffers for the records they write.
 */
#include "core/core.h"

#include <string.h>

void pp_buf_raw(struct pp_buf *b, const char *s, size_t n)
{
    if (b->len >= b->cap)
        return;
    if (n > b->cap - b->len)
        n = b->cap - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void pp_buf_str(struct pp_buf *b, const char *s)
{
    pp_buf_raw(b, s, strlen(s));
}

void pp_buf_u64(struct pp_buf *b, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    pp_buf_raw(b, tmp + i, sizeof tmp - (size_t)i);
}

void pp_buf_i64(struct pp_buf *b, int64_t v)
{
    if (v < 0) {
        pp_buf_raw(b, "-", 1);
        pp_buf_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        pp_buf_u64(b, (uint64_t)v);
    }
}

void pp_buf_fixed(struct pp_buf *b, int64_t v, unsigned scale, unsigned decimals)
{
    uint64_t pow = 1, mag;
    int neg = v < 0;
    mag = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (decimals > scale)
        decimals = scale;
    for (unsigned i = decimals; i < scale; i++)
        pow *= 10;
    mag = (mag + pow / 2) / pow;                  /* round to `decimals` */
    uint64_t unit = 1;
    for (unsigned i = 0; i < decimals; i++)
        unit *= 10;
    if (neg && mag)
        pp_buf_raw(b, "-", 1);
    pp_buf_u64(b, mag / unit);
    if (decimals) {
        char frac[20];
        uint64_t f = mag % unit;
        for (int i = (int)decimals - 1; i >= 0; i--) {
            frac[i] = (char)('0' + f % 10);
            f /= 10;
        }
        pp_buf_raw(b, ".", 1);
        pp_buf_raw(b, frac, decimals);
    }
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { n = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { n = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 4; min = 0x10000; }
    else return 0;
    if (n > avail)
        return 0;
    unsigned cp = c & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void pp_buf_json_str(struct pp_buf *b, const char *s, size_t max_in)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        pp_buf_str(b, "null");
        return;
    }
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strnlen(s, max_in);
    pp_buf_raw(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            pp_buf_raw(b, e, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            pp_buf_raw(b, e, 6);
            i++;
        } else if (c < 0x80) {
            pp_buf_raw(b, (const char *)p + i, 1);
            i++;
        } else {
            size_t n = utf8_len(p + i, len - i);
            if (n == 0) {
                pp_buf_raw(b, "\\ufffd", 6);
                i++;
            } else {
                pp_buf_raw(b, (const char *)p + i, n);
                i += n;
            }
        }
    }
    pp_buf_raw(b, "\"", 1);
}

void pp_buf_key(struct pp_buf *b, const char *key)
{
    if (b->len && b->len <= b->cap && b->p[b->len - 1] != '{' &&
        b->p[b->len - 1] != '[')
        pp_buf_raw(b, ",", 1);
    pp_buf_raw(b, "\"", 1);
    pp_buf_str(b, key);
    pp_buf_raw(b, "\":", 2);
}

void pp_buf_pad(struct pp_buf *b, size_t width, const char *s, size_t n)
{
    for (size_t i = n; i < width; i++)
        pp_buf_raw(b, " ", 1);
    pp_buf_raw(b, s, n);
}

void pp_buf_double(struct pp_buf *b, double v)
{
    if (v != v || v > 1.7e308 || v < -1.7e308) {
        pp_buf_str(b, "null");
        return;
    }
    double mag = v < 0 ? -v : v;
    if (mag != 0 && (mag >= 1e15 || mag < 1e-4)) {
        int e = 0;
        while (mag >= 10) { mag /= 10; e++; }
        while (mag < 1) { mag *= 10; e--; }
        int64_t digits = (int64_t)(mag * 100000 + 0.5);     /* 6 significant */
        if (digits >= 1000000) { digits /= 10; e++; }
        if (v < 0)
            pp_buf_raw(b, "-", 1);
        pp_buf_fixed(b, digits, 5, 5);
        pp_buf_raw(b, "e", 1);
        pp_buf_i64(b, e);
        return;
    }
    int64_t micro = (int64_t)(v * 1e6 + (v < 0 ? -0.5 : 0.5));
    char tmp[48];
    struct pp_buf t = {tmp, 0, sizeof tmp};
    pp_buf_fixed(&t, micro, 6, 6);
    while (t.len > 1 && tmp[t.len - 1] == '0')             /* trim 1.500000 -> 1.5 */
        t.len--;
    if (tmp[t.len - 1] == '.')
        t.len--;
    pp_buf_raw(b, tmp, t.len);
}

/* One warning line on stderr: "perfprobe: warning: " a b c d.  Control
 * characters in a path or value are escaped, so that it stays one line. */
void pp_warn(const char *a, const char *b, const char *c, const char *d)
{
    char line[1024];
    const char *parts[] = {a, b, c, d};
    struct pp_buf buf = {line, 0, sizeof line - 1};
    pp_buf_str(&buf, "perfprobe: warning: ");
    /* one line, whatever a path or value holds */
    for (int i = 0; i < 4; i++)
        for (const char *p = parts[i]; p && *p && buf.len < buf.cap - 1; p++) {
            char ch = *p;
            if ((unsigned char)ch < 0x20 || ch == 0x7f) {
                char esc[5] = {'\\', 'x', "0123456789abcdef"[(ch >> 4) & 15],
                               "0123456789abcdef"[ch & 15], 0};
                if (ch == '\n')
                    memcpy(esc, "\\n", 3);
                pp_buf_str(&buf, esc);
            } else {
                pp_buf_raw(&buf, &ch, 1);
            }
        }
    if (buf.len > buf.cap - 1)
        buf.len = buf.cap - 1;
    line[buf.len++] = '\n';
    pp_write_all(2, buf.p, buf.len);
}
