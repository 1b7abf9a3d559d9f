/* test_cgroup.c - the cgroup memory limit's reading (shim/sys/linux/
 * cgroup.c), on made-up files: the line reader, mountinfo lines (a mount's
 * root, escapes, optional fields, the memory controller among others),
 * the walk up a cgroup's ancestors, and fake cgroup trees in a temporary
 * directory with the kernel's file formats (v2: single values, "max";
 * v1: single values, v1's "no limit", memory.stat's flat keys as a 6.x
 * kernel writes them): the own cgroup without a limit under a limited
 * parent and a grandparent with less, the level with the least room
 * rather than the smallest limit, v1's hierarchical limit of a parent out
 * of sight, missing files, and the sampler's call switching levels.  The
 * counts of the watched level meeting its limit: v2 memory.events and
 * memory.pressure (PSI), v1 memory.failcnt and memory.memsw.failcnt, each
 * missing in turn; and the sampler's decision (core/peakview.c, included
 * too, with the site views it writes caught): a pressure view when a count
 * moved between two reads, none on the first read, after a level change or
 * a missing file, its rate limit, and a move in a sample that wrote
 * another view kept for the next.  The files are included whole, so that
 * their static parts can be driven one by one. */
#include "check.h"
#include "fakefs.h"
#include "sys/linux/cgroup.c"
#include "core/peakview.c"

/* what peakview.c calls in sites.c: the views it writes, caught */
int pp_sites_mode = PP_STACKS_ALL;
static int views;
static char view_why[64], view_counter[64];
static struct pp_dump_cgroup view_cg;
int pp_sites_view(const char *why, const struct pp_dump_cgroup *cg)
{
    views++;
    snprintf(view_why, sizeof view_why, "%s", why ? why : "");
    memset(&view_cg, 0, sizeof view_cg);
    view_counter[0] = 0;
    if (cg) {
        view_cg = *cg;
        snprintf(view_counter, sizeof view_counter, "%s", cg->counter ? cg->counter : "");
    }
    return 0;
}
int64_t pp_sites_peak_bytes(int *pending)
{
    *pending = 0;
    return 0;
}

/* one sample at T seconds with HEAP bytes: whether a view was written */
static int tick(double t, int64_t heap)
{
    struct pp_sample smp;
    memset(&smp, 0, sizeof smp);
    smp.t_ns = (uint64_t)(t * 1e9);
    smp.heap.bytes = heap;
    int before = views;
    view_why[0] = 0;
    pp_peakview_tick(&smp);
    return views - before;
}

/* the sampler's state afresh, watching the process's cgroup DIR */
static void watch_afresh(void)
{
    pp_fd_drop(&cur_fd);
    pp_fd_drop(&count_fd[0]);
    pp_fd_drop(&count_fd[1]);
    state = 1;
    calls = 0;
    watched = 0;
    watched_kind = 0;
}

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* the process's cgroup is tmpdir/CG, the hierarchy mounted at tmpdir/MNT,
 * version V: the limit chosen, with the usage and the level (relative to
 * tmpdir) it was read from */
static uint64_t got_usage;
static char got_level[512];
static uint64_t chosen(int v, const char *mnt, const char *cg)
{
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, cg);
    top = strlen(tmpdir) + 1 + strlen(mnt);
    version = v;
    usage_file = v == 2 ? "memory.current" : "memory.usage_in_bytes";
    size_t at = 0;
    got_usage = 0;
    uint64_t lim = choose(&at, &got_usage);
    snprintf(got_level, sizeof got_level, "%.*s", at > strlen(tmpdir) ? (int)(at - strlen(tmpdir) - 1) : 0,
             dir + strlen(tmpdir) + 1);
    return lim;
}

/* a v1 memory.stat as kernel 6.x writes it, with these two limits */
static void v1_stat(const char *name, const char *mem, const char *memsw)
{
    char text[2048];
    snprintf(text, sizeof text,
             "cache 4853760\nrss 2265088\nrss_huge 0\nshmem 0\nmapped_file 106496\n"
             "dirty 1036288\nwriteback 0\nworkingset_refault_anon 0\n"
             "workingset_refault_file 170\nswap 0\nswapcached 0\npgpgin 490586\n"
             "pgpgout 489012\npgfault 614624\npgmajfault 12\ninactive_anon 2134016\n"
             "active_anon 20480\ninactive_file 1781760\nactive_file 3072000\n"
             "unevictable 0\nhierarchical_memory_limit %s\nhierarchical_memsw_limit %s\n"
             "total_cache 4853760\ntotal_rss 2265088\ntotal_rss_huge 0\ntotal_shmem 0\n"
             "total_mapped_file 106496\ntotal_dirty 1036288\ntotal_writeback 0\n"
             "total_swap 0\ntotal_unevictable 0\n",
             mem, memsw);
    put(name, text);
}

