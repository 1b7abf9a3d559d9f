/*
 * timeline.c - the JSON Lines file: a header per process image, samples as
 * they are taken, probes and counters as they happen, and a summary at
 * normal exit (docs/format.md).
 *
 * One file holds a whole process tree.  The first process creates it; every
 * later image (a forked child, the program an exec started, the root after
 * an exec) appends to the same file, which it finds through PERFPROBE_TREE
 * in the environment and recognises by device and inode.  Every record
 * carries the writer's pid, and each is handed to the kernel in a single
 * write(2) on a descriptor opened with O_APPEND, so records of different
 * processes and threads never interleave and a killed process leaves
 * everything up to its last record: no signal handler is needed, and none
 * is installed.
 *
 * The file is opened as carefully as a setuid program would: O_NOFOLLOW
 * (a symbolic link planted in /tmp is refused), O_NONBLOCK (a FIFO never
 * blocks start-up), regular files only, an existing file replaced only when
 * it belongs to the user and has no other links.  The descriptor lives far
 * above the program's numbers and is checked before every write (see
 * pp_fd_adopt in sys/posix.c).  A write that fails (a full disk) is reported
 * once; a record cut short is ended by a newline before the next one, so
 * that one damaged line never swallows the record after it, and a record
 * glued after another process's cut bytes mends that line (below).  Records
 * are laid out so that none of a page or less crosses a page of the file,
 * where a kill can cut a write (below).
 */
#define _GNU_SOURCE
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FORMAT_VERSION 2

static struct pp_fd out = {-1, 0, 0};
static dev_t file_dev;
static ino_t file_ino;
static int have_file;
static char path[4200];
static pp_lock_t lock = PP_LOCK_INIT;
static uint64_t samples_written, samples_taken, last_written_ns;
static struct pp_sample last;
static int have_last, closed, torn, failing;
/* set while this thread writes: a record from a signal handler that
 * interrupted a write on the same thread is dropped, never waited for */
static __thread int writing PP_TLS;

const char *pp_timeline_path(void) { return have_file ? path : ""; }
uint64_t pp_timeline_samples(void) { return samples_written; }
void pp_timeline_lock(void) { pp_lock(&lock); }
void pp_timeline_unlock(void) { pp_unlock(&lock); }

int pp_timeline_identity(uint64_t *dev, uint64_t *ino, const char **p)
{
    if (!have_file)
        return -1;
    *dev = (uint64_t)file_dev;
    *ino = (uint64_t)file_ino;
    *p = path;
    return 0;
}

/* ---- opening the file ----------------------------------------------------- */

/* Expand %p (pid), %n (program name) and %% in the template. */
static void expand_path(void)
{
    struct pp_buf b = {path, 0, sizeof path - 1};
    const char *t = pp_opt.output;
    for (size_t i = 0; t[i]; i++) {
        if (t[i] == '%' && t[i + 1] == 'p') {
            pp_buf_u64(&b, (uint64_t)pp_state.pid);
            i++;
        } else if (t[i] == '%' && t[i + 1] == 'n') {
            pp_buf_str(&b, pp_state.program);
            i++;
        } else if (t[i] == '%' && t[i + 1] == '%') {
            pp_buf_raw(&b, "%", 1);
            i++;
        } else {
            pp_buf_raw(&b, t + i, 1);
        }
    }
    path[b.len] = 0;
}

/* O_NONBLOCK: opening a FIFO must not wait for a reader.  O_RDWR, so that
 * the byte before a record can be read (glued records, below); a file the
 * user may write but not read is opened write-only, without that check. */
#define OPEN_FLAGS (O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
#define WRITE_ONLY(flags) (((flags) & ~O_RDWR) | O_WRONLY)

/* open PATH with FLAGS, write-only when reading is not allowed */
static int open_rw(int flags, mode_t mode)
{
    int fd = open(path, flags, mode);
    if (fd < 0 && errno == EACCES)
        fd = open(path, WRITE_ONLY(flags), mode);
    return fd;
}

/* Why open failed, in the user's terms. */
static const char *open_error(int err)
{
    struct stat st;
    if (err == ELOOP)
        return "is a symbolic link (not followed)";
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return "is not a regular file";
    return pp_err_text(err);
}

static const char *refuse_reason(const struct stat *st, int created)
{
    if (!S_ISREG(st->st_mode))
        return "is not a regular file";
    if (st->st_uid != geteuid())
        return "belongs to another user";
    if (!created && st->st_nlink > 1)
        return "has other hard links";
    return NULL;
}

/* The root's first image: a new file, or the user's own old one emptied. */
static int create_file(const char **why)
{
    struct stat st;
    int created = 1;
    int fd = open_rw(OPEN_FLAGS | O_CREAT | O_EXCL, 0644);
    if (fd < 0 && errno == EEXIST) {
        created = 0;
        fd = open_rw(OPEN_FLAGS, 0);
    }
    if (fd < 0) {
        *why = open_error(errno);
        return -1;
    }
    if (fstat(fd, &st) != 0 || (*why = refuse_reason(&st, created)) != NULL ||
        (!created && ftruncate(fd, 0) != 0)) {
        if (!*why)
            *why = pp_err_text(errno);
        close(fd);
        return -1;
    }
    file_dev = st.st_dev;
    file_ino = st.st_ino;
    return fd;
}

/* A later image: the tree's file, and only if it is still that file. */
static int reopen_file(const char **why)
{
    struct stat st;
    int fd = open_rw(OPEN_FLAGS, 0);
    if (fd < 0) {
        *why = open_error(errno);
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != file_dev ||
        st.st_ino != file_ino) {
        *why = "was replaced by another file";
        close(fd);
        return -1;
    }
    return fd;
}

/* A descriptor to write to now: the kept one if it is still ours, else the
 * file opened again (and kept if the limit allows).  *transient is set when
 * the caller must close it after the write; *size is the file's size seen
 * by the check, -1 when unknown. */
static int writable_fd(int *transient, off_t *size)
{
    const char *why;
    uint64_t sz;
    *transient = 0;
    *size = -1;
    if (out.fd >= 0 && pp_fd_ok_size(&out, &sz)) {
        *size = (off_t)sz;
        return out.fd;
    }
    int fd = reopen_file(&why);
    if (fd < 0)
        return -1;
    if (pp_fd_can_keep() && pp_fd_adopt(&out, fd) == 0)
        return out.fd;
    if (out.fd < 0 && !pp_fd_can_keep()) {
        *transient = 1;
        return fd;
    }
    return -1;
}

/* Said once per process: a disk that fills up again stays quiet. */
static void report_failure(int err)
{
    if (failing)
        return;
    failing = 1;
    /* one line from the tree's first process; the others' gap records
     * say what they lost (twenty children meeting a full file printed
     * twenty lines) */
    if (pp_state.is_root)
        pp_warn("cannot write the timeline '", path, "': ", pp_err_text(err));
}

