/*
 * export.h - the commands that write a run for other programs to read
 * (tools/export/).
 *
 *   pprof.c   `perfprobe pprof`: allocation sites as a gzip'd
 *             profile.proto heap profile
 *   cpu_pprof.c  `pprof --cpu`: CPU samples as a profile.proto CPU profile
 *   pb.c      the protocol buffer wire types both write (pb.h, this room only)
 *   gzout.c   the gzip'd profile into its output file (pb.h)
 *
 * A floor above the reader (read/read.h) and under the front end
 * (perfprobe.c); what an exporter needs from a run comes from the reader
 * (runs, figures, sites), never from report/ or draw/.  The Makefile
 * builds every C file of a room of tools/ into the command, so a new
 * exporter is a new file here, its entry below and a line in perfprobe.c's
 * command table.
 */
#ifndef PP_EXPORT_H
#define PP_EXPORT_H

#include "read/read.h"

/* ---- pprof.c ------------------------------------------------------------------ */

/* `perfprobe pprof [--at exit|peak|PROBE] [-o OUT.pb.gz] FILE` */
int cmd_pprof(int argc, char **argv);

/* cpu_pprof.c: `pprof --cpu FILE` (pprof.c hands it ARGV) */
int cpu_pprof(int argc, char **argv);

#endif
