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

/* B gzip'd into PATH ("-": stdout) through read/outfile.c (gzout.c):
 * EXIT_OK, or EXIT_USAGE with one line said and PATH as it was */
int pb_write_gz(const char *cmd, const char *path, const struct pb *b);

/* Profile.string_table: each string once, its index */
struct pb_strings { json_t *index; struct pb out; };
int64_t pb_str(struct pb_strings *s, const char *v);

struct sym_frame;
/* the end of the group of frames from FR[F] that one return address
 * expanded to (inlined calls, innermost first) */
int pb_frame_group(const struct sym_frame *fr, int n, int f);
/* Profile.location ID, into LOCS, for the frame group FR[0..N): in mapping
 * MAPPING at ADDR (a Python frame: in none, at no address), a Line for
 * each frame; each Function written once into FUNCS (FIDX: by name and
 * file) */
void pb_location(struct pb *locs, struct pb *funcs, json_t *fidx, struct pb_strings *st,
                 int64_t id, int64_t mapping, uint64_t addr, const struct sym_frame *fr, int n);

#endif
