/*
 * lines.c - the lines of a file, none held longer than a limit.
 *
 * getdelim reads a whole line before its length can be checked: a file
 * with no newline (/dev/zero, a 200 MB line) grew the reader's memory
 * without bound before "line longer than 16 MiB" could be said.  Here the
 * file is read in chunks into one buffer that never grows past the limit
 * plus a chunk, and a line is refused as soon as it passes the limit.
 * read_stop, set by a signal handler, ends the reading at the next chunk:
 * `serve` ends on SIGTERM also while a scrape reads an endless input.
 */
#include "read/read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { CHUNK = 64 << 10 };

volatile sig_atomic_t read_stop;

void lines_init(struct lines *l, int fd, size_t max)
{
    memset(l, 0, sizeof *l);
    l->fd = fd;
    l->max = max;
}

void lines_free(struct lines *l)
{
    free(l->buf);
    l->buf = NULL;
}

/* more bytes after l->end: 0 at the end of the file, -1 on an error */
static int fill(struct lines *l)
{
    if (l->start > 0) {
        memmove(l->buf, l->buf + l->start, l->end - l->start);
        l->end -= l->start;
        l->scanned -= l->start;
        l->start = 0;
    }
    if (l->end == l->cap) {
        size_t want = l->cap ? 2 * l->cap : CHUNK, most = l->max + CHUNK + 1;
        char *b = realloc(l->buf, want < most ? want : most);
        if (!b) {
            errno = ENOMEM;
            return -1;
        }
        l->buf = b;
        l->cap = want < most ? want : most;
    }
    for (;;) {
        if (read_stop)
            return -2;
        ssize_t got = read(l->fd, l->buf + l->end, l->cap - l->end);
        if (got >= 0) {
            l->end += (size_t)got;
            return got > 0;
        }
        if (errno != EINTR)
            return -1;
    }
}

long lines_next(struct lines *l, char **p)
{
    for (;;) {
        if (read_stop)
            return LINE_STOPPED;
        char *nl = l->end > l->scanned ? memchr(l->buf + l->scanned, '\n', l->end - l->scanned)
                                       : NULL;
        if (nl) {
            size_t len = (size_t)(nl + 1 - (l->buf + l->start));
            if (len > l->max)
                return LINE_TOO_LONG;
            *p = l->buf + l->start;
            l->start = l->scanned = l->start + len;
            return (long)len;
        }
        l->scanned = l->end;
        if (l->end - l->start > l->max)
            return LINE_TOO_LONG;
        if (l->eof) {
            size_t len = l->end - l->start;
            if (!len)
                return LINE_EOF;
            *p = l->buf + l->start;
            l->start = l->scanned = l->end;
            return (long)len;
        }
        int r = fill(l);
        if (r == -2)
            return LINE_STOPPED;
        if (r < 0)
            return LINE_ERROR;
        if (r == 0)
            l->eof = 1;
    }
}
