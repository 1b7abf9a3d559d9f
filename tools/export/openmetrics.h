/*
 * openmetrics.h - what `report --openmetrics`, `push` and `serve` share:
 * user labels (--label k=v) and the writer of the metric families
 * (docs/prometheus.md).
 */
#ifndef PP_OPENMETRICS_H
#define PP_OPENMETRICS_H

#include "read/read.h"

#define OM_MAX_LABELS 32

struct om_labels {
    int pid_always;      /* a pid label even when there is one process */
    int n;
    const char *key[OM_MAX_LABELS];
    const char *value[OM_MAX_LABELS];
};

/* "k=v" added to LS; on a malformed one prints one line ("CMD: --label
 * ...") and returns EXIT_USAGE, else 0 */
int om_label_add(struct om_labels *ls, const char *cmd, const char *arg);
/* 1 when NAME is a valid label name that is not reserved */
int om_label_name_ok(const char *name);

enum om_format {
    OM_OPENMETRICS,   /* application/openmetrics-text; version=1.0.0 */
    OM_TEXT_004,      /* text/plain; version=0.0.4 (what the Pushgateway takes) */
};

/* The figures of RUNS as metric families on F, each labelled with the
 * program, its role in the tree and LS.  EXTRA, when not NULL, is called
 * after the run families to add more (serve's file counts). */
void om_write(FILE *f, struct run *runs, int n, const struct om_labels *ls, enum om_format fmt,
              void (*extra)(FILE *f, enum om_format fmt, void *arg), void *arg);
/* a family's "# HELP/# TYPE/# UNIT" lines (NAME without _total) */
void om_family(FILE *f, enum om_format fmt, const char *name, const char *type,
               const char *unit, const char *help);

int cmd_push(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* `report --openmetrics`: the whole command line of report */
int om_report(int argc, char **argv);

#endif
