/*
 * pb.c - protocol buffers written by hand (pb.h): the wire types
 * profile.proto uses, and its string table.
 */
#include "export/pb.h"
#include "read/read.h"

#include <stdio.h>

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

int pb_frame_group(const struct sym_frame *fr, int n, int f)
{
    int g = f + 1;
    while (g < n && fr[g].addr == fr[f].addr && fr[g - 1].inlined)
        g++;
    return g;
}

void pb_location(struct pb *locs, struct pb *funcs, json_t *fidx, struct pb_strings *st,
                 int64_t id, int64_t mapping, uint64_t addr, const struct sym_frame *fr, int n)
{
    struct pb m = {0}, sub = {0};
    /* a Python frame is in no mapping and has no address */
    int py = fr[0].python;
    pb_field(&m, 1, id);
    pb_field(&m, 2, py ? 0 : mapping);
    pb_field(&m, 3, py ? 0 : (int64_t)addr);
    for (int h = 0; h < n; h++) {
        char key[1024];
        snprintf(key, sizeof key, "%s\t%s", fr[h].fn, fr[h].file ? fr[h].file : "");
        json_t *fid = json_object_get(fidx, key);
        if (!fid) {
            fid = json_integer((json_int_t)json_object_size(fidx) + 1);
            json_object_set_new(fidx, key, fid);
            pb_field(&sub, 1, json_integer_value(fid));
            pb_field(&sub, 2, pb_str(st, fr[h].fn));
            pb_field(&sub, 3, pb_str(st, fr[h].fn));
            pb_field(&sub, 4, pb_str(st, fr[h].file));
            if (fr[h].python)
                pb_field(&sub, 5, fr[h].first_line);
            pb_message(funcs, 5, &sub);
        }
        pb_field(&sub, 1, json_integer_value(fid));
        pb_field(&sub, 2, fr[h].line);
        pb_message(&m, 4, &sub);         /* Location.line */
    }
    pb_message(locs, 4, &m);
    free(m.p);
    free(sub.p);
}
