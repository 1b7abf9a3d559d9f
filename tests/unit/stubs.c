/* stubs.c - what the unit-tested files call in files the unit tests do not
 * link (the thread-stack registry lives in rss_parts.c). */
#include "internal.h"

void pp_stack_register(void) {}
void pp_stack_unregister(void) {}
