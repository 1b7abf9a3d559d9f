/*
 * perfprobe.c - the command-line front end: main and the command table.
 *
 * A table of commands, as git does it: each takes argc/argv after the
 * command name and returns the process exit status.  Exit codes: 0 ok,
 * 1 a check failed, 2 usage or input error; `run` exits with the traced
 * program's own status (or 128 + signal).  docs/cli.md documents each.
 *
 * This is the top floor: every command lives in a room below it and none
 * calls back up here (docs/design.md, "The perfprobe command"): run.c,
 * report/ (report, diff, check), draw/ (plot, trace, scale, watch, flame),
 * export/ (pprof), all on the reader, read/.
 */
#define _GNU_SOURCE
#include "draw/draw.h"
#include "export/export.h"
#include "export/openmetrics.h"
#include "read/read.h"
#include "report/report.h"
#include "run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifndef PP_VERSION
#define PP_VERSION "dev"
#endif

/* ---- the table ------------------------------------------------------------- */

static int cmd_help(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("perfprobe %s\n", PP_VERSION);
    return 0;
}

static const struct cmd {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a program under the shim (-n RUNS: cold repeats)"},
    {"report", cmd_report, "print timelines as text, JSON, CSV or Markdown"},
    {"diff", cmd_diff, "compare two timelines"},
    {"check", cmd_check, "the CI gate: fail on limits and regressions"},
    {"plot", cmd_plot, "draw timelines: HTML (interactive) or SVG"},
    {"trace", cmd_trace, "write Chrome trace-event JSON for Perfetto"},
    {"scale", cmd_scale, "run a command over input sizes: throughput, latency, memory"},
    {"watch", cmd_watch, "a live view of a timeline as it is written"},
    {"flame", cmd_flame, "allocation sites as folded stacks (flame graphs)"},
    {"pprof", cmd_pprof, "allocation sites as a pprof heap profile (.pb.gz)"},
    {"push", cmd_push, "push a run's figures to a Prometheus Pushgateway"},
    {"serve", cmd_serve, "serve /metrics for Prometheus from timelines being written"},
    {"help", cmd_help, "list the commands"},
    {"version", cmd_version, "print the version"},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: perfprobe COMMAND [ARGS...]   (perfprobe COMMAND --help)\n\n");
    printf("exit codes: 0 ok, 1 a check failed, 2 usage or input error;\n"
           "run exits with the program's own status\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    /* --process NAME|PID, for every command that reads a process tree:
     * which process is the main one (timeline_read.c, run_main) */
    for (int i = 2; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--process")) {
            run_process_choice = argv[i + 1];
            memmove(argv + i, argv + i + 2, (size_t)(argc - i - 2 + 1) * sizeof *argv);
            argc -= 2;
            break;
        }
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    if (strcmp(name, "--version") == 0)
        name = "version";
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            if (fflush(stdout) != 0 && rc == EXIT_OK)
                return error("cannot write the output: %s", strerror(errno));
            return rc;
        }
    return error("'%s' is not a command; see 'perfprobe help'", argv[1]);
}
