/* test_split.c - records longer than a page, as parts (shim/core/split.c). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/core.h"

static char out[1 << 16];

static const char *split(const char *rec, size_t page)
{
    static char line[1 << 16];
    snprintf(line, sizeof line, "%s\n", rec);
    size_t k = pp_split(line, strlen(line), page, out, sizeof out - 1);
    out[k] = 0;
    return out;
}

/* [S, E) is a text of its own: no escape or UTF-8 sequence cut at either end */
static int whole_text(const char *s, const char *e)
{
    while (s < e) {
        unsigned char c = (unsigned char)*s;
        size_t k = c == '\\' ? (s + 1 < e && s[1] == 'u' ? 6 : 2)
                 : c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        if (k == 0 || (size_t)(e - s) < k)
            return 0;
        s += k;
    }
    return 1;
}

/* Every part of OUT within PAGE and ending "}\n": "more" records first,
 * parts 2 to n, then the record TYPE with "in_parts" before KEY; the
 * record's share of KEY (a list when LIST) and then the more records'
 * put together are INSIDE, and the record ends with TAIL. */
static int parts_hold(size_t page, const char *type, const char *key, int list,
                      const char *inside, const char *tail, int *nparts)
{
    static char joined[1 << 15], mores[1 << 15];
    char opener[160];
    size_t jl = 0, ml = 0;
    int n = 0, parts = 0;
    for (char *l = out; *l; n++) {
        char *e = strchr(l, '\n');
        if (!e || (size_t)(e - l) + 1 > page || e[-1] != '}')
            return 0;
        char *s, *end;
        int more = !strncmp(l, "{\"type\":\"more\",\"pid\":", 21);
        if (more) {
            if (n == 0)
                parts = atoi(strstr(l, "\"in_parts\":") + 11);
            snprintf(opener, sizeof opener, ",\"of\":\"%s\",\"key\":\"%s\",\"part\":%d,\"in_parts\":%d,\"%s\":%c",
                     type, key, n + 2, parts, key, list ? '[' : '"');
            s = strstr(l, opener);
            end = e - 2;
        } else {
            if (e[1] || strncmp(l, "{\"type\":\"", 9) || strncmp(l + 9, type, strlen(type)))
                return 0;               /* the record comes last */
            snprintf(opener, sizeof opener, "\"in_parts\":%d,\"%s\":%c", parts, key, list ? '[' : '"');
            s = strstr(l, opener);
            end = e - strlen(tail) - 1;
            if (strncmp(end + 1, tail, strlen(tail)) != 0)
                return 0;
        }
        if (!s || s > e)
            return 0;
        s += strlen(opener);
        if (end < s || (!list && !whole_text(s, end)))
            return 0;
        char *to = more ? mores : joined;
        size_t *tl = more ? &ml : &jl;
        if (list && more)
            to[(*tl)++] = ',';
        memcpy(to + *tl, s, (size_t)(end - s));
        *tl += (size_t)(end - s);
        l = e + 1;
    }
    memcpy(joined + jl, mores, ml);
    joined[jl + ml] = 0;
    *nparts = n;
    return n == parts && strcmp(joined, inside) == 0;
}

