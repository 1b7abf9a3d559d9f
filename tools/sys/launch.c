/*
 * launch.c - the portable part of `perfprobe run` on macOS (launch.h).
 *
 * System Integrity Protection removes every DYLD_* variable when a program
 * under /bin, /sbin, /usr/bin, /usr/sbin, /usr/libexec or /System starts.
 * A script run through /bin/sh, /usr/bin/env or /usr/bin/python3 would so
 * lose the shim before its real interpreter starts; `run` therefore
 * resolves the #! lines and env itself and execs the last program of the
 * chain directly.  dyld also ignores DYLD_INSERT_LIBRARIES for programs
 * signed with the hardened runtime (unless entitled to
 * allow-dyld-environment-variables), restricted ones (CS_RESTRICT, a
 * __RESTRICT segment) and set-user-ID ones, and an arm64e process loads no
 * arm64 library: for those `run` says so in one line, before the program
 * runs untraced.
 */
#define _GNU_SOURCE
#include "sys/launch.h"
#include "read/macho.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int nargs(char *const *v)
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

static void set_argv(struct launch *l, char **words, int nw, char *const *rest)
{
    char *v[LAUNCH_MAX_ARGS + 1];
    int n = 0;
    for (int i = 0; i < nw && n < LAUNCH_MAX_ARGS; i++)
        v[n++] = strdup(words[i]);
    for (int i = 0; rest && rest[i] && n < LAUNCH_MAX_ARGS; i++)
        v[n++] = strdup(rest[i]);
    v[n] = NULL;
    for (int i = 0; l->argv[i]; i++)
        free(l->argv[i]);
    memcpy(l->argv, v, (size_t)(n + 1) * sizeof *v);
}

/* NAME in SEARCH_PATH as execvp would find it: 0, or -1 */
static int search(const char *name, const char *search_path, char *out, size_t len)
{
    struct stat st;
    if (strchr(name, '/')) {
        snprintf(out, len, "%s", name);
        return access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode) ? 0 : -1;
    }
    const char *p = search_path ? search_path : "/usr/bin:/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        snprintf(out, len, "%.*s/%s", (int)n, n ? p : ".", name);
        if (access(out, X_OK) == 0 && stat(out, &st) == 0 && S_ISREG(st.st_mode))
            return 0;
        p += n + (p[n] == ':');
    }
    return -1;
}

/* the words of FILE's #! line, at most MAX (the first is the interpreter):
 * their count, 0 when FILE does not start with #!, -1 when it cannot be read */
static int shebang(const char *file, char *line, size_t len, char **words, int max)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return errno == EACCES ? 0 : -1;   /* execute-only: a binary, for all we know */
    size_t n = fread(line, 1, len - 1, f);
    fclose(f);
    line[n] = 0;
    if (n < 2 || line[0] != '#' || line[1] != '!')
        return 0;
    line[strcspn(line, "\n")] = 0;
    int nw = 0;
    for (char *s = line + 2; *s && nw < max;) {
        s += strspn(s, " \t");
        if (!*s)
            break;
        words[nw++] = s;
        s += strcspn(s, " \t");
        if (*s)
            *s++ = 0;
    }
    return nw;
}

static const char *base_name(const char *p)
{
    return strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
}

/* L runs env (L->argv[0] is env): replaced by the program env would run.
 * 0, or -1 with WHY. */
static int resolve_env(struct launch *l, const char *search_path, char *why, size_t whylen)
{
    char *words[LAUNCH_MAX_ARGS];
    int nw = 0, ne = 0;
    while (l->env[ne])
        ne++;
    char *split = NULL;                  /* -S's string, split into words */
    int i = 1;
    for (; l->argv[i]; i++) {
        char *a = l->argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        } else if (!strcmp(a, "-S") && l->argv[i + 1]) {
            split = strdup(l->argv[++i]);
            i++;
            break;
        } else if (!strncmp(a, "-S", 2)) {
            split = strdup(a + 2);
            i++;
            break;
        } else if (a[0] == '-') {
            snprintf(why, whylen, "env option %s is not understood here", a);
            return -1;
        } else if (strchr(a, '=')) {
            if (ne < LAUNCH_MAX_ENV)
                l->env[ne++] = strdup(a);
        } else {
            break;
        }
    }
    if (split) {                         /* -S "NAME=V prog args": its words, then the rest */
        char *save = NULL;
        for (char *w = strtok_r(split, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
            if (nw == 0 && strchr(w, '=') && ne < LAUNCH_MAX_ENV)
                l->env[ne++] = strdup(w);
            else if (nw < LAUNCH_MAX_ARGS)
                words[nw++] = w;
        }
    }
    for (; l->argv[i] && nw < LAUNCH_MAX_ARGS; i++)
        words[nw++] = l->argv[i];
    if (nw == 0) {
        free(split);
        snprintf(why, whylen, "env without a program to run");
        return -1;
    }
    char found[4096];
    if (search(words[0], search_path, found, sizeof found) < 0) {
        snprintf(why, whylen, "env: %s: not found in PATH", words[0]);
        free(split);
        return -1;
    }
    snprintf(l->path, sizeof l->path, "%s", found);
    char *keep[LAUNCH_MAX_ARGS + 1];
    for (int k = 0; k < nw; k++)
        keep[k] = strdup(words[k]);
    keep[nw] = NULL;
    free(split);
    set_argv(l, keep, nw, NULL);
    for (int k = 0; k < nw; k++)
        free(keep[k]);
    return 0;
}

