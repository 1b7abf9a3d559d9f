/*
 * sites.h - what the allocation-site files of the perfprobe command share
 * (sites.c, symbols.c, flame.c, pprof.c).  Private to those files.
 */
#ifndef PP_SITES_H
#define PP_SITES_H

#include "cli.h"

#include <stdint.h>

/* ---- symbols.c: addresses to functions, files and lines (libdw) ---------- */

struct sym_frame {
    const char *fn;          /* function, or "module+0xOFF" when unknown */
    const char *file;        /* source file, or NULL */
    int         line;        /* 0 when unknown */
    const char *module;      /* path of the module, or NULL */
    uint64_t    addr;        /* the return address as recorded */
    int         inlined;     /* an inlined call inside the next frame */
};

struct symbols;
/* From a run's module records.  Never fails: unknown modules give
 * "module+0xOFF" or "0xADDR" frames. */
struct symbols *symbols_new(json_t *site_records);
void symbols_free(struct symbols *s);
/* The frames for one return address, innermost first (an address inside
 * inlined code gives several).  Returns the count, at most max; the
 * strings live as long as S. */
int symbols_lookup(struct symbols *s, uint64_t addr, struct sym_frame *out, int max);

/* ---- sites.c: the records of one run, resolved ---------------------------- */

struct site {
    long     stack;
    struct sym_frame *frames;      /* innermost first */
    int      nframes;
    int      truncated;
    double   live_bytes, live_blocks, live_samples;     /* at exit (or last probe) */
    double   peak_bytes, peak_blocks, peak_samples;     /* at the heap peak */
    double   resident, peak_resident;                   /* of live_bytes, peak_bytes; -1 unknown */
    double   lost_bytes, lost_blocks;                   /* of the leaks: unreachable; -1 unknown */
    double   alloc_bytes, allocs, samples;              /* since start */
    double   v0, v1;                                    /* --between: live at the probes */
    double   a0, a1;                                    /*            allocated at the probes */
    double   n0, c0;                                    /*            blocks, allocs at the first */
};

struct sites {
    struct symbols *sym;
    struct site *v;
    int      n;
    int      estimated;        /* sample mode */
    double   sample_bytes;
    int      complete;         /* an exit record was found */
    int      has_final;        /* an exit or probe record was found */
    int      has_lost;         /* the exit record has the leak check's figures */
    double   peak_t;           /* when the peak view was taken (s), or -1 */
    struct site rest;          /* the sites summed in "rest" rows */
};

/* Every site of run R (exit, peak) with symbolised stacks; with labels, the
 * live and allocated figures at those probes too (BETWEEN1 may be NULL: one
 * probe).  -1 with an error printed when a label is not found; 0 when the
 * run has no site records (s->n == 0), else 1. */
int sites_load(const struct run *r, struct sites *s, const char *between0, const char *between1);
void sites_free(struct sites *s);
/* A killed run (no exit record): say so on F, with when its live-at-peak
 * view was taken (PREFIX starts the line). */
void sites_killed_note(FILE *f, const char *prefix, const struct run *r, const struct sites *s);
/* "fn (file:line)" for frame F */
void frame_text(const struct sym_frame *f, char *buf, size_t n);

#endif
