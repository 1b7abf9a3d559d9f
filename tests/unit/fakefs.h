/* fakefs.h - a made-up tree of the kernel's files (cgroup directories and
 * their files) under one temporary directory, for the unit tests that read
 * them (test_cgroup, test_killed).  The test makes tmpdir with mkdtemp. */
#ifndef PP_TEST_FAKEFS_H
#define PP_TEST_FAKEFS_H
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/pp-test-fakefs-XXXXXX";

/* NAME (relative to tmpdir) written with TEXT */
__attribute__((unused)) static void put(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* directory NAME made */
__attribute__((unused)) static void made(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    mkdir(path, 0755);
}

/* file NAME removed */
__attribute__((unused)) static void gone(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    unlink(path);
}
#endif
