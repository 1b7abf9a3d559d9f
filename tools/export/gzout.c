/*
 * gzout.c - a profile's bytes, gzip'd, into the output file: the one write
 * both pprof exporters (pprof.c, cpu_pprof.c) end with.  It goes through
 * read/outfile.c, so that a failed write leaves the previous file intact
 * and no half-written profile.
 */
#define _GNU_SOURCE
#include "export/pb.h"
#include "read/read.h"

#include <unistd.h>
#include <zlib.h>

int pb_write_gz(const char *cmd, const char *path, const struct pb *b)
{
    struct outfile of;
    FILE *f = outfile_open(&of, cmd, path);
    if (!f)
        return EXIT_USAGE;
    fflush(f);
    int fd = dup(fileno(f));
    gzFile gz = fd >= 0 ? gzdopen(fd, "wb") : NULL;
    if (!gz && fd >= 0)
        close(fd);
    int ok = gz && gzwrite(gz, b->p, (unsigned)b->n) == (int)b->n;
    if (gz && gzclose(gz) != Z_OK)
        ok = 0;
    if (!ok) {
        outfile_abort(&of);
        return error("%s: %s: write failed", cmd, path);
    }
    return outfile_commit(&of);
}
