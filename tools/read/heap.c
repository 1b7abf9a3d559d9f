/*
 * heap.c - whether a process image's heap was counted, and which figures
 * depend on it.
 *
 * The shim counts the heap in its malloc hooks.  When the program's calls
 * cannot reach them (an allocator linked into the executable itself, as
 * rustc has jemalloc), the header and the summary say "heap_counted":
 * false and every heap figure is written as 0: a figure that was never
 * measured, not a program that allocated nothing.  The shim warns on
 * stderr only for the first image of a tree, so behind `env`, `sh -c exec`
 * or `timeout` nothing said so.  This file is where the commands learn it:
 * the reader marks each image (run_heap_read), key_from_heap names the
 * figures that come from the hooks, and heap_why says why in one line, so
 * that report, diff and check show "not counted" instead of a zero and a
 * gate on such a figure fails instead of passing.
 *
 * Files written before the flag existed have no "heap_counted": their
 * heap was counted.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <string.h>

void run_heap_read(struct run *r)
{
    /* the summary's word is the later one; either false means the hooks
     * never saw the program's calls */
    r->heap_counted = !json_is_false(json_object_get(r->header, "heap_counted")) &&
                      !json_is_false(json_object_get(r->summary, "heap_counted"));
    json_t *why = json_object_get(r->summary, "inexact");
    r->inexact = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(why, i, s)
        if (json_is_string(s))
            json_array_append(r->inexact, s);
}

/* the field a key names: what follows its last dot (probe.LABEL.FIELD,
 * region.PATH.FIELD), or the key itself */
static const char *field_of(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

int key_from_heap(const char *key)
{
    if (!strncmp(key, "tree.", 5) || !strcmp(key, "heap_counted"))
        return 0;                      /* the tree's totals (CPU, RSS); the flag itself */
    static const char *const prefixes[] = {
        "allocs", "frees", "reallocs",               /* calls through the hooks */
        "bytes_per_call", "net_bytes", "self_",      /* a region's allocations */
        "peak_bytes_per_call", "leaked_", NULL};
    const char *f = field_of(key);
    if (strstr(f, "heap"))                           /* peak_heap_bytes, d_heap_last, ... */
        return 1;
    for (int k = 0; prefixes[k]; k++)
        if (!strncmp(f, prefixes[k], strlen(prefixes[k])))
            return 1;
    return 0;
}

int figure_counted(const struct run *r, const char *key)
{
    return r->heap_counted || !key_from_heap(key);
}

void heap_why(const struct run *r, char *buf, size_t n)
{
    const char *prog = json_string_value(json_object_get(r->header, "program"));
    const char *alloc = json_string_value(json_object_get(r->header, "allocator"));
    const char *lib = json_string_value(json_object_get(r->header, "allocator_library"));
    /* the shim's own reason, when the image wrote a summary; the first
     * one is the allocator's, any others (RTLD_DEEPBIND, ...) follow it */
    const char *reason = json_string_value(json_array_get(r->inexact, 0));
    char where[600] = "";
    if (alloc && lib && strcmp(alloc, lib))
        snprintf(where, sizeof where, " (allocator %s, in %s)", alloc, lib);
    else if (alloc || lib)
        snprintf(where, sizeof where, " (allocator %s)", alloc ? alloc : lib);
    snprintf(buf, n, "the heap of %s (pid %ld) was not counted: %s%s", prog ? prog : "?",
             r->pid, reason ? reason : "malloc is not the shim's: another allocator comes first",
             where);
}