int main(void)
{
    CHECK(strcmp(split("{\"type\":\"sites\",\"pid\":7,\"rows\":[{\"a\":1},{\"a\":22},{\"a\":333},"
                       "{\"a\":4444},{\"a\":55555},{\"a\":666666}],\"rest\":{\"x\":1}}", 110),
                 "{\"type\":\"more\",\"pid\":7,\"of\":\"sites\",\"key\":\"rows\",\"part\":2,\"in_parts\":2,\"rows\":[{\"a\":55555},{\"a\":666666}]}\n"
                 "{\"type\":\"sites\",\"pid\":7,\"in_parts\":2,\"rows\":[{\"a\":1},{\"a\":22},{\"a\":333},{\"a\":4444}],\"rest\":{\"x\":1}}\n") == 0,
          "a list: \"more\" records with the last items, then the record, every key in place, with \"in_parts\" and the first items:\n%s", out);
    CHECK(strcmp(split("{\"type\":\"probe\",\"pid\":7,\"label\":\"abc\\tdéf\\u0001ghijklmnopqrstuvwxyz"
                       "0123456789\\\"\\\\ABCDEFGHIJ\",\"t_s\":1.5}", 103),
                 "{\"type\":\"more\",\"pid\":7,\"of\":\"probe\",\"key\":\"label\",\"part\":2,\"in_parts\":2,\"label\":\"9\\\"\\\\ABCDEFGHIJ\"}\n"
                 "{\"type\":\"probe\",\"pid\":7,\"in_parts\":2,\"label\":\"abc\\tdéf\\u0001ghijklmnopqrstuvwxyz012345678\",\"t_s\":1.5}\n") == 0,
          "a text: cut between characters, never inside an escape or UTF-8:\n%s", out);
    CHECK(strcmp(split("{\"type\":\"t\",\"pid\":1,\"text\":\"line one\\nline two\\nline three\\nline four\\n"
                       "line five\\nline six\\n\"}", 93),
                 "{\"type\":\"more\",\"pid\":1,\"of\":\"t\",\"key\":\"text\",\"part\":2,\"in_parts\":3,\"text\":\"line five\\n\"}\n"
                 "{\"type\":\"more\",\"pid\":1,\"of\":\"t\",\"key\":\"text\",\"part\":3,\"in_parts\":3,\"text\":\"line six\\n\"}\n"
                 "{\"type\":\"t\",\"pid\":1,\"in_parts\":3,\"text\":\"line one\\nline two\\nline three\\nline four\\n\"}\n") == 0,
          "a text: cut after a line where one ends in the second half:\n%s", out);
    CHECK(*split("{\"type\":\"sites\",\"pid\":7,\"rows\":[1,2,3]}", 100) == 0, "a record that fits: not split");
    CHECK(*split("{\"type\":\"x\",\"pid\":7,\"a\":[[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22]]}", 80) == 0,
          "one item longer than a part can hold: not split");
    CHECK(*split("{\"type\":\"x\",\"pid\":7,\"n\":123456789012345678901234567890123456789012345678901234567890}", 60) == 0,
          "nothing to share out: not split");
    CHECK(*split("{\"type\":\"x\",\"pid\":7,\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23]", 60) == 0,
          "not a whole object: not split");

    /* records of random lists and texts, split at random page sizes */
    static char rec[1 << 15], inside[1 << 14];
    unsigned seed = 12345;
    int bad = 0, made = 0, many = 0;
    for (int t = 0; t < 3000; t++) {
        seed = seed * 1103515245u + 12345u;
        int list = seed >> 16 & 1;
        size_t page = 200 + (seed >> 8) % 600, il = 0;
        int items = 10 + (int)(seed >> 20) % 300;
        for (int i = 0; i < items; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            if (list) {
                il += (size_t)snprintf(inside + il, sizeof inside - il, "%s{\"stack\":%u,\"s\":\"%.*s\"}",
                                       i ? "," : "", r, (int)(r % 40), "abcdefghijklmnopqrstuvwxyz0123456789ABCD");
            } else {
                static const char *const bits[] = {"a", "bc", "\\n", "\\t", "\\u0001", "\\\"", "\xc3\xa9",
                                                   "\xe2\x82\xac", "\xf0\x9f\x98\x80", "word "};
                il += (size_t)snprintf(inside + il, sizeof inside - il, "%s", bits[r % 10]);
            }
        }
        const char *tail = (seed >> 24) & 1 ? ",\"rest\":{\"sites\":3}}" : "}";
        snprintf(rec, sizeof rec, "{\"type\":\"%s\",\"pid\":%u,\"t_s\":1.25,\"k\":%c%s%c%s", list ? "sites" : "probe",
                 seed % 100000, list ? '[' : '"', inside, list ? ']' : '"', tail);
        if (strlen(rec) + 1 <= page)
            continue;
        split(rec, page);
        if (!*out)
            continue;                       /* an item too large for a part */
        made++;
        int n = 0;
        if (!parts_hold(page, list ? "sites" : "probe", "k", list, inside, tail, &n))
            bad++;
        many += n > 9;
    }
    CHECK(made > 2000 && bad == 0, "3,000 random records: every part within its page, each text share "
          "whole characters, the shares put together the whole (%d split, %d wrong, %d in 10 parts or more)", made, bad, many);
    CHECK_DONE();
}
