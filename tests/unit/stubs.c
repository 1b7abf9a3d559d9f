/* stubs.c - what the unit-tested files call in files the unit tests do not
 * link (core.c's state). */
#include "core/core.h"

#include <string.h>
#include <unistd.h>

struct pp_state pp_state;
__thread struct pp_hot pp_hot;
