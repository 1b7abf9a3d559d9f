/*
 * macos.c - the command's macOS side (sys.h): where this executable is
 * (_NSGetExecutablePath), close-on-exec sockets (macOS has no SOCK_CLOEXEC
 * nor accept4: fcntl right after; the command starts no program while a
 * socket is being made), and how `run` gets the shim into a program:
 * DYLD_INSERT_LIBRARIES, with the #! lines and env resolved and a line
 * when macOS will keep the shim out (launch.c decides both).
 */
#define _GNU_SOURCE
#include "read/macho.h"
#include "read/read.h"
#include "sys/launch.h"
#include "sys/sys.h"

#include <fcntl.h>
#include <limits.h>
#include <mach-o/dyld.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <unistd.h>

const char sys_shim_name[] = "libperfprobe.dylib";

int sys_self_exe(char *out, size_t len)
{
    char raw[PATH_MAX * 2], real[PATH_MAX];
    uint32_t n = sizeof raw;
    if (_NSGetExecutablePath(raw, &n) != 0 || !realpath(raw, real))
        return -1;
    if (strlen(real) >= len)
        return -1;
    memcpy(out, real, strlen(real) + 1);
    return 0;
}

static int cloexec(int fd)
{
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

int sys_socket(int domain, int type, int protocol)
{
    return cloexec(socket(domain, type, protocol));
}

int sys_accept(int fd)
{
    return cloexec(accept(fd, NULL, NULL));
}

/* macOS has no SI_KERNEL: kill(2) says SI_USER, sigqueue SI_QUEUE */
int sys_signal_from_kernel(const siginfo_t *info)
{
    return info->si_code != SI_USER && info->si_code != SI_QUEUE;
}

/* the machine's CPU: arm64 also for an x86_64 perfprobe under Rosetta */
static int32_t host_cpu(void)
{
    int translated = 0;
    size_t n = sizeof translated;
    if (sysctlbyname("sysctl.proc_translated", &translated, &n, NULL, 0) == 0 && translated)
        return MACHO_CPU_ARM64;
#if defined(__aarch64__) || defined(__arm64__)
    return MACHO_CPU_ARM64;
#else
    return MACHO_CPU_X86_64;
#endif
}

static struct launch started;           /* lives as long as the run */

int sys_run_prepare(const char *shim, char *cmd, size_t cmdlen, char ***argv)
{
    char why[600], msg[5000];
    if (launch_resolve(cmd, *argv, getenv("PATH"), &started, why, sizeof why) < 0)
        return error("run: %s", why);
    for (int i = 0; started.env[i]; i++)
        putenv(started.env[i]);          /* what env would have set; kept by started */
    if (strlen(started.path) >= cmdlen)
        return error("run: %s: path too long", started.path);
    memcpy(cmd, started.path, strlen(started.path) + 1);
    *argv = started.argv;
    if (launch_verdict(cmd, started.script, host_cpu(), "", msg, sizeof msg))
        fprintf(stderr, "%s\n", msg);
    const char *old = getenv("DYLD_INSERT_LIBRARIES");
    char *insert;
    if (asprintf(&insert, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "") < 0)
        return error("run: out of memory");
    setenv("DYLD_INSERT_LIBRARIES", insert, 1);
    free(insert);
    return 0;
}
