/*
 * mend.c - after the program `perfprobe run` started has ended, every
 * damaged line of its timeline is mended in place, so that every line is
 * JSON for any reader (jq, Python's json line by line, pandas, jansson).
 *
 * The processes of a tree append their records to one file, one write(2)
 * each.  A process killed inside its write (the OOM killer, when the write
 * needs a new page of the page cache) leaves the record cut short with no
 * newline, and the next record another process writes is glued after the
 * cut bytes: `{"type":"sample","pid":7,"t_s":1.2,"rs{"type":"sample",...}`.
 * The file is scanned in chunks (a line is held whole up to 16 MiB; a
 * longer one is passed over), and each complete line that is not JSON is
 * rewritten, its bytes only, the file keeping its size (docs/format.md,
 * "cut"):
 *
 *   - cut bytes glued to a whole record: they become a cut record
 *     {"type":"cut","pid":P,"bytes":N} padded with spaces, a newline in
 *     place of their last byte, so the glued record stands on its own line;
 *     too few of them to hold that record: spaces, which the record after
 *     them on the line reads through (leading whitespace);
 *   - a line of cut bytes alone (a full disk, or the killed program's last
 *     record, ended by the newline before run's signal record): a cut
 *     record padded with spaces before its newline; too short for one (a
 *     blank line too): the line and its newline become spaces before the
 *     next complete line, or `{}` and spaces when none follows (a line of
 *     spaces is not JSON for Python's json.loads).
 *
 * P is the pid the cut bytes name right after their type; when they are
 * cut before it, the record has no pid.  The last piece of the file with
 * no newline is never touched (a live process of the tree may be in the
 * middle of writing it), nor a file that is not a timeline, a link, or
 * someone else's.  A line is rewritten only when both the strict check of
 * jsonline.c and jansson reject it.
 */
#define _GNU_SOURCE
#include "read/read.h"
#include "mend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK (1u << 20)
#define MAX_HELD ((16u << 20) + 1)

struct mender {
    int fd;
    const char *path;
    long mended;
    int failed;
    off_t short_at;            /* a short damaged line, newline included, */
    size_t short_len;          /* waiting to know if a complete line follows */
};

/* N bytes at AT of the file; the file may have grown since, never shrunk */
static void put(struct mender *m, const char *p, size_t n, off_t at)
{
    struct stat st;
    if (m->failed || fstat(m->fd, &st) < 0 || st.st_size < at + (off_t)n)
        return;
    if (pwrite(m->fd, p, n, at) != (ssize_t)n) {
        error("run: cannot mend a damaged line of %s: %s", m->path, strerror(errno));
        m->failed = 1;
    }
}

/* the cut record for BYTES cut bytes in at most ROOM bytes: its length, or
 * -1 when even the shape without a pid does not fit */
static int cut_record(char *out, size_t room, long pid, size_t bytes)
{
    char rec[96];
    int r = -1;
    if (pid >= 0)
        r = snprintf(rec, sizeof rec, "{\"type\":\"cut\",\"pid\":%ld,\"bytes\":%zu}", pid, bytes);
    if (r < 0 || (size_t)r > room)
        r = snprintf(rec, sizeof rec, "{\"type\":\"cut\",\"bytes\":%zu}", bytes);
    if ((size_t)r > room)
        return -1;
    memcpy(out, rec, (size_t)r);
    return r;
}

static const char spaces[] = "                                "
                             "                                ";

/* Short damaged lines (too short for a cut record) wait, one after the
 * other, for the next complete line: then all their bytes, newlines
 * included, become spaces before it.  With no complete line after them:
 * "{}" and spaces before their last newline (a line of spaces alone is not
 * JSON); under 3 bytes in all, they are left. */
static void settle_short(struct mender *m, int followed)
{
    size_t n = m->short_len;
    if (!n)
        return;
    m->short_len = 0;
    if (!followed) {
        if (n < 3)
            return;
        put(m, "{}", 2, m->short_at);
        m->short_at += 2;
        n -= 3;                            /* the last newline stays */
    }
    for (size_t done = 0; done < n && !m->failed;) {
        size_t k = n - done < sizeof spaces - 1 ? n - done : sizeof spaces - 1;
        put(m, spaces, k, m->short_at + (off_t)done);
        done += k;
    }
}

