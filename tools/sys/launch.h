/*
 * launch.h - the portable part of `perfprobe run` on macOS (launch.c): what
 * program really starts, and whether macOS lets DYLD_INSERT_LIBRARIES into
 * it.  Plain C over files and strings, so tests/unit/test_launch.c runs it
 * on Linux with crafted scripts and Mach-O headers.
 */
#ifndef PP_LAUNCH_H
#define PP_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#define LAUNCH_MAX_ARGS 512
#define LAUNCH_MAX_ENV  32

struct launch {
    char path[4096];                  /* the file to execv */
    char *argv[LAUNCH_MAX_ARGS + 1];  /* its arguments, NULL-terminated (strings owned) */
    char *env[LAUNCH_MAX_ENV + 1];    /* NAME=VALUE that env would have set */
    char script[4096];                /* the script (the first #! file), or "" */
};

/* CMD (a path) with ARGV, as the kernel and env would start it: each #!
 * line replaced by its interpreter (its words split on blanks, as macOS
 * does), and env (by name or path, with NAME=VALUE words and -S) replaced
 * by the program it would run, found in SEARCH_PATH.  0, or -1 with WHY
 * (a line of text) when it cannot be resolved; then OUT is CMD, ARGV. */
int launch_resolve(const char *cmd, char *const *argv, const char *search_path,
                   struct launch *out, char *why, size_t whylen);
void launch_free(struct launch *l);

/* Whether the shim can load into the program at PATH on a machine whose
 * CPU is HOST_CPU (MACHO_CPU_*): 0, or 1 with one line in MSG saying why
 * not and what to do instead.  SCRIPT, when not "", is the script PATH
 * interprets (named in the line).  ROOT is prefixed to the protected
 * directories (the tests use it; "" for the real ones). */
int launch_verdict(const char *path, const char *script, int32_t host_cpu, const char *root,
                   char *msg, size_t len);

#endif
