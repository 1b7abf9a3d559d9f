/*
 * perfprobe.c - the command-line front end.
 *
 * A table of commands, as git does it: each takes argc/argv after the
 * command name and returns the process exit status.  Exit codes: 0 ok,
 * 1 a check failed, 2 usage or input error; `run` exits with the traced
 * program's own status (or 128 + signal).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PP_VERSION
#define PP_VERSION "dev"
#endif

static int error(const char *fmt, ...)
{
    va_list ap;
    fputs("perfprobe: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* ---- finding things ------------------------------------------------------- */

/* libperfprobe.so beside this executable, or in ../lib after make install */
static int find_shim(char *out, size_t len)
{
    char self[PATH_MAX / 2];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    *slash = 0;
    static const char *const where[] = {"%s/libperfprobe.so", "%s/../lib/libperfprobe.so"};
    for (size_t i = 0; i < sizeof where / sizeof *where; i++) {
        snprintf(out, len, where[i], self);
        if (access(out, R_OK) == 0) {
            char real[PATH_MAX];
            if (realpath(out, real))
                snprintf(out, len, "%s", real);
            return 0;
        }
    }
    return -1;
}

/* CMD as execvp would find it */
static int find_command(const char *cmd, char *out, size_t len)
{
    if (strchr(cmd, '/')) {
        snprintf(out, len, "%s", cmd);
        return access(out, X_OK);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", cmd);
        if (access(out, X_OK) == 0)
            return 0;
        path += n + (path[n] == ':');
    }
    return -1;
}

/* 1 when FILE is an ELF executable with no program interpreter: a static
 * binary, which the dynamic linker never sees, so LD_PRELOAD cannot work */
static int is_static_elf(const char *file)
{
    Elf64_Ehdr eh;
    int fd = open(file, O_RDONLY | O_CLOEXEC), is_static = 0;
    if (fd < 0)
        return 0;
    if (pread(fd, &eh, sizeof eh, 0) == (ssize_t)sizeof eh &&
        memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 && eh.e_ident[EI_CLASS] == ELFCLASS64) {
        is_static = 1;
        for (int i = 0; i < eh.e_phnum; i++) {
            Elf64_Phdr ph;
            off_t at = (off_t)eh.e_phoff + (off_t)i * eh.e_phentsize;
            if (pread(fd, &ph, sizeof ph, at) != (ssize_t)sizeof ph)
                break;
            if (ph.p_type == PT_INTERP) {
                is_static = 0;
                break;
            }
        }
    }
    close(fd);
    return is_static;
}

/* ---- run ------------------------------------------------------------------- */

static const char run_usage[] =
    "usage: perfprobe run [-o FILE] [-i MS] [-q] -- CMD [ARGS...]\n"
    "\n"
    "Runs CMD under libperfprobe.so and exits with CMD's own status.\n"
    "  -o FILE   timeline file (PERFPROBE_OUTPUT; %p = pid, %n = program)\n"
    "  -i MS     sampling interval in milliseconds (PERFPROBE_INTERVAL_MS)\n"
    "  -q        no table on stderr at exit (PERFPROBE_QUIET=1)\n";

static int cmd_run(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run_usage, stdout);
            return 0;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "-i") == 0) && i + 1 < argc) {
            setenv(a[1] == 'o' ? "PERFPROBE_OUTPUT" : "PERFPROBE_INTERVAL_MS", argv[++i], 1);
        } else if (strcmp(a, "-q") == 0) {
            setenv("PERFPROBE_QUIET", "1", 1);
        } else if (a[0] == '-') {
            fputs(run_usage, stderr);
            return error("run: unknown option '%s'", a);
        } else {
            break;
        }
    }
    if (i >= argc) {
        fputs(run_usage, stderr);
        return error("run: no command given");
    }
    char shim[PATH_MAX], cmd[PATH_MAX];
    if (find_shim(shim, sizeof shim) < 0)
        return error("run: libperfprobe.so not found beside %s or in ../lib", "perfprobe");
    if (find_command(argv[i], cmd, sizeof cmd) < 0)
        return error("run: %s: command not found", argv[i]);
    if (is_static_elf(cmd))
        return error("run: %s is statically linked; LD_PRELOAD cannot reach it", cmd);

    const char *old = getenv("LD_PRELOAD");
    char *preload;
    if (asprintf(&preload, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "") < 0)
        return error("run: out of memory");
    setenv("LD_PRELOAD", preload, 1);
    unsetenv("PERFPROBE_ROOT");         /* this run starts a new tree */
    execv(cmd, argv + i);
    return error("run: cannot execute %s: %s", cmd, strerror(errno));
}

/* ---- the table ------------------------------------------------------------- */

static int cmd_help(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("perfprobe %s\n", PP_VERSION);
    return 0;
}

static const struct cmd {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a program under the shim"},
    {"help", cmd_help, "list the commands"},
    {"version", cmd_version, "print the version"},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: perfprobe COMMAND [ARGS...]   (perfprobe COMMAND --help)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cmd_help(0, NULL);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    if (strcmp(name, "--version") == 0)
        name = "version";
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    return error("'%s' is not a command; see 'perfprobe help'", argv[1]);
}
