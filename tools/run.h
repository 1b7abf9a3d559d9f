/*
 * run.h - the `run` command (run.c), for the command table in perfprobe.c.
 *
 * `run` sits on the top floor with the table: it starts the program under
 * the shim and then uses the rooms below it, the live view (draw/) and the
 * reader (read/), as any other command does.
 */
#ifndef PP_RUN_H
#define PP_RUN_H

/* `perfprobe run [-o FILE] [-i MS] [-q] [-n RUNS [--json]] [--stacks MODE]
 * [--live] -- CMD [ARGS...]`: exits with CMD's own status */
int cmd_run(int argc, char **argv);

#endif