/* ---- records laid out in pages ---------------------------------------------- *
 *
 * A kill (the OOM killer's too) cuts a write(2) to a regular file only
 * between pages: the kernel looks for a fatal signal, and charges each new
 * page of the page cache to the memory cgroup, once a page (its write
 * loop, generic_perform_write, and the filesystems' iomap loop alike go a
 * page or a larger block at a time, and a larger block starts at a page's
 * start too).  A record that lies within one PAGE of the file therefore
 * goes in whole or not at all, even when the process dies in the write.
 * So the records are laid out: a record of PAGE bytes or fewer that would
 * cross into the next page comes after a pad record,
 * {"type":"pad","pid":P,"t_s":T} and spaces up to the page's end; and so
 * that a pad always fits, a record that would leave fewer than PAD_MIN
 * bytes before the page's end takes them as spaces before its newline.
 * Both are JSON as they stand.  A pad before a header is {"type":"pad"}
 * alone: one with the pid would be a record of that pid between the exec
 * record that ended its last image and the new image's header.  A record
 * longer than a page comes as parts that each fit one (split.c, emit).
 * Where a write lands is the file's size seen just before it, under a
 * lock while other processes may write the file ("writers of one file"). */
#define PAGE 4096u
#define PAD_MIN 64                      /* a pad, with 10 digits of pid and
                                         * 17 of t_s, and its newline */
#define LAID_IOV 64

static char pad_line[PAGE];             /* a pad record, then spaces */
static char pad_bare[PAGE];             /* {"type":"pad"}, then spaces */

struct laid {
    int fd;                             /* -1: only count */
    int k, failed, padded;              /* padded: pad_line is this write's */
    size_t bytes, written;
    struct iovec v[LAID_IOV];
};

/* writev refused (a seccomp filter's error answer): the parts in one
 * buffer, in one write, so that an O_APPEND record still lands whole; a
 * longer run of parts goes a part at a time.  Under the timeline's lock */
static char gathered[64 * 1024];

static ssize_t write_gathered(int fd, const struct iovec *v, int k)
{
    size_t n = 0;
    for (int i = 0; i < k; i++)
        n += v[i].iov_len;
    if (n > sizeof gathered)
        return write(fd, v->iov_base, v->iov_len);
    for (int i = 0, at = 0; i < k; at += (int)v[i].iov_len, i++)
        memcpy(gathered + at, v[i].iov_base, v[i].iov_len);
    return write(fd, gathered, n);
}

static void laid_flush(struct laid *l)
{
    struct iovec *v = l->v;
    int k = l->k;
    l->k = 0;
    while (k > 0 && !l->failed) {
        ssize_t w = writev(l->fd, v, k);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == ENOSYS || errno == EPERM))
            w = write_gathered(l->fd, v, k);        /* a seccomp filter's answer */
        if (w <= 0) {
            report_failure(w < 0 ? errno : ENOSPC);
            l->failed = 1;
            break;
        }
        l->written += (size_t)w;
        while (k > 0 && (size_t)w >= v->iov_len) {
            w -= (ssize_t)v->iov_len;
            v++;
            k--;
        }
        if (k > 0) {
            v->iov_base = (char *)v->iov_base + w;
            v->iov_len -= (size_t)w;
        }
    }
}

static void laid_add(struct laid *l, const char *p, size_t n)
{
    l->bytes += n;
    if (l->fd < 0 || n == 0)
        return;
    struct iovec *end = l->k ? &l->v[l->k - 1] : NULL;
    if (end && (const char *)end->iov_base + end->iov_len == p) {
        end->iov_len += n;              /* records that follow each other */
        return;
    }
    if (l->k == LAID_IOV)
        laid_flush(l);
    l->v[l->k].iov_base = (void *)p;
    l->v[l->k].iov_len = n;
    l->k++;
}

/* The records in P[0..N) (each ended by a newline), for a write landing
 * at AT (-1: unknown, written as they are) */
static void lay_out(struct laid *l, const char *p, size_t n, off_t at)
{
    if (pad_line[PAGE - 1] != ' ') {    /* the spaces, once */
        memset(pad_line, ' ', sizeof pad_line);
        memset(pad_bare, ' ', sizeof pad_bare);
        memcpy(pad_bare, "{\"type\":\"pad\"}", 14);
    }
    if (at < 0) {
        laid_add(l, p, n);
        return;
    }
    uint64_t pos = (uint64_t)at;
    while (n) {
        const char *e = memchr(p, '\n', n);
        size_t len = e ? (size_t)(e - p) + 1 : n;
        size_t left = PAGE - pos % PAGE;
        if (len <= PAGE && len > left && left >= PAD_MIN) {
            /* before a header, a pad of no image (format.md) */
            int bare = len >= 16 && memcmp(p, "{\"type\":\"header\"", 16) == 0;
            if (l->fd >= 0 && !l->padded && !bare) {    /* pid and time of this write */
                struct pp_buf b = {pad_line, 0, PAD_MIN - 1};
                memset(pad_line, ' ', PAD_MIN);
                pp_buf_str(&b, "{\"type\":\"pad\",\"pid\":");
                pp_buf_u64(&b, (uint64_t)pp_state.pid);
                pp_buf_key(&b, "t_s");
                pp_buf_fixed(&b, (int64_t)(pp_now_ns() - pp_state.start_ns), 9, 6);
                pp_buf_raw(&b, "}", 1);
                l->padded = 1;
            }
            laid_add(l, bare ? pad_bare : pad_line, left - 1);
            laid_add(l, "\n", 1);
            pos += left;
        }
        pos += len;
        size_t tail = PAGE - pos % PAGE;
        if (e && tail < PAD_MIN) {      /* (tail < PAGE: not at a page's end) */
            laid_add(l, p, len - 1);
            laid_add(l, pad_line + PAGE - tail, tail);
            laid_add(l, e, 1);
            pos += tail;
        } else {
            laid_add(l, p, len);
        }
        p += len;
        n -= len;
    }
}

/* the bytes P[0..N) take laid out at AT */
static size_t laid_size(const char *p, size_t n, off_t at)
{
    struct laid l;
    l.fd = -1;
    l.bytes = 0;
    lay_out(&l, p, n, at);
    return l.bytes;
}

/* P[0..N) laid out and written through FD at AT; the bytes written, and
 * *WHOLE when all of them were */
static size_t write_laid(int fd, const char *p, size_t n, off_t at, int *whole)
{
    struct laid l;
    l.fd = fd;
    l.k = l.failed = l.padded = 0;
    l.bytes = l.written = 0;
    lay_out(&l, p, n, at);
    laid_flush(&l);
    *whole = !l.failed && l.written == l.bytes;
    return l.written;
}

/* Room for records is reserved ahead of the end of the file, RESERVE bytes
 * at a time (pp_os_reserve: fallocate, keeping the size): an O_APPEND write into
 * blocks the file already owns cannot run out of space, so a record goes in
 * whole; when the reservation fails the record is skipped whole, counted,
 * and a "gap" record says what was lost once room returns (docs/design.md,
 * "The hazards").  Several processes of a tree share the blocks reserved,
 * so each may find less room than it counted: the old torn-line path below
 * stays for that case. */
#define RESERVE (64 * 1024u)
static size_t room;                     /* reserved bytes this process counts */
static int no_reserve;                  /* the filesystem has no fallocate */
static uint64_t lost_records, lost_bytes, lost_first_ns, lost_last_ns;
static uint64_t samples_lost;           /* taken out of the summary's count */
static char lost_header[16384];         /* the header, when it was kept out */
static size_t lost_header_len;

/* N bytes written into the room reserved */
static void room_used(size_t n)
{
    room -= room >= n ? n : room;
}

static int reserve_err = ENOSPC;        /* why the last reserve said no */

