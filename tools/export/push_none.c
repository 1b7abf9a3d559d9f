/*
 * push_none.c - `perfprobe push` where the command is built without
 * libcurl (the macOS build: Zig ships no libcurl stub to link against).
 * One line and status 2; report --prometheus and curl -T do the same job.
 */
#include "openmetrics.h"

int cmd_push(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return error("push: not in this build (made without libcurl); use "
                 "perfprobe report --prometheus FILE | curl -T - URL/metrics/job/NAME");
}
