/*
 * pb.c - protocol buffers written by hand (pb.h): the wire types
 * profile.proto uses, and its string table.
 */
#include "export/pb.h"

#include <stdlib.h>
#include <string.h>

void pb_put(struct pb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}

void pb_varint(struct pb *b, uint64_t v)
{
    unsigned char t[10];
    int n = 0;
    do {
        t[n++] = (unsigned char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    pb_put(b, t, (size_t)n);
}

void pb_field(struct pb *b, int f, int64_t v)
{
    if (!v)
        return;
    pb_varint(b, (uint64_t)f << 3);
    pb_varint(b, (uint64_t)v);
}

void pb_bytes(struct pb *b, int f, const void *d, size_t n)
{
    pb_varint(b, (uint64_t)f << 3 | 2);
    pb_varint(b, n);
    pb_put(b, d, n);
}

void pb_message(struct pb *b, int f, struct pb *m)
{
    pb_bytes(b, f, m->p, m->n);
    m->n = 0;
}

int64_t pb_str(struct pb_strings *s, const char *v)
{
    if (!v)
        v = "";
    json_t *i = json_object_get(s->index, v);
    if (i)
        return json_integer_value(i);
    int64_t n = (int64_t)json_object_size(s->index);
    json_object_set_new(s->index, v, json_integer(n));
    pb_bytes(&s->out, 6, v, strlen(v));       /* Profile.string_table */
    return n;
}
