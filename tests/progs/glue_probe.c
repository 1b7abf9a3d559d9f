/* glue_probe FACTS: run under the shim with no `perfprobe run` (a bare
 * LD_PRELOAD), children of this process cut a record short in the shared
 * timeline, the way a process of a tree killed inside its write(2) does
 * (one write of part of a record, then SIGKILL), and the next record the
 * shim writes for this process (the probe "after_NAME", or a sample) lands
 * after the cut bytes: the shim must mend the line.  Cuts:
 *
 *   long    a sample cut after its pid, 60-odd bytes: a cut record with it
 *   short   4 bytes ("{\"ty"): too few for a cut record
 *   nopid   a record cut inside its pid (30 bytes): a cut record without
 *   big     a 10,000-byte record cut (the line's start is found across
 *           several reads back)
 *
 * FACTS gets NAME_pid, NAME_at (where the cut bytes start), NAME_len. */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "perf_probe.h"
#include "util.h"

static void cut(const char *name, const char *head, size_t keep, size_t pad)
{
    char key[64];
    static char rec[12000];
    const char *path = getenv("PERFPROBE_OUTPUT");
    int fds[2];
    if (pipe(fds) != 0)
        _exit(120);
    pid_t c = fork();
    if (c == 0) {
        int fd = open(path, O_WRONLY | O_APPEND);
        int n = snprintf(rec, sizeof rec, head, (int)getpid());
        for (size_t i = 0; i < pad && (size_t)n + 2 < sizeof rec; i++)
            rec[n++] = i % 2 ? ',' : '7';
        size_t len = keep && keep < (size_t)n ? keep : (size_t)n;
        if (fd < 0)
            _exit(121);
        /* where the bytes landed, asked after the write: a record of this
         * child's shim or of the parent's sampler may come between a look
         * at the size and the write */
        if (write(fd, rec, len) != (ssize_t)len)
            _exit(122);
        long long at_len[2] = {(long long)lseek(fd, 0, SEEK_CUR) - (long long)len, (long long)len};
        if (write(fds[1], at_len, sizeof at_len) != sizeof at_len)
            _exit(122);
        raise(SIGKILL);
        _exit(123);
    }
    long long at_len[2];
    int st;
    close(fds[1]);
    if (read(fds[0], at_len, sizeof at_len) != sizeof at_len)
        _exit(124);
    close(fds[0]);
    waitpid(c, &st, 0);
    if (!WIFSIGNALED(st))
        _exit(125);
    snprintf(key, sizeof key, "%s_pid", name);
    fact(key, c);
    snprintf(key, sizeof key, "%s_at", name);
    fact(key, at_len[0]);
    snprintf(key, sizeof key, "%s_len", name);
    fact(key, at_len[1]);
    snprintf(key, sizeof key, "after_%s", name);
    perf_probe(key);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !getenv("PERFPROBE_OUTPUT"))
        return 2;
    facts_open(argv[1]);
    fact("pid", getpid());
    perf_probe("start");
    cut("long", "{\"type\":\"sample\",\"pid\":%d,\"t_s\":0.004100,\"rss\":1843200,\"h", 0, 0);
    cut("short", "{\"ty", 0, 0);
    cut("nopid", "{\"type\":\"exec_failed\",\"pid\":%d,\"t_s\":1}", 30, 0);
    cut("big", "{\"type\":\"sites\",\"pid\":%d,\"frames\":[", 10000, 11000);
    perf_probe("end");
    return 0;
}
