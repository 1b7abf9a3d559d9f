/*
 * pb.h - protocol buffers written by hand, for the pprof exporters of this
 * room (pprof.c: heap profiles; cpu_pprof.c: CPU profiles).  profile.proto
 * needs only two wire types, varints and length-delimited fields, and a
 * string table; a generated encoder would be more code than the format.
 */
#ifndef PP_EXPORT_PB_H
#define PP_EXPORT_PB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* a growable byte buffer */
struct pb { unsigned char *p; size_t n, cap; };

void pb_put(struct pb *b, const void *d, size_t n);
void pb_varint(struct pb *b, uint64_t v);
/* field F as a varint (int64 and uint64 alike; zero is left out) */
void pb_field(struct pb *b, int f, int64_t v);
/* field F, length-delimited: a string or a nested message */
void pb_bytes(struct pb *b, int f, const void *d, size_t n);
/* message M as field F of B; M is emptied for reuse */
void pb_message(struct pb *b, int f, struct pb *m);

/* Profile.string_table: each string once, its index */
struct pb_strings { json_t *index; struct pb out; };
int64_t pb_str(struct pb_strings *s, const char *v);

#endif
