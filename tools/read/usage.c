/*
 * usage.c - what every command does with its arguments and its errors:
 * error() prints "perfprobe: ..." and gives the usage exit code, and
 * files_and_output() reads the "CMD FILE... -o OUT" shape of plot and
 * trace.
 *
 * They sit here, under every command, so that a command file never needs
 * the front end (perfprobe.c) that calls it.  The fuzz target
 * (tools/dev/fuzz_reader.c) links the reader without this file and brings
 * its own silent error().
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int error(const char *fmt, ...)
{
    va_list ap;
    fputs("perfprobe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* "CMD FILE... -o OUT" (plot, trace): the files (*files, freed by the
 * caller) and OUT.  Returns the number of files, or -1 after --help (*rc
 * EXIT_OK) or a usage error (*rc EXIT_USAGE, one line said). */
int files_and_output(int argc, char **argv, const char *cmd, const char *usage,
                     const char *out_what, char ***files, const char **out, int *rc)
{
    int n = 0;
    *out = NULL;
    *files = calloc((size_t)argc, sizeof **files);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) {
            *out = argv[++i];
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            *rc = EXIT_OK;
            goto fail;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fputs(usage, stderr);
            *rc = error("%s: unknown option '%s'", cmd, argv[i]);
            goto fail;
        } else {
            (*files)[n++] = argv[i];
        }
    }
    if (n && *out) {
        if (!outfile_is_input(cmd, *out, n, *files))
            return n;
        *rc = EXIT_USAGE;
        goto fail;
    }
    fputs(usage, stderr);
    *rc = !n ? error("%s: no FILE", cmd) : error("%s: no -o %s", cmd, out_what);
fail:
    free(*files);
    *files = NULL;
    return -1;
}
