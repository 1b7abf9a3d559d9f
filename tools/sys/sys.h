/*
 * sys.h - what the command does differently per system (tools/sys/): one
 * file per system, linux.c or macos.c, chosen by the Makefile (mk/macos-
 * cli.mk for macOS), and nothing of it in #ifdefs elsewhere.
 *
 *   linux.c   /proc/self/exe, SOCK_CLOEXEC and accept4, LD_PRELOAD, the
 *             static-binary refusal and the set-user-ID warning of `run`
 *   macos.c   _NSGetExecutablePath, FD_CLOEXEC, DYLD_INSERT_LIBRARIES, and
 *             what `run` says about programs that will not load the shim
 *   launch.c  (macOS) the portable part of that: #! lines and env resolved,
 *             which program will actually start and whether macOS lets the
 *             shim into it; tested on Linux (tests/unit/test_launch.c)
 *
 * A floor under run.c, draw/ and export/, over read/ (launch.c reads Mach-O
 * headers with read/macho.c).
 */
#ifndef PP_SYS_H
#define PP_SYS_H

#include <signal.h>
#include <stddef.h>

/* the shim's file name: libperfprobe.so or libperfprobe.dylib */
extern const char sys_shim_name[];

/* the path of this executable: 0, or -1 */
int sys_self_exe(char *out, size_t len);

/* socket(2) and accept(2) whose descriptor is closed on exec */
int sys_socket(int domain, int type, int protocol);
int sys_accept(int fd);

/* 1 when signal INFO came from the kernel (the terminal's Ctrl-C, a
 * hang-up), 0 when a process sent it; async-signal-safe */
int sys_signal_from_kernel(const siginfo_t *info);

/* Before `run` starts CMD with *ARGV: refuses (one line, EXIT_USAGE) what
 * the loader cannot reach, warns in one line when the shim will not load,
 * and puts SHIM in the loader's variable.  CMD (CMDLEN bytes) and *ARGV may
 * be replaced by what is really executed (macOS: #! and env resolved).
 * Returns 0 to go on. */
int sys_run_prepare(const char *shim, char *cmd, size_t cmdlen, char ***argv);

#endif