/* Under a file-size limit, room never returns: the last FINAL_ROOM bytes
 * below it (half the limit, for a limit under twice that) are kept for the
 * summary, which then still ends the image, after a gap record saying what
 * was kept out (a summary of many regions takes several pages).  The
 * tree's first process has the last of it: the others keep twice as much
 * back for their records and as much for their summaries, so that their
 * summaries cannot take the room the first one's needs.  finishing: the
 * summary is being written (under the lock) */
#define FINAL_ROOM (64 * 1024u)
static int finishing;

static uint64_t kept_back(uint64_t lim)
{
    uint64_t kept = lim / 2 < FINAL_ROOM ? lim / 2 : FINAL_ROOM;
    if (pp_state.is_root)
        return finishing ? 0 : kept;
    return finishing ? kept : kept * 2 < lim ? kept * 2 : lim;
}

static int reserve(int fd, size_t n)
{
    /* a file-size limit: a write past it would be cut short mid-line (the
     * kernel's reservation does not look at the limit, and a limit that
     * is not a multiple of a page ends inside one), so a record that
     * would cross it is kept out whole, as on a full disk */
    uint64_t lim = pp_fsize_limit();
    off_t end = -1;
    if (lim != UINT64_MAX && (end = lseek(fd, 0, SEEK_END)) >= 0 &&
        (uint64_t)end + n + kept_back(lim) > lim) {
        reserve_err = EFBIG;
        return 0;
    }
    reserve_err = ENOSPC;
    if (room >= n || no_reserve)
        return 1;
    if (end < 0)
        end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        return 1;                       /* not seekable: write and see */
    /* ahead when there is room for it, else just this record (a nearly
     * full disk still takes the records that fit) */
    size_t want = RESERVE + n;
    if (lim != UINT64_MAX && (uint64_t)end + want > lim)
        want = (size_t)(lim - (uint64_t)end);
    int err;
    while ((err = pp_os_reserve(fd, (uint64_t)end, want)) != 0) {
        if (err == EOPNOTSUPP)
            no_reserve = 1;             /* written as before: a line may tear */
        if (want > n && (err == ENOSPC || err == EDQUOT)) {
            want = n;
            continue;
        }
        return err != ENOSPC && err != EDQUOT && err != EFBIG;
    }
    room = want;
    return 1;
}

static void write_gap(int fd)
{
    char g[256];
    struct pp_buf b = {g, 0, sizeof g};
    pp_buf_str(&b, "{\"type\":\"gap\",\"pid\":");
    pp_buf_u64(&b, (uint64_t)pp_state.pid);
    pp_buf_key(&b, "records");
    pp_buf_u64(&b, lost_records);
    pp_buf_key(&b, "bytes");
    pp_buf_u64(&b, lost_bytes);
    pp_buf_key(&b, "from_s");
    pp_buf_fixed(&b, (int64_t)lost_first_ns, 9, 6);
    pp_buf_key(&b, "to_s");
    pp_buf_fixed(&b, (int64_t)lost_last_ns, 9, 6);
    pp_buf_raw(&b, "}\n", 2);
    off_t at = lseek(fd, 0, SEEK_END);
    size_t need = laid_size(g, b.len, at);
    if (b.len < b.cap && reserve(fd, need)) {
        int whole;
        size_t w = write_laid(fd, g, b.len, at, &whole);
        room_used(w);
        if (whole)
            lost_records = lost_bytes = 0;
    }
}

/* ---- records glued after cut bytes ------------------------------------------ *
 *
 * A process of the tree killed inside its write (the OOM killer, when the
 * write needs a new page of the page cache) leaves its record cut short
 * with no newline, and the next record any process writes lands on the
 * same line: `{"type":"sample","pid":7,"rs{"type":"probe",...}`, which no
 * JSON reader takes.  The writer of that next record mends the line at
 * once, as `perfprobe run` would after the run (tools/mend.c), so that the
 * file is whole for any reader even without `run`: the cut bytes become a
 * cut record, {"type":"cut","pid":P,"bytes":N}, padded with spaces and
 * ended by a newline in place of their last byte; when too few to hold it,
 * spaces, which the record after them reads through.  Which byte comes
 * before a record is known without a system call while no other process
 * has written since this one (the size the descriptor check saw is where
 * this process's last write ended); otherwise the write's end is asked
 * (lseek) and the byte before it read.  Bytes are rewritten through a
 * descriptor of their own (pwrite on an O_APPEND one appends), opened for
 * the moment and checked to be the same file; a cut longer than MEND_MAX
 * is left to `perfprobe run`.  Not seen: a process killed between this
 * process's check of the file and its write (its cut bytes then come
 * first, and `run` mends them). */
#define MEND_MAX (1 << 20)
static off_t our_end = -1;              /* where this process's last write ended */

/* the pid named right after the type in the cut bytes P[0..N), or -1 */
static long cut_pid(const char *p, size_t n)
{
    static const char key[] = "\"pid\":";
    size_t k = sizeof key - 1;
    for (size_t i = 0; i + k < n && i < 40; i++) {
        if (memcmp(p + i, key, k) != 0)
            continue;
        long v = 0;
        size_t j = i + k;
        while (j < n && p[j] >= '0' && p[j] <= '9' && v < 1000000000L)
            v = v * 10 + (p[j++] - '0');
        return j > i + k && j < n && (p[j] == ',' || p[j] == '}') ? v : -1;
    }
    return -1;
}

