/* glue FACTS COPY [tail]: run under `perfprobe run -i 60000` (no sample
 * from the sampler thread while it works), it damages its own timeline on
 * purpose, the way a process of a tree killed inside its write(2) does,
 * with another process of the tree writing after it.  Children cut a
 * record short (one write of part of a record, then SIGKILL); the next
 * record written is glued after the cut bytes on the same line:
 *
 *   cut_a   a child's record cut after its pid (60 bytes), then the next
 *           child's header (written by the shim at fork) glued after it
 *   cut_c   a child's 4 bytes ("{\"ty"), then the record glued_1 (this
 *           process's sample with known figures)
 *   cut_d   a child's record cut inside its pid (no whole pid), then glued_2
 *   cut_e   a child's record cut and ended by a newline (what the shim
 *           does after a short write), alone on its line
 *   cut_f   a child's 3 bytes and a newline, then glued_3 on the next line
 *
 * then, with "tail", a record of its own cut short with no newline at the
 * very end; it copies the file to COPY (the file as a bare LD_PRELOAD run
 * leaves it) and ends with _exit, so that nothing follows.  FACTS gets the
 * pids, the offsets and the lengths cut. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "util.h"

static int fd;

static off_t size_now(void)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        _exit(113);
    return st.st_size;
}

static void put(const char *s, size_t n)
{
    if (write(fd, s, n) != (ssize_t)n)
        _exit(114);
}

/* a child writes TEXT (%d: its pid; its first KEEP bytes when KEEP > 0)
 * and, with NL, a newline in a second write, then is killed; the facts
 * NAME_pid, NAME_at, NAME_len */
static void cut_by_child(const char *name, const char *text, int keep, int nl)
{
    char key[64];
    pid_t c = fork();
    if (c == 0) {
        char rec[256];
        int n = snprintf(rec, sizeof rec, text, (int)getpid());
        put(rec, keep > 0 && keep < n ? (size_t)keep : (size_t)n);
        if (nl)
            put("\n", 1);
        raise(SIGKILL);
        _exit(115);
    }
    int st;
    waitpid(c, &st, 0);
    if (!WIFSIGNALED(st))
        _exit(116);
    /* the child's header and first sample came before its cut */
    off_t after = size_now();
    snprintf(key, sizeof key, "%s_pid", name);
    fact(key, c);
    snprintf(key, sizeof key, "%s_len", name);
    char rec[256];
    int n = snprintf(rec, sizeof rec, text, (int)c);
    if (keep > 0 && keep < n)
        n = keep;
    fact(key, n);
    snprintf(key, sizeof key, "%s_at", name);
    fact(key, (long long)(after - n - (nl ? 1 : 0)));
}

static void whole(const char *name, const char *text)
{
    char rec[256], key[64];
    int n = snprintf(rec, sizeof rec, text, (int)getpid());
    snprintf(key, sizeof key, "%s_at", name);
    fact(key, (long long)size_now());
    put(rec, (size_t)n);
}

int main(int argc, char **argv)
{
    const char *path = getenv("PERFPROBE_OUTPUT");
    if (argc < 3 || !path)
        return 2;
    facts_open(argv[1]);
    fd = open(path, O_WRONLY | O_APPEND);
    if (fd < 0)
        return 3;
    fact("pid", getpid());
    cut_by_child("cut_a", "{\"type\":\"sample\",\"pid\":%d,\"t_s\":0.004100,\"rss\":1843200,\"h", 0, 0);
    pid_t b = fork();                       /* its header is glued to cut_a */
    if (b == 0)
        exit(0);
    int st;
    waitpid(b, &st, 0);
    fact("b_pid", b);
    cut_by_child("cut_c", "{\"ty", 0, 0);
    whole("glued_1", "{\"type\":\"sample\",\"pid\":%d,\"t_s\":0.25,\"rss\":52428800,\"heap\":1048576}\n");
    cut_by_child("cut_d", "{\"type\":\"exec_failed\",\"pid\":%d,\"t_s\":1}", 30, 0);
    whole("glued_2", "{\"type\":\"sample\",\"pid\":%d,\"t_s\":0.375,\"rss\":41943040,\"heap\":2097152}\n");
    cut_by_child("cut_e", "{\"type\":\"sample\",\"pid\":%d,\"t_s\":0.006000,\"rss\":1900544,\"hwm\":1900544,\"he", 0, 1);
    cut_by_child("cut_f", "{\"t", 0, 1);
    whole("glued_3", "{\"type\":\"sample\",\"pid\":%d,\"t_s\":0.5,\"rss\":31457280,\"heap\":3145728}\n");
    if (argc > 3 && !strcmp(argv[3], "tail")) {
        char rec[128];
        int n = snprintf(rec, sizeof rec, "{\"type\":\"sample\",\"pid\":%d,\"t_s\":0.625,\"rss\":10", (int)getpid());
        fact("tail_at", (long long)size_now());
        fact("tail_len", n);
        put(rec, (size_t)n);
    }
    /* the copy: the file as it is now, nothing written after it */
    int in = open(path, O_RDONLY), out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char buf[65536];
    ssize_t got;
    while (in >= 0 && out >= 0 && (got = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)got) != got)
            _exit(117);
    _exit(0);
}
