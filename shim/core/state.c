/*
 * state.c - the process's identity and life-cycle state (core.h:
 * pp_state): its pid and place in the process tree, its start time, and
 * whether the shim is recording.
 *
 * life.c writes it, at start-up and in a forked child; every other core
 * file reads it.  It is defined here, below them all, so that reading it
 * is not a reference up into the life cycle.
 */
#include "core/core.h"

struct pp_state pp_state;
