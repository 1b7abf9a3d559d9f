/*
 * secure.c - whether a program about to be started will run without the
 * shim because the loader runs it in secure-execution mode (AT_SECURE):
 * then ld.so ignores LD_PRELOAD (but for set-user-ID libraries in its
 * trusted directories, which the shim is not), and the child, with all it
 * starts in turn, writes nothing.  The exec and spawn hooks ask, so that
 * the timeline says such a child was not traced instead of losing it
 * without a word.
 *
 * The kernel sets AT_SECURE when the exec changes the credentials: a
 * set-user-ID file owned by another user than the caller, a set-group-ID
 * (and group-executable) file of another group, or a file whose
 * capabilities raise the caller's.  Neither happens on a file system
 * mounted nosuid, nor once the caller set no_new_privs.  File
 * capabilities are taken as raising anything for a caller other than
 * root (root's permitted set already holds them all).
 *
 * A program of another ELF class or machine (a 32-bit one on a 64-bit
 * system) has a loader of its own, which cannot load the shim and says so
 * on stderr ("wrong ELF class: ELFCLASS64"): it is told apart here too, and
 * the hooks take the shim out of the environment it gets.
 */
#define _GNU_SOURCE
#include "sys/sys.h"

#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

const char pp_os_other_abi[] = "another ELF class or machine";

/* the first N bytes H of a file: -1 not ELF, 0 an ELF file of the shim's
 * class and machine, 1 of another (a 32-bit program on a 64-bit system) */
static int elf_of(const unsigned char *h, ssize_t n)
{
    if (n < 20 || memcmp(h, ELFMAG, SELFMAG) != 0)
        return -1;
    int machine = h[EI_DATA] == ELFDATA2MSB ? h[18] << 8 | h[19] : h[18] | h[19] << 8;
    int class = sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32;
#if defined(__x86_64__)
    int ours = EM_X86_64;
#elif defined(__aarch64__)
    int ours = EM_AARCH64;
#elif defined(__i386__)
    int ours = EM_386;
#else
    int ours = machine;
#endif
    return h[EI_CLASS] != class || machine != ours;
}

/* N bytes of FILE from its start into H, or -1; only a regular file is
 * read (a FIFO's open would wait for a writer, for ever in a vfork child
 * whose exec then fails as bare) */
static ssize_t head_of(const char *file, unsigned char *h, size_t n)
{
    struct stat st;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -1;
    ssize_t got = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, h, n, 0) : -1;
    close(fd);
    return got;
}

int pp_os_elf_class(const char *file)
{
    unsigned char h[20];
    return elf_of(h, head_of(file, h, sizeof h));
}

/* 1 when FILE is an ELF file of another class or machine than the shim's;
 * for a script, its interpreter (one level, as the kernel's first look) */
static int other_abi(const char *file, int depth)
{
    unsigned char h[256];
    ssize_t n = head_of(file, h, sizeof h - 1);
    int elf = elf_of(h, n);
    if (elf >= 0)
        return elf;
    if (n < 3 || h[0] != '#' || h[1] != '!' || depth > 0)
        return 0;
    h[n] = 0;
    char *p = (char *)h + 2;
    while (*p == ' ' || *p == '\t')
        p++;
    char *e = p;
    while (*e && *e != ' ' && *e != '\t' && *e != '\n')
        e++;
    if (*e == 0 && n == (ssize_t)sizeof h - 1)
        return 0;                       /* the line longer than read */
    *e = 0;
    return *p == '/' && other_abi(p, depth + 1);
}

int pp_os_exec_other_abi(const char *file)
{
    return other_abi(file, 0);
}

const char *pp_os_exec_untraced(const char *file, const char *path)
{
    char found[PATH_MAX];
    struct stat st;
    if (!(file = pp_exec_file(file, path, found, sizeof found)))
        return NULL;
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    if (other_abi(file, 0))
        return pp_os_other_abi;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
        return NULL;
    struct statvfs vfs;
    if (statvfs(file, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
        return NULL;
    if ((st.st_mode & S_ISUID) && st.st_uid != geteuid())
        return "set-user-ID";
    if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && st.st_gid != getegid())
        return "set-group-ID";
    if (getuid() != 0 && getxattr(file, "security.capability", NULL, 0) > 0)
        return "file capabilities";
    return NULL;
}