int launch_resolve(const char *cmd, char *const *argv, const char *search_path,
                   struct launch *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", cmd);
    set_argv(out, (char **)argv, nargs(argv), NULL);
    why[0] = 0;
    for (int depth = 0; depth < 8; depth++) {
        if (!strcmp(base_name(out->path), "env")) {
            if (resolve_env(out, search_path, why, whylen) < 0)
                return -1;
            continue;
        }
        char line[1024], *words[64];
        int nw = shebang(out->path, line, sizeof line, words, 64);
        if (nw < 0) {
            snprintf(why, whylen, "%s: %s", out->path, strerror(errno));
            return -1;
        }
        if (nw == 0)
            return 0;                    /* a binary: this is what runs */
        if (!out->script[0])
            snprintf(out->script, sizeof out->script, "%s", out->path);
        /* the kernel runs: interpreter, its words, the script's path, the arguments */
        char *v[66];
        int n = 0;
        for (int k = 0; k < nw; k++)
            v[n++] = words[k];
        char script[4096];
        snprintf(script, sizeof script, "%s", out->path);
        v[n++] = script;
        char *rest[LAUNCH_MAX_ARGS + 1];
        int nr = 0;
        for (int k = 1; out->argv[k] && nr < LAUNCH_MAX_ARGS; k++)
            rest[nr++] = strdup(out->argv[k]);
        rest[nr] = NULL;
        snprintf(out->path, sizeof out->path, "%s", words[0]);
        set_argv(out, v, n, rest);
        for (int k = 0; k < nr; k++)
            free(rest[k]);
    }
    snprintf(why, whylen, "%s: more than 8 levels of #! and env", cmd);
    return -1;
}

void launch_free(struct launch *l)
{
    for (int i = 0; l->argv[i]; i++)
        free(l->argv[i]);
    for (int i = 0; l->env[i]; i++)
        free(l->env[i]);
    memset(l, 0, sizeof *l);
}

/* 1 when PATH (resolved) lies in a directory SIP protects under ROOT */
static int protected_path(const char *path, const char *root)
{
    static const char *const dirs[] = {"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/",
                                       "/usr/libexec/", "/System/"};
    char real[PATH_MAX];
    const char *p = realpath(path, real) ? real : path;
    size_t rl = strlen(root);
    if (strncmp(p, root, rl))
        return 0;
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        if (!strncmp(p + rl, dirs[i], strlen(dirs[i])))
            return 1;
    return 0;
}

int launch_verdict(const char *path, const char *script, int32_t host_cpu, const char *root,
                   char *msg, size_t len)
{
    char who[4400];
    if (script && *script)
        snprintf(who, sizeof who, "%s (the interpreter of %s)", path, script);
    else
        snprintf(who, sizeof who, "%s", path);
    const char *instead = script && *script
        ? "start the script with an interpreter from outside the system's directories "
          "(Homebrew's or pyenv's, first on PATH for #!/usr/bin/env)"
        : "run a copy from outside the system's directories, signed ad hoc "
          "(cp it to /tmp, then codesign --force --sign - on the copy)";
    if (protected_path(path, root)) {
        snprintf(msg, len, "perfprobe: %s is protected by System Integrity Protection: macOS "
                 "removes DYLD_INSERT_LIBRARIES when it starts, so it will run untraced; %s",
                 who, instead);
        return 1;
    }
    struct stat st;
    if (stat(path, &st) == 0 && (((st.st_mode & S_ISUID) && st.st_uid != geteuid()) ||
                                 ((st.st_mode & S_ISGID) && st.st_gid != getegid()))) {
        snprintf(msg, len, "perfprobe: %s is set-user-ID or set-group-ID: dyld ignores "
                 "DYLD_INSERT_LIBRARIES for it, so it will run untraced; run a copy without "
                 "the bit", who);
        return 1;
    }
    struct macho_file f;
    if (macho_load(path, &f) < 0)
        return 0;                        /* not for us to judge: the exec will say */
    int rc = 0;
    /* an arm64 Mac prefers a program's arm64e slice, when it has one */
    int s = macho_pick(&f, host_cpu, host_cpu == MACHO_CPU_ARM64);
    if (s < 0 && host_cpu == MACHO_CPU_ARM64 && (s = macho_pick(&f, MACHO_CPU_X86_64, 0)) >= 0) {
        snprintf(msg, len, "perfprobe: %s has no arm64 code and runs under Rosetta as x86_64: "
                 "use the x86_64 build of perfprobe and its libperfprobe.dylib for it", who);
        rc = 1;
    } else if (s >= 0 && macho_is_arm64e(&f.slice[s])) {
        snprintf(msg, len, "perfprobe: %s runs as arm64e, which loads no arm64 library such as "
                 "the shim, so it will run untraced; use an arm64 or x86_64 build of it (from "
                 "Homebrew or pyenv, or built yourself)", who);
        rc = 1;
    }
    if (!rc && s >= 0) {
        struct macho_sig sig;
        macho_signature(&f, s, &sig);
        const char *what = NULL;
        if (sig.restrict_segment)
            what = "has a __RESTRICT segment";
        else if (sig.flags & MACHO_CS_RESTRICT)
            what = "is signed as restricted";
        else if ((sig.flags & MACHO_CS_RUNTIME) &&
                 !(sig.allow_dyld_env && sig.no_library_validation))
            what = "is signed with the hardened runtime";
        if (what) {
            snprintf(msg, len, "perfprobe: %s %s: dyld ignores DYLD_INSERT_LIBRARIES for it, so "
                     "it will run untraced; %s", who, what,
                     "run a copy signed ad hoc (cp it elsewhere, then codesign --force --sign - "
                     "on the copy)");
            rc = 1;
        }
    }
    macho_close(&f);
    return rc;
}