/* mountinfo LINE for a process whose v1 memory path is V1 and v2 path V2:
 * the directories found */
static void mount_of(const char *line, const char *v1, const char *v2)
{
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", line);
    snprintf(path_v1, sizeof path_v1, "%s", v1);
    snprintf(path_v2, sizeof path_v2, "%s", v2);
    dir_v1[0] = dir_v2[0] = 0;
    mount_line(copy);
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;

    /* lines, one too long for the buffer, and a last one with no newline */
    char *text = malloc(12000), path[512];
    size_t n = 0;
    n += (size_t)sprintf(text + n, "first\n");
    memset(text + n, 'x', 9000);
    n += 9000;
    n += (size_t)sprintf(text + n, "\nsecond\nthird");
    text[n] = 0;
    put("lines", text);
    free(text);
    snprintf(path, sizeof path, "%s/lines", tmpdir);
    CHECK(proc_lines_open(path) == 0, "the made-up file opens");
    const char *want[] = {"first", "second", "third"};
    int k = 0, good = 1;
    char *line;
    while ((line = proc_lines_next()) != NULL) {
        good &= k < 3 && !strcmp(line, want[k]);
        k++;
    }
    proc_lines_close();
    CHECK(good && k == 3, "lines: the 9000-byte line is passed over, the last read without a newline (%d lines)", k);

    /* mountinfo */
    mount_of("35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
             "/process_api/abc", "/");
    CHECK(!strcmp(dir_v1, "/sys/fs/cgroup/memory/process_api/abc") && !dir_v2[0],
          "v1 memory mount, root /: %s", dir_v1);
    mount_of("35 31 0:32 /.. /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory", "/", "/");
    CHECK(!dir_v1[0], "a namespace's view of a mount above it (/..): passed over");
    mount_of("66 46 0:32 / /tmp/m rw,relatime - cgroup cgroup rw,memory", "/", "/");
    CHECK(!strcmp(dir_v1, "/tmp/m"), "a namespace's own mount, path /: the mount point (%s)", dir_v1);
    mount_of("66 46 0:32 /docker/id /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
             "/docker/id", "/");
    CHECK(!strcmp(dir_v1, "/sys/fs/cgroup/memory"), "a container's mount of its own cgroup (%s)", dir_v1);
    mount_of("66 46 0:32 /docker/id /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
             "/docker/id/inner", "/");
    CHECK(!strcmp(dir_v1, "/sys/fs/cgroup/memory/inner"), "below the mount's root (%s)", dir_v1);
    mount_of("66 46 0:32 /docker/id /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
             "/docker/idle", "/");
    CHECK(!dir_v1[0], "a root that is only a prefix of the path's name: passed over");
    mount_of("66 46 0:32 /a\\040b /tmp/x\\040y rw - cgroup cgroup rw,memory", "/a b/c", "/");
    CHECK(!strcmp(dir_v1, "/tmp/x y/c"), "escaped spaces in the root and the mount point (%s)", dir_v1);
    mount_of("32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu,memory_x", "/a", "/");
    CHECK(!dir_v1[0], "a controller named like memory: not memory");
    mount_of("32 31 0:29 / /sys/fs/cgroup/cm rw shared:4 master:1 - cgroup cgroup rw,cpu,memory,nosuid",
             "/a", "/");
    CHECK(!strcmp(dir_v1, "/sys/fs/cgroup/cm/a"), "memory among other options, optional fields (%s)", dir_v1);
    mount_of("41 31 0:38 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate",
             "", "/user.slice/u");
    CHECK(!strcmp(dir_v2, "/sys/fs/cgroup/user.slice/u") && !dir_v1[0], "v2 (%s)", dir_v2);
    mount_of("41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw", "/a", "/");
    CHECK(!strcmp(dir_v2, "/sys/fs/cgroup/unified"), "v2 root cgroup, hybrid mount (%s)", dir_v2);
    mount_of("41 31 0:38 / /sys/fs/cgroup rw - cgroup2", "", "/x");
    CHECK(!dir_v2[0], "a line cut short: nothing");

    /* the walk up: pp_cg_parent */
    {
        const char *d = "/m/a//b";
        size_t l1 = pp_cg_parent(d, strlen(d), 2), l2 = pp_cg_parent(d, l1, 2);
        CHECK(l1 == 4 && l2 == 2 && pp_cg_parent(d, l2, 2) == 0,
              "parents of /m/a//b under the mount /m: %zu (/m/a), %zu (/m), then none", l1, l2);
        CHECK(pp_cg_parent("/m", 2, 2) == 0, "the mount point itself has no parent to read");
        CHECK(pp_cg_parent("//a", 3, 1) == 1, "a mount at /: the parent of //a is / (1)");
    }
    /* flat keys */
    {
        uint64_t v = 7;
        CHECK(pp_cg_key_value("oom_kill 3\n", "oom_kill", &v) && v == 3, "oom_kill 3: %llu",
              (unsigned long long)v);
        CHECK(!pp_cg_key_value("oom_kill_disable 0", "oom_kill", &v) &&
                  !pp_cg_key_value("oom_group_kill 1", "oom_kill", &v) &&
                  !pp_cg_key_value("oom_kill", "oom_kill", &v) &&
                  !pp_cg_key_value("oom_kill x", "oom_kill", &v),
              "oom_kill_disable, oom_group_kill, no value, not a number: not oom_kill");
    }

    /* the mount point's length, for the walk */
    mount_of("35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
             "/process_api/abc", "/");
    CHECK(top_v1 == strlen("/sys/fs/cgroup/memory"), "v1 mount point's length %zu", top_v1);
    mount_of("41 31 0:38 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw", "", "/user.slice/u");
    CHECK(top_v2 == strlen("/sys/fs/cgroup"), "v2 mount point's length %zu", top_v2);

    /* ---- v2: a fake tree, mounted at v2/; the process in v2/a/b/c -------- */
    made("v2");
    made("v2/a");
    made("v2/a/b");
    made("v2/a/b/c");
    put("v2/a/b/c/memory.max", "max\n");
    put("v2/a/b/c/memory.current", "1048576\n");
    put("v2/a/b/memory.max", "209715200\n");
    put("v2/a/b/memory.current", "10485760\n");
    put("v2/a/memory.max", "104857600\n");
    put("v2/a/memory.current", "20971520\n");
    uint64_t lim = chosen(2, "v2", "v2/a/b/c");
    CHECK(lim == 104857600 && got_usage == 20971520 && !strcmp(got_level, "v2/a"),
          "v2: own max, parent 200 MiB, grandparent 100 MiB: %llu against %llu of %s",
          (unsigned long long)lim, (unsigned long long)got_usage, got_level);
    put("v2/a/memory.max", "max\n");
    lim = chosen(2, "v2", "v2/a/b/c");
    CHECK(lim == 209715200 && got_usage == 10485760 && !strcmp(got_level, "v2/a/b"),
          "v2: only the parent limited: its %llu against its usage %llu (%s)",
          (unsigned long long)lim, (unsigned long long)got_usage, got_level);
    /* less room above: the own cgroup's limit is the smallest, but the
     * parent's subtree (siblings) is nearer its own */
    put("v2/a/b/c/memory.max", "52428800\n");
    put("v2/a/b/c/memory.current", "5242880\n");
    put("v2/a/b/memory.max", "104857600\n");
    put("v2/a/b/memory.current", "94371840\n");
    lim = chosen(2, "v2", "v2/a/b/c");
    CHECK(lim == 104857600 && got_usage == 94371840 && !strcmp(got_level, "v2/a/b"),
          "v2: own 50 MiB with 45 MiB room, parent 100 MiB with 10 MiB room: the parent's (%llu, %s)",
          (unsigned long long)lim, got_level);
    put("v2/a/b/memory.current", "5242880\n");
    lim = chosen(2, "v2", "v2/a/b/c");
    CHECK(lim == 52428800 && !strcmp(got_level, "v2/a/b/c"),
          "v2: the same with the parent's room back: the own cgroup's (%llu, %s)",
          (unsigned long long)lim, got_level);
    put("v2/a/b/c/memory.max", "max\n");
    put("v2/a/b/memory.max", "52428800\n");
    put("v2/a/memory.max", "52428800\n");
    put("v2/a/memory.current", "5242880\n");
    lim = chosen(2, "v2", "v2/a/b/c");
    CHECK(lim == 52428800 && !strcmp(got_level, "v2/a/b"), "v2: equal limits and room: the deeper (%s)",
          got_level);
    /* missing files: a level without the memory controller (no memory.max),
     * a limit without its usage, a mount's root (no files at all) */
    gone("v2/a/b/memory.max");
    gone("v2/a/b/memory.current");
    gone("v2/a/b/c/memory.max");
    gone("v2/a/b/c/memory.current");
    put("v2/a/memory.max", "73400320\n");
    lim = chosen(2, "v2", "v2/a/b/c");
    CHECK(lim == 73400320 && !strcmp(got_level, "v2/a"),
          "v2: no memory files in the own cgroup and its parent: the grandparent's (%llu, %s)",
          (unsigned long long)lim, got_level);
    gone("v2/a/memory.current");
    CHECK(chosen(2, "v2", "v2/a/b/c") == 0, "v2: a limit whose usage cannot be read: none");
    put("v2/memory.max", "1048576\n");
    put("v2/memory.current", "0\n");
    CHECK(chosen(2, "v2/a", "v2/a/b/c") == 0, "v2: nothing read above the mount point");
    lim = chosen(2, "v2", "v2/a/b/c");
    CHECK(lim == 1048576 && !strcmp(got_level, "v2"), "v2: the mount point itself is read (%llu, %s)",
          (unsigned long long)lim, got_level);
    gone("v2/memory.max");
    CHECK(chosen(2, "v2", "v2/a/b/c") == 0, "v2: no limit anywhere: none");

    /* ---- v1: a fake tree mounted at v1/; the process in v1/p/k ----------- */
    made("v1");
    made("v1/p");
    made("v1/p/k");
    const char *none = "9223372036854771712";
    put("v1/p/k/memory.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/k/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/k/memory.usage_in_bytes", "4096000\n");
    v1_stat("v1/p/k/memory.stat", "67108864", none);
    put("v1/p/memory.limit_in_bytes", "67108864\n");
    put("v1/p/memory.memsw.limit_in_bytes", "67108864\n");
    put("v1/p/memory.usage_in_bytes", "5001216\n");
    put("v1/memory.limit_in_bytes", "9223372036854771712\n");
    put("v1/memory.usage_in_bytes", "999999999\n");
    lim = chosen(1, "v1", "v1/p/k");
    CHECK(lim == 67108864 && got_usage == 5001216 && !strcmp(got_level, "v1/p"),
          "v1: no limit on the own cgroup, 64 MiB on the parent: %llu against %llu (%s)",
          (unsigned long long)lim, (unsigned long long)got_usage, got_level);
    put("v1/p/memory.use_hierarchy", "0\n");
    v1_stat("v1/p/k/memory.stat", none, none);
    CHECK(chosen(1, "v1", "v1/p/k") == 0,
          "v1: the parent's use_hierarchy 0 (older kernels): its limit does not hold for the child");
    put("v1/p/memory.use_hierarchy", "1\n");
    v1_stat("v1/p/k/memory.stat", "67108864", none);
    CHECK(chosen(1, "v1", "v1/p/k") == 67108864, "v1: use_hierarchy 1: it does");
    put("v1/p/k/memory.limit_in_bytes", "33554432\n");
    v1_stat("v1/p/k/memory.stat", "33554432", none);
    lim = chosen(1, "v1", "v1/p/k");
    CHECK(lim == 33554432 && got_usage == 4096000 && !strcmp(got_level, "v1/p/k"),
          "v1: own 32 MiB under the parent's 64: the own (%llu, %s)", (unsigned long long)lim,
          got_level);
    put("v1/p/k/memory.limit_in_bytes", "9223372036854771712\n");
    v1_stat("v1/p/k/memory.stat", "67108864", none);
    lim = chosen(1, "v1/p/k", "v1/p/k");
    CHECK(lim == 67108864 && got_usage == 4096000 && !strcmp(got_level, "v1/p/k"),
          "v1: the cgroup mounted as the root (a container), the parent's limit out of sight: "
          "memory.stat's %llu against the highest usage in sight %llu (%s)",
          (unsigned long long)lim, (unsigned long long)got_usage, got_level);
    v1_stat("v1/p/k/memory.stat", "67108864", "50331648");
    lim = chosen(1, "v1/p/k", "v1/p/k");
    CHECK(lim == 50331648, "v1: a memory+swap limit out of sight below the memory one: %llu",
          (unsigned long long)lim);
    put("v1/p/k/memory.memsw.limit_in_bytes", "41943040\n");
    put("v1/p/k/memory.limit_in_bytes", "41943040\n");
    lim = chosen(1, "v1", "v1/p/k");
    CHECK(lim == 41943040 && !strcmp(got_level, "v1/p/k"),
          "v1: the chain's figure not below the limit in sight: the level in sight (%llu, %s)",
          (unsigned long long)lim, got_level);
    put("v1/p/k/memory.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/k/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    gone("v1/p/k/memory.stat");
    lim = chosen(1, "v1/p/k", "v1/p/k");
    CHECK(lim == 0, "v1: no memory.stat and no limit in sight: none");
    lim = chosen(1, "v1", "v1/p/k");
    CHECK(lim == 67108864 && !strcmp(got_level, "v1/p"), "v1: no memory.stat, the parent's in sight (%s)",
          got_level);
    put("v1/p/memory.limit_in_bytes", "4611686018427387903\n");
    gone("v1/p/memory.memsw.limit_in_bytes");
    lim = chosen(1, "v1", "v1/p/k");
    CHECK(lim == 4611686018427387903ull, "v1: just under 2^62 is a limit, no memsw file: %llu",
          (unsigned long long)lim);
    put("v1/p/memory.limit_in_bytes", "9223372036854771712\n");
    CHECK(chosen(1, "v1", "v1/p/k") == 0, "v1: no limit anywhere (the root's huge number): none");

    /* ---- the sampler's call: levels re-chosen every LIMIT_EVERY calls ------ */
    put("v1/p/memory.limit_in_bytes", "67108864\n");
    chosen(1, "v1", "v1/p/k");
    state = 1;
    calls = 0;
    watched = 0;
    uint64_t l = 0, c = 0;
    int r = pp_cgroup_memory(&l, &c);
    CHECK(r == 1 && l == 67108864 && c == 5001216, "first call: the parent's limit and usage (%llu, %llu)",
          (unsigned long long)l, (unsigned long long)c);
    put("v1/p/memory.usage_in_bytes", "6000640\n");
    r = pp_cgroup_memory(&l, &c);
    CHECK(r == 1 && c == 6000640, "the next: the parent's usage read again (%llu)", (unsigned long long)c);
    put("v1/p/k/memory.limit_in_bytes", "8388608\n");
    for (int i = 2; i < LIMIT_EVERY; i++)
        pp_cgroup_memory(&l, &c);
    CHECK(l == 67108864 && c == 6000640, "up to %d calls: the same level", LIMIT_EVERY);
    r = pp_cgroup_memory(&l, &c);
    CHECK(r == 1 && l == 8388608 && c == 4096000 && watched == strlen(dir),
          "after %d: the own cgroup's new 8 MiB limit has less room: watched (%llu, %llu)", LIMIT_EVERY,
          (unsigned long long)l, (unsigned long long)c);
    put("v1/p/k/memory.usage_in_bytes", "4100096\n");
    r = pp_cgroup_memory(&l, &c);
    CHECK(r == 1 && c == 4100096, "and its usage read from then on (%llu)", (unsigned long long)c);
    gone("v1/p/k/memory.usage_in_bytes");
    if (cur_fd.fd >= 0)
        pp_fd_drop(&cur_fd);
    r = pp_cgroup_memory(&l, &c);
    CHECK(r == 0, "the usage file gone: nothing");
    pp_fd_drop(&cur_fd);

    /* ---- parsing the counts' files -------------------------------------- */
    {
        char ev[] = "low 0\nhigh 17\nmax 123\noom 2\noom_kill 1\noom_group_kill 0\n";
        uint64_t v = 0;
        CHECK(text_key(ev, "max", &v) && v == 123, "memory.events: max 123 (%llu)", (unsigned long long)v);
        CHECK(text_key(ev, "high", &v) && v == 17, "memory.events: high 17 (%llu)", (unsigned long long)v);
        CHECK(!text_key(ev, "oom_kill_x", &v) && !text_key(ev, "ma", &v),
              "memory.events: no key named like another");
        CHECK(!strcmp(ev, "low 0\nhigh 17\nmax 123\noom 2\noom_kill 1\noom_group_kill 0\n"),
              "memory.events: the text is left as it was");
        char ev2[] = "low 0\nhigh 0\nmax 5";
        CHECK(text_key(ev2, "max", &v) && v == 5, "memory.events: a last line with no newline");
        CHECK(psi_some_total("some avg10=0.12 avg60=0.05 avg300=0.01 total=4567890\n"
                             "full avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n", &v) &&
                  v == 4567890,
              "memory.pressure: some's total, not full's (%llu)", (unsigned long long)v);
        CHECK(!psi_some_total("full avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n", &v) &&
                  !psi_some_total("some avg10=0.00 avg60=0.00 avg300=0.00\n"
                                  "full avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n", &v) &&
                  !psi_some_total("some total=x\n", &v) && !psi_some_total("", &v),
              "memory.pressure: no some line, some without total (not full's), no number: none");
    }

    /* ---- v2 counts: memory.events and memory.pressure of the watched level */
    made("v2/a/b");
    made("v2/a/b/c");
    put("v2/a/memory.max", "67108864\n");
    put("v2/a/memory.current", "10485760\n");
    put("v2/a/memory.events", "low 0\nhigh 0\nmax 40\noom 0\noom_kill 0\noom_group_kill 0\n");
    put("v2/a/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=900\n"
                                "full avg10=0.00 avg60=0.00 avg300=0.00 total=100\n");
    chosen(2, "v2", "v2/a/b/c");
    watch_afresh();
    struct pp_cgroup_counts cc;
    r = pp_cgroup_memory(&l, &c);
    errno = 4321;
    int rc = pp_cgroup_counts(&cc);
    CHECK(r == 1 && rc == 1 && errno == 4321 && cc.known == 7 && cc.count[0] == 40 &&
              cc.count[1] == 0 && cc.count[2] == 900 && !strcmp(cc.name[0], "memory.events max") &&
              !strcmp(cc.name[1], "memory.events high") && !strcmp(cc.name[2], "memory.pressure some"),
          "v2: the watched level's (v2/a) max 40, high 0, some total 900, errno kept (known %u)", cc.known);
    unsigned gen = cc.level;
    put("v2/a/memory.events", "low 0\nhigh 3\nmax 41\noom 0\noom_kill 0\noom_group_kill 0\n");
    pp_cgroup_counts(&cc);
    CHECK(cc.count[0] == 41 && cc.count[1] == 3 && cc.level == gen,
          "v2: read again through the kept descriptor: max 41, high 3, same level");
    gone("v2/a/memory.pressure");
    pp_fd_drop(&count_fd[1]);
    rc = pp_cgroup_counts(&cc);
    CHECK(rc == 1 && cc.known == 3 && count_off[1] && count_fd[1].fd < 0,
          "v2: no memory.pressure (PSI off): max and high only, not tried again (known %u)", cc.known);
    put("v2/a/memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=950\n");
    rc = pp_cgroup_counts(&cc);
    CHECK(cc.known == 3, "v2: memory.pressure back: still not read before the levels are");
    calls = 0;
    pp_cgroup_memory(&l, &c);
    rc = pp_cgroup_counts(&cc);
    CHECK(cc.known == 7 && cc.count[2] == 950 && cc.level == gen,
          "v2: the levels read again: memory.pressure read (%llu), the same level",
          (unsigned long long)cc.count[2]);
    gone("v2/a/memory.pressure");
    pp_fd_drop(&count_fd[1]);
    count_off[1] = 1;
    gone("v2/a/memory.events");
    pp_fd_drop(&count_fd[0]);
    rc = pp_cgroup_counts(&cc);
    CHECK(rc == 0 && cc.known == 0, "v2: neither file: nothing");

    /* ---- v1 counts ---------------------------------------------------------- */
    put("v1/p/memory.limit_in_bytes", "67108864\n");
    put("v1/p/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/memory.usage_in_bytes", "5001216\n");
    put("v1/p/memory.failcnt", "12\n");
    put("v1/p/memory.memsw.failcnt", "3\n");
    put("v1/p/k/memory.usage_in_bytes", "4096000\n");
    put("v1/p/k/memory.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/k/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    v1_stat("v1/p/k/memory.stat", "67108864", none);
    chosen(1, "v1", "v1/p/k");
    watch_afresh();
    pp_cgroup_memory(&l, &c);
    rc = pp_cgroup_counts(&cc);
    CHECK(rc == 1 && cc.known == 1 && cc.count[0] == 12 && !strcmp(cc.name[0], "memory.failcnt"),
          "v1: the parent's memory.failcnt 12; no memory+swap limit there: its memsw.failcnt not read "
          "(known %u)", cc.known);
    gen = cc.level;
    put("v1/p/memory.memsw.limit_in_bytes", "67108864\n");
    calls = 0;                          /* the levels read again at the next call */
    pp_cgroup_memory(&l, &c);
    rc = pp_cgroup_counts(&cc);
    CHECK(rc == 1 && cc.known == 3 && cc.count[1] == 3 && !strcmp(cc.name[1], "memory.memsw.failcnt") &&
              cc.level != gen,
          "v1: a memory+swap limit set on it: memsw.failcnt 3 read too, counted as another level");
    gone("v1/p/memory.failcnt");
    pp_fd_drop(&count_fd[0]);
    rc = pp_cgroup_counts(&cc);
    CHECK(rc == 1 && cc.known == 2, "v1: no memory.failcnt: memsw's only (known %u)", cc.known);
    put("v1/p/memory.failcnt", "12\n");
    put("v1/p/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/memory.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/memory.memsw.limit_in_bytes", "9223372036854771712\n");
    v1_stat("v1/p/k/memory.stat", none, none);
    calls = 0;
    CHECK(pp_cgroup_memory(&l, &c) == 0 && pp_cgroup_counts(&cc) == 0, "v1: no limit: no counts");
    v1_stat("v1/p/k/memory.stat", "67108864", none);
    CHECK(chosen(1, "v1/p/k", "v1/p/k") == 67108864, "v1: a limit out of sight (memory.stat's)");
    watch_afresh();
    pp_cgroup_memory(&l, &c);
    CHECK(pp_cgroup_counts(&cc) == 0, "v1: a limit out of sight: no count of its own in sight, none");

    /* ---- the sampler's decision (peakview.c) ------------------------------- */
    put("v1/p/memory.limit_in_bytes", "67108864\n");
    put("v1/p/memory.failcnt", "100\n");
    put("v1/p/memory.usage_in_bytes", "5001216\n");
    chosen(1, "v1", "v1/p/k");
    watch_afresh();
    CHECK(tick(1, 4 << 20) == 0, "first read (failcnt 100): no view");
    CHECK(tick(1.01, 4 << 20) == 0, "nothing moved: no view");
    put("v1/p/memory.failcnt", "103\n");
    CHECK(tick(1.02, 4 << 20) == 1 && !strcmp(view_why, "cgroup_pressure") &&
              !strcmp(view_counter, "memory.failcnt") && view_cg.was == 100 && view_cg.count == 103 &&
              view_cg.usage == 5001216 && view_cg.limit == 67108864,
          "failcnt 100 -> 103: a cgroup_pressure view with the usage, the limit and the count "
          "(%s %s %llu -> %llu)", view_why, view_counter, (unsigned long long)view_cg.was,
          (unsigned long long)view_cg.count);
    put("v1/p/memory.failcnt", "110\n");
    CHECK(tick(5, 4 << 20) == 0, "moved again 4 s later, the heap as it was: none (rate)");
    put("v1/p/memory.failcnt", "111\n");
    CHECK(tick(5.5, (4 << 20) + (4 << 20) / 8) == 0, "the heap grown by 1/8 exactly: none");
    put("v1/p/memory.failcnt", "112\n");
    CHECK(tick(6, (4 << 20) + (4 << 20) / 8 + 4096) == 1 && view_cg.was == 111 && view_cg.count == 112,
          "the heap grown by more than 1/8 since the last: a view, counting from the read before "
          "(%llu -> %llu)", (unsigned long long)view_cg.was, (unsigned long long)view_cg.count);
    put("v1/p/memory.failcnt", "113\n");
    CHECK(tick(15.9, 4 << 20) == 0, "9.9 s later: none");
    put("v1/p/memory.failcnt", "114\n");
    CHECK(tick(16, 4 << 20) == 1 && view_cg.was == 113, "10 s after the last one: a view");
    CHECK(tick(30, 4 << 20) == 0, "nothing moved since: none, however long after");
    /* the same sample writes a cgroup_limit view: the move waits one sample */
    put("v1/p/memory.failcnt", "120\n");
    put("v1/p/memory.usage_in_bytes", "62914560\n");
    CHECK(tick(40, 4 << 20) == 1 && !strcmp(view_why, "cgroup_limit"),
          "usage at 93.75%% and failcnt moved in one sample: the cgroup_limit view (%s)", view_why);
    CHECK(tick(40.01, 4 << 20) == 1 && !strcmp(view_why, "cgroup_pressure") && view_cg.was == 114 &&
              view_cg.count == 120,
          "the next sample: the pressure view, from the count before (%llu -> %llu)",
          (unsigned long long)view_cg.was, (unsigned long long)view_cg.count);
    /* a missing file: afresh when it comes back */
    gone("v1/p/memory.failcnt");
    pp_fd_drop(&count_fd[0]);
    CHECK(tick(60, 4 << 20) == 0, "memory.failcnt gone: none");
    put("v1/p/memory.failcnt", "500\n");
    CHECK(tick(65, 4 << 20) == 0 && count_off[0], "back, but not tried again before the levels are read");
    calls = 0;
    CHECK(tick(70, 4 << 20) == 0 && !count_off[0],
          "the levels read again: tried, back at 500: a first read again, none");
    put("v1/p/memory.failcnt", "501\n");
    CHECK(tick(80, 4 << 20) == 1 && view_cg.was == 500, "then 500 -> 501: a view");
    /* another level watched: afresh */
    put("v1/p/k/memory.limit_in_bytes", "8388608\n");
    put("v1/p/k/memory.failcnt", "7\n");
    put("v1/p/memory.usage_in_bytes", "5001216\n");
    calls = 0;
    CHECK(tick(90, 4 << 20) == 0, "the own cgroup's 8 MiB limit watched now (failcnt 7): none");
    CHECK(watched == strlen(dir), "(the own cgroup is the one watched)");
    put("v1/p/k/memory.failcnt", "9\n");
    CHECK(tick(100, 4 << 20) == 1 && view_cg.limit == 8388608 && view_cg.was == 7 && view_cg.count == 9,
          "its count 7 -> 9: a view against its limit %llu", (unsigned long long)view_cg.limit);
    /* no limit: nothing read, no view */
    put("v1/p/k/memory.limit_in_bytes", "9223372036854771712\n");
    put("v1/p/memory.limit_in_bytes", "9223372036854771712\n");
    gone("v1/p/k/memory.stat");
    calls = 0;
    put("v1/p/k/memory.failcnt", "20\n");
    CHECK(tick(120, 4 << 20) == 0, "the limits taken off, the count moved: none");
    put("v1/p/k/memory.limit_in_bytes", "8388608\n");
    put("v1/p/k/memory.failcnt", "30\n");
    calls = 0;
    CHECK(tick(130, 4 << 20) == 0, "the same limit set again, the count moved meanwhile (20 -> 30): "
                                   "a first read again, none");
    put("v1/p/k/memory.failcnt", "31\n");
    CHECK(tick(140, 4 << 20) == 1 && view_cg.was == 30, "then 30 -> 31: a view");
    pp_fd_drop(&cur_fd);
    pp_fd_drop(&count_fd[0]);
    pp_fd_drop(&count_fd[1]);

    state = -1;
    errno = 1234;
    r = pp_cgroup_memory(&l, &c);
    CHECK(r == 0 && errno == 1234, "no cgroup: nothing, errno kept");

    snprintf(path, sizeof path, "rm -rf %s", tmpdir);
    CHECK(system(path) == 0, "cleaned up");
    CHECK_DONE();
}