/* the line that ends at START (exclusive) holds cut bytes: mend it */
static void mend_before(int fd, off_t start)
{
    char buf[4096];
    off_t from = start;
    for (;;) {                          /* back to the line's start */
        size_t k = from >= (off_t)sizeof buf ? sizeof buf : (size_t)from;
        if (k == 0)
            break;
        if (pread(fd, buf, k, from - (off_t)k) != (ssize_t)k)
            return;
        size_t i = k;
        while (i > 0 && buf[i - 1] != '\n')
            i--;
        from -= (off_t)(k - i);
        if (i > 0)
            break;
        if (start - from > MEND_MAX)
            return;
    }
    size_t cut = (size_t)(start - from);
    ssize_t got = pread(fd, buf, cut < 64 ? cut : 64, from);
    if (cut == 0 || got <= 0)
        return;
    if (memchr(buf, '{', (size_t)got) != buf)
        return;                         /* not the start of a record */
    char rec[96];
    struct pp_buf b;
    long pid = cut_pid(buf, (size_t)got);
    for (int with_pid = pid >= 0;; with_pid = 0) {  /* without it if too long */
        b = (struct pp_buf){rec, 0, sizeof rec};
        pp_buf_str(&b, "{\"type\":\"cut\"");
        if (with_pid) {
            pp_buf_key(&b, "pid");
            pp_buf_u64(&b, (uint64_t)pid);
        }
        pp_buf_key(&b, "bytes");
        pp_buf_u64(&b, cut);
        pp_buf_raw(&b, "}", 1);
        if (!with_pid || b.len + 1 <= cut)
            break;
    }
    size_t head = b.len + 1 <= cut ? b.len : 0;   /* else spaces only */
    struct stat st;
    int wfd = open(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (wfd < 0)
        return;
    if (fstat(wfd, &st) == 0 && st.st_dev == file_dev && st.st_ino == file_ino) {
        memset(buf, ' ', sizeof buf);
        int ok = head == 0 || pwrite(wfd, rec, head, from) == (ssize_t)head;
        for (size_t at = head; ok && at < cut;) {
            size_t k = cut - at > sizeof buf ? sizeof buf : cut - at;
            if (head && at + k == cut)
                buf[k - 1] = '\n';
            ok = pwrite(wfd, buf, k, from + (off_t)at) == (ssize_t)k;
            at += k;
        }
    }
    close(wfd);
}

/* A forked child shares its parent's open file description, and with it
 * the file offset that every O_APPEND write moves, so where its own write
 * ended could not be asked: the child opens the file afresh onto the same
 * descriptor number.  When it cannot, it makes no glue check. */
static int shared_offset;

static void own_description(void)
{
    const char *why;
    int saved = errno;
    shared_offset = 0;
    if (out.fd < 0 || !pp_fd_ok(&out))
        goto done;
    int fd = reopen_file(&why);
    if (fd < 0 || pp_fd_replace(&out, fd) != 0)
        shared_offset = 1;
    if (fd >= 0)
        close(fd);
done:
    errno = saved;
}

/* ---- writers of one file ------------------------------------------------- *
 *
 * The layout above needs where a write lands, and with O_APPEND that is
 * the file's end when the kernel takes the write: another process of the
 * tree writing between this process's look at the size and its write
 * moved it (in t0966, four processes writing at once: 21-46 records or
 * pads across a page in about 2,900 pages).  So while other processes may
 * write the file, a write holds a lock on it from the look to the write:
 * flock, advisory, on the open file (each process has its own: forked
 * children open the file afresh), released by the kernel with the
 * descriptor when a process dies holding it.  It is taken only when free,
 * tried again for at most LOCK_WAIT_NS (a write holds it for microseconds;
 * a holder stopped by a signal would hold it for as long as it stays
 * stopped), and without it the write goes as before.  For the next
 * LOCK_SKIP_NS this process's writes take the lock only when it is free
 * at once, without waiting (a holder that was only not scheduled for a
 * while has let go by then; one that is stopped costs no more waits).  A process alone in
 * the tree (the root before it starts any process) takes no lock; one that
 * finds the file grown by another writer since its last write, or starts
 * or is a child, takes it from then on. */
#define LOCK_WAIT_NS 20000000u
#define LOCK_SKIP_NS 1000000000u
static int alone;                       /* no other process writes the file */
static uint64_t skip_until;             /* a holder did not let go: no waiting */
static uint64_t unlocked;               /* writes made without it all the same */

void pp_timeline_tree(void)
{
    alone = 0;
}

static int tree_lock(int fd)
{
    if (alone)
        return 0;
    int skipping = skip_until && pp_now_ns() < skip_until;
    uint64_t until = 0;
    for (;;) {
        int err = pp_os_try_lock(fd);
        if (err == 0) {
            skip_until = 0;             /* the holder let go after all */
            return 1;
        }
        if (err != EWOULDBLOCK && err != EINTR)
            break;                      /* no such locks here: as before */
        if (skipping && err == EWOULDBLOCK)
            break;                      /* still held: not waited for again */
        uint64_t now = pp_now_ns();
        if (!until) {
            until = now + LOCK_WAIT_NS;
        } else if (now > until) {
            skip_until = now + LOCK_SKIP_NS;
            break;
        }
        sched_yield();
    }
    unlocked++;
    return 0;
}

uint64_t pp_timeline_unlocked_writes(void)
{
    return unlocked;
}

/* A whole write of N bytes is done on FD; SIZE was the file's size before
 * it (-1: unknown) */
static void after_write(int fd, size_t n, off_t size)
{
    if (size >= 0 && our_end >= 0 && size != our_end)
        alone = 0;                      /* someone else wrote since */
    if (shared_offset)
        return;
    if (size >= 0 && size == our_end) {
        our_end += (off_t)n;            /* nobody else wrote: ours follows ours */
        return;
    }
    off_t end = lseek(fd, 0, SEEK_CUR);
    our_end = end;
    char c;
    if (end > (off_t)n && pread(fd, &c, 1, end - (off_t)n - 1) == 1 && c != '\n')
        mend_before(fd, end - (off_t)n);
}

static void write_to(int fd, int transient, off_t size, const char *p, size_t n);
static void write_to_guarded(int fd, int transient, off_t size, const char *p, size_t n);

/* The sampler thread does not open the file again in the program's table
 * when the program closed the kept descriptor (a daemon closes every
 * number): its records are written apart (sys/linux/apart.c), each through
 * the file opened in the task's own table and closed there. */
struct apart_write {
    const char *p;
    size_t n;
};

static int write_apart(void *arg)
{
    struct apart_write *w = arg;
    const char *why;
    int fd = reopen_file(&why);
    if (fd < 0)
        return -1;
    write_to(fd, 1, -1, w->p, w->n);
    return 0;
}

/* What the kept-out header, a gap record (at most 256 bytes) and the
 * records P[0..N) can take laid out when written at AT, the smaller of two
 * bounds: each line takes at most twice its length and PAD_MIN (a line is
 * padded to the next page only when it is longer than what is left of
 * one; its end pads at most PAD_MIN), which is close for a few short
 * records; or the records laid out at AT and a page more for each of the
 * two before them, which move where the records land (a move changes the
 * padding of the first page they reach, and the rest lines up again),
 * which is close for a record of many pages (a summary of many regions). */
static size_t limited_need(const char *p, size_t n, off_t at)
{
    size_t lines = 1;
    for (const char *e = p; (e = memchr(e, '\n', (size_t)(p + n - e))) != NULL; e++)
        lines++;
    size_t short_lines = 1 + 2 * (lost_header_len + 256 + n) + (lines + 2) * PAD_MIN;
    size_t before = lost_header_len ? lost_header_len + PAGE : 0;
    size_t pages = before + 256 + PAGE + laid_size(p, n, at) + PAGE;
    return short_lines < pages ? short_lines : pages;
}

/* One record, whole, in as few writes as the kernel allows. */
static void write_out(const char *p, size_t n)
{
    int transient = 0, saved = errno, rc;
    off_t size = -1;
    uint64_t sz;
    /* the kept descriptor checked once: a failed check forgets it, and
     * writable_fd then only opens again */
    int kept = out.fd >= 0 && pp_fd_ok_size(&out, &sz);
    if (!kept && pp_apart_here()) {
        struct apart_write w = {p, n};
        if (pp_apart_run(write_apart, &w, &rc) == 0) {
            errno = saved;
            return;
        }
    }
    if (kept)
        size = (off_t)sz;
    int fd = kept ? out.fd : writable_fd(&transient, &size);
    if (fd < 0) {
        errno = saved;
        return;
    }
    /* a file-size limit fails the write (EFBIG, as a full disk) and raises
     * SIGXFSZ, which must not end the program; the masks in a frame of
     * their own, only then (a program's thread with a 16 KiB stack writes
     * records too) */
    if (pp_fsize_guarded())
        write_to_guarded(fd, transient, size, p, n);
    else
        write_to(fd, transient, size, p, n);
    errno = saved;
}

static __attribute__((noinline)) void write_to_guarded(int fd, int transient, off_t size,
                                                       const char *p, size_t n)
{
    struct pp_quiet q;
    pp_quiet_begin(&q, 0);
    write_to(fd, transient, size, p, n);
    pp_quiet_end(&q);
}

/* the record written through FD (closed after when TRANSIENT); SIZE the
 * file's size the descriptor check saw, -1 when unknown */
static void write_to(int fd, int transient, off_t size, const char *p, size_t n)
{
    int saved = errno, whole;
    int locked = tree_lock(fd);
    if (size < 0 || locked)
        size = lseek(fd, 0, SEEK_END);  /* where an O_APPEND write lands */
    /* what is lost goes in first, laid out too: bounded here (a pad is
     * shorter than the record it comes before) */
    size_t need = lost_records ? 3 * (n + lost_header_len) + 2 * PAGE + 256
                               : laid_size(p, n, torn ? -1 : size);
    if (lost_records && pp_fsize_limit() != UINT64_MAX)
        need = limited_need(p, n, size);        /* closer: room is scarce */
    if (!reserve(fd, need)) {
        report_failure(reserve_err);
        /* the header is what tells a reader whose records these are: it is
         * kept and goes in first once room returns */
        if (n <= sizeof lost_header && !memcmp(p, "{\"type\":\"header\"", 16)) {
            memcpy(lost_header, p, n);
            lost_header_len = n;
        }
        uint64_t now = pp_now_ns() - pp_state.start_ns;
        if (!lost_records++)
            lost_first_ns = now;
        lost_last_ns = now;
        lost_bytes += n;
        for (size_t i = 0; i + 16 <= n; i++)        /* one line each */
            if ((i == 0 || p[i - 1] == '\n') && !memcmp(p + i, "{\"type\":\"sample\"", 16))
                samples_lost++;
        if (locked)
            pp_os_unlock(fd);
        if (transient)
            close(fd);
        errno = saved;
        return;
    }
    if (lost_header_len) {
        size_t w = write_laid(fd, lost_header, lost_header_len, size, &whole);
        room_used(w);
        if (whole) {
            lost_records--;
            lost_bytes -= lost_header_len;
            after_write(fd, w, size);
            size = our_end;
        }
        lost_header_len = 0;
    }
    if (lost_records) {
        write_gap(fd);
        our_end = -1;                   /* the record's place is asked */
        size = lseek(fd, 0, SEEK_END);
    }
    if (torn) {                       /* end the damaged line first */
        char c;
        if (size > 0 && pread(fd, &c, 1, size - 1) == 1 && c == '\n')
            torn = 0;                   /* another writer mended it */
        else if (write(fd, "\n", 1) == 1)
            torn = 0;
        size = -1;                      /* not laid out: the line it ends was not */
    }
    size_t done = 0;
    whole = 0;
    if (!torn) {
        done = write_laid(fd, p, n, size, &whole);
        room_used(done);
        torn = done > 0 && !whole;
    }
    if (whole && n)
        after_write(fd, done, size);
    else
        our_end = -1;
    if (locked)
        pp_os_unlock(fd);
    if (transient)
        close(fd);
    errno = saved;
}

/* A probe's records (the probe, its sites, a module first seen), which it
 * gathers between pp_timeline_hold and pp_timeline_release, leave in one
 * write, at once, as every other record: unless they come in a burst.  A
 * system call is most of what a probe costs (two of its five were the
 * check of the file and the write), so a probe that comes less than
 * BURST_NS after the last write of probe records leaves its records here,
 * and they go with the next write: the probe that finds the oldest held
 * record BURST_NS old, or the buffer half full, or no sampler running;
 * the next record of any other kind (a sample, a note, exec, the summary);
 * the sampler's next tick, which writes what is held even with no sample
 * to write; or _exit (life.c).  So an isolated probe is in the file at
 * once, as before, and a killed process loses at most the probes of the
 * last millisecond of a burst.  Everything here is under the timeline's
 * lock. */
#define BURST_NS 1000000u
static __thread int holding PP_TLS;
static int enter(void);
static void leave(void);
static char held[64 * 1024];
static size_t held_len;
static uint64_t held_since;             /* pp_now_ns of the oldest held record */
static uint64_t held_written;           /* and of the last write of held ones */
/* the sampler thread runs and will write what is held at its next tick
 * (sampler.c says so: pp_timeline_sampler_running) */
static _Atomic int sampler_ticks;

void pp_timeline_sampler_running(int on)
{
    atomic_store(&sampler_ticks, on);
}

static void write_held(const char *p, size_t n)
{
    write_out(p, n);
    held_len = 0;
    held_written = pp_now_ns();
}

static void put(const char *p, size_t n)
{
    if (held_len && held_len + n > sizeof held)
        write_held(held, held_len);         /* no room: what is held goes first */
    if (n > sizeof held - held_len || (!holding && !held_len)) {
        write_out(p, n);                    /* too large, or nothing to join */
        return;
    }
    if (!held_len)
        held_since = pp_now_ns();
    memcpy(held + held_len, p, n);
    held_len += n;
    if (!holding)                           /* after what is held, in one write */
        write_held(held, held_len);
}

void pp_timeline_hold(void)
{
    holding = 1;
}

void pp_timeline_release(void)
{
    holding = 0;
    if (!held_len || !enter())
        return;
    uint64_t now = pp_now_ns();
    if (now - held_written >= BURST_NS || now - held_since >= BURST_NS ||
        held_len >= sizeof held / 2 || !atomic_load(&sampler_ticks))
        write_held(held, held_len);
    leave();
}

/* Write what is held now (the sampler, at each tick; _exit).  NONBLOCK
 * (_exit): the lock is waited for a bounded time only.  Another thread
 * holds it for one write (the sampler's records of a tick: with CPU
 * sampling, a forked child's first tick writes several), so a wait of at
 * most 200 ms keeps the probes an _exit right after a fork would have lost
 * (1 child in 8 lost one in t0650); a handler on this thread that
 * interrupted its own write finds `writing` set and does not wait. */
void pp_timeline_flush(int nonblock)
{
    if (!held_len || writing)
        return;
    if (nonblock) {
        if (pp_lock_until(&lock, pp_now_ns() + 200000000u) != 0)
            return;
        writing = 1;
    } else if (!enter()) {
        return;
    }
    if (held_len)
        write_held(held, held_len);
    leave();
}

/* A record longer than a page goes as parts that each fit one (split.c),
 * so that a kill in its write cuts it only between them. */
static void put_record(const char *p, size_t n)
{
    size_t k = n > PAGE ? pp_split(p, n, PAGE, NULL, 0) : 0;
    char *parts = k ? pp_os_map(k) : NULL;
    if (parts && pp_split(p, n, PAGE, parts, k) == k)
        put(parts, k);
    else
        put(p, n);
    if (parts)
        pp_os_unmap(parts, k);
}

/* Add "pid" after the record's type and a newline, then write it. */
static void emit(struct pp_buf *b)
{
    char tail[8192];
    const char *type_end = NULL;
    if (b->len > 9 && memcmp(b->p, "{\"type\":\"", 9) == 0)
        type_end = memchr(b->p + 9, '"', b->len - 9);
    if (!type_end || b->len + 32 > b->cap) {
        pp_buf_raw(b, "\n", 1);
        if (b->len < b->cap)
            put_record(b->p, b->len);
        return;
    }
    size_t at = (size_t)(type_end + 1 - b->p), rest = b->len - at;
    char *heap_tail = NULL;
    char *t = tail;
    if (rest > sizeof tail) {
        heap_tail = pp_os_map(rest);
        if (!heap_tail)
            return;
        t = heap_tail;
    }
    memcpy(t, b->p + at, rest);
    b->len = at;
    pp_buf_str(b, ",\"pid\":");
    pp_buf_u64(b, (uint64_t)pp_state.pid);
    pp_buf_raw(b, t, rest);
    pp_buf_raw(b, "\n", 1);
    if (heap_tail)
        pp_os_unmap(heap_tail, rest);
    if (b->len < b->cap)              /* a record cut short is never written */
        put_record(b->p, b->len);
}

/* Take the lock unless this thread already writes (a signal handler). */
static int enter(void)
{
    if (writing)
        return 0;
    writing = 1;
    pp_lock(&lock);
    return 1;
}

static void leave(void)
{
    pp_unlock(&lock);
    writing = 0;
}

void pp_timeline_record(struct pp_buf *b)
{
    if (!have_file || !enter())
        return;
    if (!closed)
        emit(b);
    leave();
}

/* ---- records -------------------------------------------------------------- */

static void key_u64(struct pp_buf *b, const char *k, uint64_t v) { pp_buf_key(b, k); pp_buf_u64(b, v); }
static void key_i64(struct pp_buf *b, const char *k, int64_t v) { pp_buf_key(b, k); pp_buf_i64(b, v); }
static void key_s(struct pp_buf *b, const char *k, uint64_t ns, unsigned dec)
{
    pp_buf_key(b, k);
    pp_buf_fixed(b, (int64_t)ns, 9, dec);
}

static void key_str(struct pp_buf *b, const char *k, const char *v, size_t max)
{
    pp_buf_key(b, k);
    pp_buf_json_str(b, v, max);
}

/* V (at most MAX input bytes) as pp_buf_json_str writes it, in at most
 * MOST bytes of escaped text: cut shorter when longer */
static void json_str_most(struct pp_buf *b, const char *v, size_t max, size_t most)
{
    size_t start = b->len, in = v ? strnlen(v, max) : 0;
    pp_buf_json_str(b, v, in);
    while (v && b->len - start > most && in > 0) {
        size_t less = in * (most > 2 ? most - 2 : 0) / (b->len - start);
        in = less < in ? less : in - 1;
        b->len = start;
        pp_buf_json_str(b, v, in);
    }
}

/* K and V as key_str writes them, V in at most MOST bytes: a probe's label
 * or a counter's name is cut to keep its record within a page (one record
 * a probe, never parts) */
static void key_str_fit(struct pp_buf *b, const char *k, const char *v, size_t max, size_t most)
{
    pp_buf_key(b, k);
    json_str_most(b, v, max, most);
}

/* the room left for a record's one long text, T bytes of which make
 * B's record of B->len bytes: what keeps the record within a page, with
 * its pid and newline */
static size_t fit_room(const struct pp_buf *b, size_t t)
{
    size_t rest = b->len - t + 40;
    return rest < PAGE ? PAGE - rest : 0;
}

/* B's record, whose list takes LEN of it, is longer than a page: 1 and
 * *MAX how long the list may be with an "argv_cut" key after it, for the
 * record to fit (0: cutting the list cannot make it fit) */
static int cut_to_fit(const struct pp_buf *b, size_t len, size_t *max)
{
    size_t left = fit_room(b, len), key = sizeof ",\"argv_cut\":true" - 1;
    if (left <= key + 2 || len <= left - key)
        return 0;
    *max = left - key;
    return 1;
}

/* ["arg0","arg1",...] from a NUL-separated list of n bytes, in at most
 * MAX bytes: 1 when the list was cut to fit (the last argument shortened) */
static int argv_json(struct pp_buf *b, const char *args, size_t n, size_t max)
{
    size_t start = b->len;
    if (max < 2)
        max = 2;                        /* [] */
    pp_buf_raw(b, "[", 1);
    for (size_t i = 0; i < n; i += strnlen(args + i, n - i) + 1) {
        size_t before = b->len;
        if (i)
            pp_buf_raw(b, ",", 1);
        pp_buf_json_str(b, args + i, n - i);
        if (b->len + 1 - start > max) {
            /* what fits of it, with its ',' and the ']' */
            b->len = before;
            size_t left = max - (before - start);
            if (left > 4) {
                pp_buf_raw(b, i ? "," : "", i ? 1 : 0);
                json_str_most(b, args + i, n - i, left - 2);
            }
            pp_buf_raw(b, "]", 1);
            return 1;
        }
    }
    pp_buf_raw(b, "]", 1);
    return 0;
}

/* The image's header, within a page when its argv can be cut to fit
 * (a pad may come before it, never a cut: format.md). */
static void header(void)
{
    static char cmd[4096], line[12288];
    struct pp_buf b = {line, 0, sizeof line - 1};
    ssize_t n = pp_os_cmdline(cmd, sizeof cmd - 1);
    if (n > 0)
        cmd[n] = 0;
    size_t argv_max = sizeof line, argv_len = 0;
again:
    b.len = 0;
    pp_buf_str(&b, "{\"type\":\"header\",\"format\":\"perfprobe-timeline\"");
    key_u64(&b, "version", FORMAT_VERSION);
    key_u64(&b, "pid", (uint64_t)pp_state.pid);
    key_u64(&b, "ppid", (uint64_t)pp_state.ppid);
    key_u64(&b, "root_pid", (uint64_t)pp_state.root_pid);
    key_u64(&b, "image", (uint64_t)pp_state.image);
    key_str(&b, "program", pp_state.program, sizeof pp_state.program);
    key_str(&b, "exe", pp_state.exe, sizeof pp_state.exe);
    pp_buf_key(&b, "argv");
    size_t argv_at = b.len;
    if (argv_json(&b, cmd, n > 0 ? (size_t)n : 0, argv_max))
        pp_buf_str(&b, ",\"argv_cut\":true");
    argv_len = b.len - argv_at;
    pp_buf_key(&b, "start_unix_s");
    pp_buf_fixed(&b, (int64_t)pp_state.start_unix_ns, 9, 6);
    pp_buf_key(&b, "cpu_before_s");
    pp_buf_fixed(&b, (int64_t)pp_state.cpu_before_ns, 9, 6);
    key_u64(&b, "interval_ms", pp_opt.interval_ms);
    key_u64(&b, "batch_bytes", pp_opt.batch_bytes);
    key_u64(&b, "page_size", (uint64_t)sysconf(_SC_PAGESIZE));
    key_str(&b, "allocator", pp_allocator_name(), 64);
    key_str(&b, "allocator_library", pp_allocator_library(), 256);
    pp_buf_key(&b, "heap_counted");
    pp_buf_str(&b, pp_heap_counted() ? "true" : "false");
    key_str(&b, "heap_binding", pp_heap_binding(), 16);
    key_str(&b, "usable_size", pp_usable_method(), 32);
    key_str(&b, "follow", pp_follow_name(), 16);
    pp_buf_raw(&b, "}", 1);
    pp_buf_raw(&b, "\n", 1);
    if (b.len > PAGE && argv_max == sizeof line && cut_to_fit(&b, argv_len, &argv_max))
        goto again;
    if (b.len < b.cap)
        put_record(b.p, b.len);
}

/* The root's first image creates the file (and replaces the user's own old
 * one, as a re-run should); every later image of the tree appends to it.
 * Called at start-up, before any other thread of the shim exists. */
void pp_timeline_open(uint64_t tree_dev, uint64_t tree_ino, const char *tree_path)
{
    const char *why = NULL;
    int fd;
    if (tree_path) {
        size_t n = strlen(tree_path);
        if (n >= sizeof path)
            return;
        memcpy(path, tree_path, n + 1);
        file_dev = (dev_t)tree_dev;
        file_ino = (ino_t)tree_ino;
        fd = reopen_file(&why);
    } else {
        if (!pp_opt.output[0])
            return;                       /* PERFPROBE_OUTPUT= : no file */
        expand_path();
        fd = create_file(&why);
    }
    if (fd < 0) {
        pp_warn("cannot write the timeline to '", path, "': ", why);
        return;
    }
    alone = !tree_path;                 /* the root, before any child */
    if (pp_fd_adopt(&out, fd) != 0 && pp_fd_can_keep()) {
        pp_warn("cannot keep the timeline '", path, "' open", "");
        return;
    }
    have_file = 1;
    pp_lock(&lock);
    header();
    pp_unlock(&lock);
}

/* The compact sample line; keys are short because it is the bulk of the
 * file, and "hwm" appears only when the high-water mark moved since the
 * previous sample line (readers carry the last value forward). */
static void sample_line(struct pp_buf *b, const struct pp_sample *s)
{
    pp_buf_str(b, "{\"type\":\"sample\"");
    key_s(b, "t_s", s->t_ns, 4);
    key_u64(b, "rss", s->proc.rss);
    if (!have_last || s->proc.hwm != last.proc.hwm)
        key_u64(b, "hwm", s->proc.hwm);
    key_i64(b, "heap", s->heap.bytes);
    key_i64(b, "heap_max", s->heap.window_peak);
    /* fields that seldom move are written when they changed since the
     * last sample line (readers carry them forward), as hwm above */
    if (!have_last || s->maps.anon != last.maps.anon)
        key_u64(b, "anon", s->maps.anon);
    if (!have_last || s->maps.file != last.maps.file)
        key_u64(b, "file", s->maps.file);
    key_s(b, "user_s", s->cpu.user_ns, 3);
    key_s(b, "sys_s", s->cpu.sys_ns, 3);
    key_u64(b, "minflt", s->cpu.minflt);
    if (!have_last || s->cpu.majflt != last.cpu.majflt)
        key_u64(b, "majflt", s->cpu.majflt);
    if (s->has_parts) {               /* [heap, mmap, file, stack, other] */
        const struct pp_parts *p = &s->parts;
        uint64_t v[5] = {p->heap, p->mmap, p->file, p->stack, p->other};
        pp_buf_key(b, "parts");
        for (int i = 0; i < 5; i++) {
            pp_buf_raw(b, i ? "," : "[", 1);
            pp_buf_u64(b, v[i]);
        }
        pp_buf_raw(b, "]", 1);
    }
    pp_buf_raw(b, "}", 1);
}

/* "KEY":{"heap":...,"heap_untouched":N[,"jemalloc":{...}]}; the RSS the
 * parts add up to is inside unless the record has it already (probes) */
void pp_timeline_parts(struct pp_buf *b, const char *key, const struct pp_parts *p,
                       const uint64_t *t_ns, int with_rss_outside)
{
    pp_buf_key(b, key);
    pp_buf_raw(b, "{", 1);
    if (t_ns)
        key_s(b, "t_s", *t_ns, 4);
    if (t_ns || !with_rss_outside)
        key_u64(b, "rss_bytes", p->rss);
    key_u64(b, "heap", p->heap);
    key_u64(b, "mmap", p->mmap);
    key_u64(b, "file", p->file);
    key_u64(b, "stack", p->stack);
    key_u64(b, "other", p->other);
    key_u64(b, "shmem", p->shmem);
    key_u64(b, "perfprobe", p->perfprobe);
    key_i64(b, "heap_untouched", p->heap_untouched);
    if (p->has_je) {
        pp_buf_key(b, "jemalloc");
        pp_buf_raw(b, "{", 1);
        key_u64(b, "allocated", p->je_allocated);
        key_u64(b, "active", p->je_active);
        key_u64(b, "resident", p->je_resident);
        pp_buf_raw(b, "}", 1);
    }
    pp_buf_raw(b, "}", 1);
}

static int changed(const struct pp_sample *s)
{
    return !have_last || s->proc.rss != last.proc.rss ||
           s->heap.bytes != last.heap.bytes ||
           s->heap.window_peak != last.heap.bytes ||
           s->maps.anon != last.maps.anon || s->maps.file != last.maps.file;
}

void pp_timeline_sample(const struct pp_sample *s, int force)
{
    char line[640];
    if (!have_file || !enter())
        return;
    samples_taken++;
    if (!closed && (force || changed(s) || s->t_ns - last_written_ns >= 1000000000u)) {
        struct pp_buf b = {line, 0, sizeof line};
        sample_line(&b, s);
        emit(&b);
        samples_written++;
        last_written_ns = s->t_ns;
        last = *s;
        have_last = 1;
    }
    leave();
}

/* The image is about to be replaced by exec: say by what.  If the exec
 * fails, a second record says so and the image goes on. */
void pp_timeline_exec(const char *file, char *const argv[], int failed_errno, const char *untraced)
{
    static char line[12288], args[64 * 513];
    if (!have_file || !enter())
        return;
    if (!closed) {
        /* the first 64 arguments, 512 bytes of each at most, as a
         * NUL-separated list; cut to keep the record within a page */
        size_t n = 0, argv_max = sizeof line, argv_len = 0;
        for (int i = 0; argv && argv[i] && i < 64; i++) {
            size_t k = strnlen(argv[i], 512);
            memcpy(args + n, argv[i], k);
            n += k;
            args[n++] = 0;
        }
        struct pp_buf b = {line, 0, sizeof line};
again:
        b.len = 0;
        pp_buf_str(&b, failed_errno ? "{\"type\":\"exec_failed\"" : "{\"type\":\"exec\"");
        key_s(&b, "t_s", pp_now_ns() - pp_state.start_ns, 6);
        key_str(&b, "path", file, 4096);
        if (failed_errno) {
            key_str(&b, "error", pp_err_text(failed_errno), 128);
        } else if (argv) {
            pp_buf_key(&b, "argv");
            size_t at = b.len;
            if (argv_json(&b, args, n, argv_max))
                pp_buf_str(&b, ",\"argv_cut\":true");
            argv_len = b.len - at;
        }
        if (!failed_errno && untraced) {
            pp_buf_str(&b, ",\"traced\":false");
            key_str(&b, "why", untraced, 128);
        }
        pp_buf_raw(&b, "}", 1);
        if (argv_max == sizeof line && b.len + 40 > PAGE && cut_to_fit(&b, argv_len, &argv_max))
            goto again;
        emit(&b);
    }
    leave();
}

/* A child the program started (posix_spawn) that runs without the shim */
void pp_timeline_untraced(long child, const char *file, const char *why)
{
    static char line[4608];
    if (!have_file || !enter())
        return;
    if (!closed) {
        struct pp_buf b = {line, 0, sizeof line};
        pp_buf_str(&b, "{\"type\":\"untraced\"");
        key_s(&b, "t_s", pp_now_ns() - pp_state.start_ns, 6);
        if (child > 0)
            key_u64(&b, "child", (uint64_t)child);
        key_str(&b, "path", file ? file : "", 4096);
        key_str(&b, "why", why, 128);
        pp_buf_raw(&b, "}", 1);
        emit(&b);
    }
    leave();
}

#define LABEL_MAX PP_LABEL_MAX
static char big[8 * LABEL_MAX];     /* probe and counter lines, under the lock */

void pp_timeline_probe(const struct pp_probe_record *r)
{
    if (!have_file || !enter())
        return;
    if (!closed) {
        struct pp_buf b = {big, 0, sizeof big};
        size_t label_out = PAGE, at, len;
again:
        b.len = 0;
        pp_buf_str(&b, "{\"type\":\"probe\"");
        at = b.len;
        key_str_fit(&b, "label", r->label, LABEL_MAX, label_out);
        len = b.len - at;
        key_u64(&b, "thread", (uint64_t)pp_tid());
        key_s(&b, "t_s", r->t_ns, 6);
        key_s(&b, "dt_s", r->dt_ns, 6);
        key_s(&b, "overhead_s", r->overhead_ns, 6);
        key_u64(&b, "rss_bytes", r->rss);
        key_i64(&b, "d_rss_start", (int64_t)(r->rss - r->rss_start));
        key_i64(&b, "d_rss_last", (int64_t)(r->rss - r->rss_last));
        key_i64(&b, "heap_bytes", r->heap);
        key_i64(&b, "d_heap_start", r->heap - r->heap_start);
        key_i64(&b, "d_heap_last", r->heap - r->heap_last);
        key_i64(&b, "peak_heap_since_last", r->peak_heap);
        key_u64(&b, "peak_rss_since_last", r->peak_rss);
        pp_buf_key(&b, "peak_rss_source");
        pp_buf_str(&b, r->peak_rss_exact ? "\"hwm\"" : "\"sampled\"");
        key_u64(&b, "allocs_since_last", r->allocs);
        key_u64(&b, "frees_since_last", r->frees);
        key_s(&b, "cpu_user_s_since_last", r->user_ns, 6);
        key_s(&b, "cpu_sys_s_since_last", r->sys_ns, 6);
        if (r->parts)
            pp_timeline_parts(&b, "rss_parts", r->parts, NULL, 1);
        pp_buf_raw(&b, "}", 1);
        if (label_out == PAGE && b.len + 40 > PAGE) {
            label_out = fit_room(&b, len);
            goto again;
        }
        emit(&b);
    }
    leave();
}

void pp_timeline_counter(const char *name, double value, uint64_t t_ns)
{
    if (!have_file || !enter())
        return;
    if (!closed) {
        struct pp_buf b = {big, 0, sizeof big};
        pp_buf_str(&b, "{\"type\":\"counter\"");
        key_s(&b, "t_s", t_ns, 6);
        key_str_fit(&b, "name", name, LABEL_MAX, PAGE - 200);
        pp_buf_key(&b, "value");
        pp_buf_double(&b, value);
        key_u64(&b, "thread", (uint64_t)pp_tid());
        pp_buf_raw(&b, "}", 1);
        emit(&b);
    }
    leave();
}

/* The summary record (summary.c makes it): the image's last, written
 * whole under the lock, after which nothing of this image is written.
 * exit() from a signal handler that interrupted a writer on another
 * thread must not hang the exit: the lock is waited for a second at
 * most. */
int pp_timeline_summary_begin(int *open, uint64_t *samples, uint64_t *samples_taken_)
{
    if (!have_file || writing)
        return 0;
    if (pp_lock_until(&lock, pp_now_ns() + 1000000000u) != 0)
        return 0;
    writing = 1;
    *open = !closed;
    *samples = samples_written - samples_lost;
    *samples_taken_ = samples_taken;
    return 1;
}

int pp_timeline_summary_try(struct pp_buf *b)
{
    if (closed)
        return 1;
    uint64_t before = lost_records;
    finishing = 1;                      /* the room kept back is its */
    emit(b);
    finishing = 0;
    return !(lost_records > before && reserve_err == EFBIG);
}

void pp_timeline_summary_end(struct pp_buf *b)
{
    if (b && !closed) {
        finishing = 1;                  /* the room kept back is its */
        emit(b);
        finishing = 0;
    }
    closed = 1;        /* nothing of this image is written after its summary */
    writing = 0;
    pp_unlock(&lock);
}

/* In a forked child: the same file (the descriptor is inherited, and
 * O_APPEND keeps the two processes' records whole), a header of its own,
 * and counts that start afresh. */
void pp_timeline_after_fork_child(void)
{
    alone = 0;
    own_description();
    held_len = 0;                       /* the parent's: it writes them */
    samples_written = samples_taken = last_written_ns = 0;
    samples_lost = lost_records = lost_bytes = 0;
    lost_header_len = 0;
    unlocked = 0;
    room = 0;
    have_last = closed = 0;
    writing = 0;
    pp_unlock(&lock);
    if (have_file) {
        pp_lock(&lock);
        header();
        pp_unlock(&lock);
    }
}

/* A forked child that is not followed writes nothing. */
void pp_timeline_forget(void)
{
    held_len = 0;
    pp_fd_drop(&out);
    have_file = 0;
}

/* The program is about to put a file of its own at FD (dup2, dup3:
 * hooks/fds.c).  When FD is the timeline's kept number, the timeline moves
 * to another first, under the lock every write holds from the check of
 * its descriptor to the write, so that no record goes into the program's
 * file.  The lock is waited for 20 ms at most (a write under way takes
 * microseconds); a thread whose own write this call interrupted (a signal
 * handler) does not wait for itself. */
void pp_timeline_fd_taken(int fd)
{
    if (fd < 0 || __atomic_load_n(&out.fd, __ATOMIC_RELAXED) != fd || writing)
        return;
    /* a vfork child shares this memory but not the descriptor table: its
     * dup2 cannot touch this process's number, and a move would leave
     * the parent's open and unknown */
    if (!pp_state.active || getpid() != pp_state.own_pid)
        return;
    if (pp_lock_until(&lock, pp_now_ns() + 20000000u) != 0)
        return;
    if (out.fd == fd)
        pp_fd_move(&out);
    pp_unlock(&lock);
}

void pp_notice(const char *a, const char *b, const char *c)
{
    if (!pp_opt.quiet)
        pp_warn(a, b, c, "");
    else
        pp_timeline_note3(a, b, c);
}

void pp_timeline_note3(const char *a, const char *b, const char *c)
{
    char text[512];
    struct pp_buf t = {text, 0, sizeof text};
    pp_buf_str(&t, a);
    pp_buf_str(&t, b);
    pp_buf_str(&t, c);
    pp_timeline_note(text, t.len > t.cap ? t.cap : t.len);
}

void pp_timeline_note(const char *text, size_t n)
{
    char rec[1280];
    struct pp_buf r = {rec, 0, sizeof rec};
    pp_buf_str(&r, "{\"type\":\"note\"");
    pp_buf_key(&r, "text");
    pp_buf_json_str(&r, text, n);
    pp_buf_raw(&r, "}", 1);
    pp_timeline_record(&r);
}
