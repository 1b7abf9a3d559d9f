/*
 * macho-symbolise.c - the macOS symbol reader (tools/read/symbols_macho.c)
 * on Linux, for t1010: module records as a run on a Mac would hold them,
 * return addresses in, frames out.
 *
 *   macho-symbolise 'MODULE-RECORDS-JSON-ARRAY' ADDR...   "ADDR FN" per address
 */
#include "read/read.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    json_error_t e;
    json_t *recs = argc > 1 ? json_loads(argv[1], 0, &e) : NULL;
    if (!json_is_array(recs))
        return fprintf(stderr, "usage: macho-symbolise RECORDS ADDR...\n"), 2;
    struct symbols *s = symbols_new(recs);
    for (int i = 2; i < argc; i++) {
        struct sym_frame f[4];
        int n = symbols_lookup(s, strtoull(argv[i], NULL, 0), f, 4);
        printf("%s %s\n", argv[i], n > 0 ? f[0].fn : "?");
    }
    symbols_free(s);
    json_decref(recs);
    return 0;
}