/* LINE: LEN bytes at AT, its newline the last */
static void mend_line(struct mender *m, char *line, size_t len, off_t at)
{
    json_t *o = NULL;
    if (json_text_valid(line, len) || (o = json_loadb(line, len, 0, NULL))) {
        json_decref(o);                /* JSON for jansson: not ours to judge */
        settle_short(m, 1);
        return;
    }
    long split = line_resync(line, len);
    size_t n = split > 0 ? (size_t)split : len - 1;    /* the cut bytes */
    long pid = line_cut_pid(line, n);
    int r = split > 0 ? (n > 1 ? cut_record(line, n - 1, pid, n) : -1)
                      : cut_record(line, n, pid, n);
    if (split <= 0 && r < 0) {         /* waits for the next line */
        if (!m->short_len)
            m->short_at = at;
        m->short_len += len;
        m->mended++;
        return;
    }
    settle_short(m, 1);
    m->mended++;
    if (split > 0) {
        /* a cut record and a newline in place of the last cut byte, or
         * spaces the glued record reads through */
        memset(line + (r > 0 ? r : 0), ' ', n - (size_t)(r > 0 ? r : 0));
        if (r > 0)
            line[n - 1] = '\n';
    } else {
        memset(line + r, ' ', n - (size_t)r);
    }
    put(m, line, n, at);
}

/* the first line is a perfprobe timeline's header */
static int is_timeline(const char *line, size_t len)
{
    json_t *o = json_loadb(line, len, 0, NULL);
    const char *f = json_string_value(json_object_get(o, "format"));
    int ok = f && !strcmp(f, "perfprobe-timeline");
    json_decref(o);
    return ok;
}

long timeline_mend(const char *path)
{
    struct mender m = {-1, path, 0, 0, 0, 0};
    struct stat st;
    m.fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (m.fd < 0)
        return -1;
    if (fstat(m.fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        st.st_nlink != 1) {
        close(m.fd);
        return -1;
    }
    off_t size = st.st_size, read_at = 0, base = 0;    /* base: the file offset of buf[0] */
    size_t cap = CHUNK, have = 0;
    char *buf = malloc(cap);
    int too_long = 0, first = 1;
    while (buf && read_at < size && !m.failed) {
        if (have == cap) {                 /* no newline in all that is held */
            if (cap < MAX_HELD) {
                size_t ncap = cap * 2 < MAX_HELD ? cap * 2 : MAX_HELD;
                char *nb = realloc(buf, ncap);
                if (!nb)
                    break;
                buf = nb;
                cap = ncap;
            } else {                       /* a line over 16 MiB: passed over */
                too_long = 1;
                base += (off_t)have;
                have = 0;
            }
        }
        size_t want = cap - have;
        if ((off_t)want > size - read_at)
            want = (size_t)(size - read_at);
        ssize_t got = pread(m.fd, buf + have, want, read_at);
        if (got <= 0)
            break;
        read_at += got;
        have += (size_t)got;
        size_t pos = 0;
        char *nl;
        while ((nl = memchr(buf + pos, '\n', have - pos))) {
            size_t len = (size_t)(nl - (buf + pos)) + 1;
            if (first && !is_timeline(buf, len))
                goto out;
            if (too_long) {
                settle_short(&m, 1);
                too_long = 0;
            } else if (!first) {
                mend_line(&m, buf + pos, len, base + (off_t)pos);
            }
            first = 0;
            pos += len;
        }
        memmove(buf, buf + pos, have - pos);
        base += (off_t)pos;
        have -= pos;
    }
    /* what is left in buf has no newline: a live writer's, never touched */
    settle_short(&m, 0);
out:
    free(buf);
    close(m.fd);
    return m.failed ? -1 : m.mended;
}
