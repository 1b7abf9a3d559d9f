/*
 * linux.c - the command's Linux side (sys.h): where this executable is,
 * close-on-exec sockets in one call, and how `run` gets the shim into a
 * program (LD_PRELOAD; a static binary refused, a set-user-ID one warned
 * about).
 */
#define _GNU_SOURCE
#include "read/read.h"
#include "sys/sys.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

const char sys_shim_name[] = "libperfprobe.so";

int sys_self_exe(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 1);
    if (n <= 0)
        return -1;
    out[n] = 0;
    return 0;
}

int sys_socket(int domain, int type, int protocol)
{
    return socket(domain, type | SOCK_CLOEXEC, protocol);
}

int sys_accept(int fd)
{
    return accept4(fd, NULL, NULL, SOCK_CLOEXEC);
}

int sys_signal_from_kernel(const siginfo_t *info)
{
    return info->si_code == SI_KERNEL;
}

/* 1 when the dynamic section at OFF (SIZE bytes) of FD says the object is
 * a position-independent executable (DF_1_PIE) */
static int says_pie(int fd, off_t off, uint64_t size)
{
    Elf64_Dyn d;
    for (uint64_t k = 0; k + sizeof d <= size && k < 4096 * sizeof d; k += sizeof d) {
        if (pread(fd, &d, sizeof d, off + (off_t)k) != (ssize_t)sizeof d || d.d_tag == DT_NULL)
            break;
        if (d.d_tag == DT_FLAGS_1)
            return (d.d_un.d_val & DF_1_PIE) != 0;
    }
    return 0;
}

/* 1 when FILE is an ELF executable with no program interpreter: a static
 * binary (a static PIE too: its dynamic section says PIE), which the
 * dynamic linker never sees, so LD_PRELOAD cannot work.  The dynamic
 * linker itself has no interpreter either, but runs the program named
 * after it with LD_PRELOAD (`ld.so PROG`): a shared object, not a PIE */
static int is_static_elf(const char *file)
{
    Elf64_Ehdr eh;
    int fd = open(file, O_RDONLY | O_CLOEXEC), is_static = 0;
    if (fd < 0)
        return 0;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
        memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64) {
        int interp = 0, shared = 0;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            off_t at = (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize;
            if (pread(fd, &ph, sizeof ph, at) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP)
                interp = 1;
            else if (ph.p_type == PT_DYNAMIC && eh.e_type == ET_DYN)
                shared = !says_pie(fd, (off_t)ph.p_offset, ph.p_filesz);
        }
        is_static = !interp && !shared;
    }
    close(fd);
    return is_static;
}

/* 1 when the dynamic loader will ignore LD_PRELOAD for FILE: a set-user-ID
 * or set-group-ID program started by someone who is not its owner/group */
static int setuid_program(const char *file)
{
    struct stat st;
    if (stat(file, &st) != 0)
        return 0;
    return ((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
           ((st.st_mode & S_ISGID) && st.st_gid != getegid());
}

int sys_run_prepare(const char *shim, char *cmd, size_t cmdlen, char ***argv)
{
    (void)cmdlen;
    (void)argv;
    if (is_static_elf(cmd))
        return error("run: %s is statically linked; LD_PRELOAD cannot reach it", cmd);
    const char *old = getenv("LD_PRELOAD");
    char *preload;
    if (asprintf(&preload, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "") < 0)
        return error("run: out of memory");
    setenv("LD_PRELOAD", preload, 1);
    free(preload);
    if (setuid_program(cmd))
        fprintf(stderr, "perfprobe: warning: %s is set-user-ID or set-group-ID: the dynamic "
                "loader ignores LD_PRELOAD for it, so it will run untraced\n", cmd);
    return 0;
}
