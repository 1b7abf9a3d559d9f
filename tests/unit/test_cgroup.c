/* test_cgroup.c - the cgroup memory limit's reading (shim/sys/linux/
 * cgroup.c), on made-up files: the line reader, mountinfo lines (a mount's
 * root, escapes, optional fields, the memory controller among others),
 * and the limit files of v1 and v2.  The file is included whole, so that
 * its static parts can be driven one by one. */
#include "check.h"
#include "sys/linux/cgroup.c"

#include <stdio.h>
#include <stdlib.h>

static char tmpdir[] = "/tmp/pp-test-cgroup-XXXXXX";

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
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
    char *text = malloc(12000), path[256];
    size_t n = 0;
    n += (size_t)sprintf(text + n, "first\n");
    memset(text + n, 'x', 9000);
    n += 9000;
    n += (size_t)sprintf(text + n, "\nsecond\nthird");
    text[n] = 0;
    put("lines", text);
    free(text);
    snprintf(path, sizeof path, "%s/lines", tmpdir);
    CHECK(lines_open(path) == 0, "the made-up file opens");
    const char *want[] = {"first", "second", "third"};
    int k = 0, good = 1;
    char *line;
    while ((line = lines_next()) != NULL) {
        good &= k < 3 && !strcmp(line, want[k]);
        k++;
    }
    lines_close();
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

    /* the limit files */
    snprintf(dir, sizeof dir, "%s", tmpdir);
    limit_file = "memory.limit_in_bytes";
    put(limit_file, "67108864\n");
    CHECK(read_limit() == 67108864, "v1 limit: %llu", (unsigned long long)read_limit());
    put(limit_file, "9223372036854771712\n");
    CHECK(read_limit() == 0, "v1's no limit: none");
    put(limit_file, "4611686018427387903\n");
    CHECK(read_limit() == 4611686018427387903ull, "just under 2^62: a limit");
    limit_file = "memory.max";
    put(limit_file, "max\n");
    CHECK(read_limit() == 0, "v2's max: none");
    limit_file = "memory.missing";
    CHECK(read_limit() == 0, "no file: none");

    snprintf(path, sizeof path, "rm -rf %s", tmpdir);
    CHECK(system(path) == 0, "cleaned up");
    CHECK_DONE();
}
