/*
 * outfile.c - how every command writes an output file (flame, plot, trace,
 * pprof, scale -o, check --junit).
 *
 * A command writes into a new temporary file beside OUT and renames it over
 * OUT only once everything was written and closed without error, so that a
 * failure (a full disk, nothing to write, an error halfway) never leaves OUT
 * half-written nor destroys the file that was there: OUT is either the
 * previous file, intact, or the whole new one.  And no command writes over
 * one of its own inputs (outfile_is_input).
 *
 * "-" (and a NULL path) is stdout, written as it is.  An OUT that exists
 * and is not a regular file (/dev/null, a FIFO) cannot be replaced by a
 * rename: it is opened and written in place.  A symbolic link is followed:
 * the file it names is replaced, the link kept.
 */
#define _GNU_SOURCE
#include "read/read.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "DIR/.NAME.XXXXXX" beside TARGET */
static char *tmp_template(const char *target)
{
    const char *slash = strrchr(target, '/');
    size_t dlen = slash ? (size_t)(slash - target) + 1 : 0;
    const char *name = slash ? slash + 1 : target;
    size_t n = dlen + strlen(name) + 16;
    char *t = malloc(n);
    if (t)
        snprintf(t, n, "%.*s.%s.XXXXXX", (int)dlen, target, name);
    return t;
}

FILE *outfile_open(struct outfile *o, const char *cmd, const char *path)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->path = path;
    if (!path || !strcmp(path, "-")) {
        o->f = stdout;
        return o->f;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
        } else {
            o->f = fopen(path, "w");   /* a device or FIFO: in place */
            if (o->f)
                return o->f;
        }
        error("%s: %s: %s", cmd, path, strerror(errno));
        return NULL;
    }
    struct stat lst;
    if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
        o->target = realpath(path, NULL);   /* NULL when dangling: the link is replaced */
    if (!o->target)
        o->target = strdup(path);
    o->tmp = o->target ? tmp_template(o->target) : NULL;
    if (!o->tmp) {
        free(o->target);
        o->target = NULL;
        error("%s: out of memory", cmd);
        return NULL;
    }
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        error("%s: %s: %s", cmd, path, strerror(errno));
        goto fail;
    }
    /* the mode a new file gets (mkstemp makes 0600) */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0 || !(o->f = fdopen(fd, "w"))) {
        error("%s: %s: %s", cmd, path, strerror(errno));
        close(fd);
        unlink(o->tmp);
        goto fail;
    }
    return o->f;
fail:
    free(o->tmp);
    free(o->target);
    o->tmp = o->target = NULL;
    return NULL;
}

static void outfile_release(struct outfile *o)
{
    free(o->tmp);
    free(o->target);
    o->tmp = o->target = NULL;
    o->f = NULL;
}

void outfile_abort(struct outfile *o)
{
    if (!o->f || o->f == stdout) {
        o->f = NULL;
        return;
    }
    fclose(o->f);
    if (o->tmp)
        unlink(o->tmp);
    outfile_release(o);
}

int outfile_commit(struct outfile *o)
{
    if (!o->f)
        return EXIT_USAGE;
    if (o->f == stdout) {
        o->f = NULL;
        return EXIT_OK;
    }
    int err = ferror(o->f) ? (errno ? errno : EIO) : 0;
    if (fclose(o->f) != 0 && !err)
        err = errno ? errno : EIO;
    if (!err && o->tmp && rename(o->tmp, o->target) != 0)
        err = errno;
    if (err && o->tmp)
        unlink(o->tmp);
    int rc = err ? error("%s: %s: write failed: %s", o->cmd, o->path, strerror(err)) : EXIT_OK;
    outfile_release(o);
    return rc;
}

int outfile_is_input(const char *cmd, const char *out, int n, char *const *inputs)
{
    struct stat so, si;
    if (!out || !strcmp(out, "-") || stat(out, &so) != 0 || !S_ISREG(so.st_mode))
        return 0;
    for (int i = 0; i < n; i++)
        if (inputs[i] && stat(inputs[i], &si) == 0 && si.st_dev == so.st_dev &&
            si.st_ino == so.st_ino)
            return error("%s: %s: the output is the input %s; not written", cmd, out, inputs[i]);
    return 0;
}

int outfile_is_run(const char *cmd, const char *out, const struct run *runs, int nr)
{
    for (int i = 0; i < nr; i++)
        if (outfile_is_input(cmd, out, 1, &runs[i].path))
            return EXIT_USAGE;
    return 0;
}
