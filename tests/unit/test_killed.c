/* test_killed.c - where `perfprobe run` reads the OOM killer's count
 * (tools/killed.c), on fake cgroup trees in a temporary directory with the
 * kernel's formats: v2 memory.events (flat keys, oom_kill among low, high,
 * max, oom and oom_group_kill), read from the cgroup, or from the nearest
 * ancestor that has one when the memory controller is off in the cgroup,
 * never above the mount point; v1 memory.oom_control, with and without
 * the oom_kill line (kernels before 4.13 have none: nothing is claimed).
 * The file is included whole, so that its static parts can be driven. */
#include "check.h"
#include "fakefs.h"
#include "../../tools/killed.c"

#include <sys/stat.h>

/* the count for the cgroup tmpdir/CG, the hierarchy mounted at tmpdir/MNT */
static long count(int v1, const char *mnt, const char *cg)
{
    char d[512];
    snprintf(d, sizeof d, "%s/%s", tmpdir, cg);
    return count_for(d, strlen(tmpdir) + 1 + strlen(mnt), v1);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    made("v2");
    made("v2/a");
    made("v2/a/b");
    put("v2/a/b/memory.events", "low 0\nhigh 0\nmax 31\noom 0\noom_kill 2\noom_group_kill 0\n");
    put("v2/a/memory.events", "low 0\nhigh 0\nmax 97\noom 3\noom_kill 5\noom_group_kill 1\n");
    put("v2/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 9\noom_group_kill 0\n");
    CHECK(count(0, "v2", "v2/a/b") == 2, "v2: the cgroup's own oom_kill, not its parent's (%ld)",
          count(0, "v2", "v2/a/b"));
    gone("v2/a/b/memory.events");
    CHECK(count(0, "v2", "v2/a/b") == 5,
          "v2: memory controller off in the cgroup: the nearest ancestor's (%ld)",
          count(0, "v2", "v2/a/b"));
    gone("v2/a/memory.events");
    CHECK(count(0, "v2/a", "v2/a/b") == -1, "v2: nothing above the mount point");
    CHECK(count(0, "v2", "v2/a/b") == 9, "v2: the mount point's own file is read (%ld)",
          count(0, "v2", "v2/a/b"));
    put("v2/memory.events", "low 0\nhigh 0\nmax 0\noom 0\n");
    CHECK(count(0, "v2", "v2/a/b") == -1, "v2: no oom_kill line anywhere: none");

    made("v1");
    made("v1/p");
    made("v1/p/k");
    put("v1/p/k/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    put("v1/p/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    CHECK(count(1, "v1", "v1/p/k") == 1, "v1: the cgroup's own memory.oom_control (%ld)",
          count(1, "v1", "v1/p/k"));
    put("v1/p/k/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
    CHECK(count(1, "v1", "v1/p/k") == -1,
          "v1: no oom_kill line (a kernel before 4.13): none, the parent's is not read");
    gone("v1/p/k/memory.oom_control");
    CHECK(count(1, "v1", "v1/p/k") == -1, "v1: no file: none");

    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0, "cleaned up");
    CHECK_DONE();
}
