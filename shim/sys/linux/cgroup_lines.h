/*
 * cgroup_lines.h - the lines of /proc/self/cgroup and /proc/self/mountinfo
 * that say where a process's cgroup directory is, parsed in place, without
 * allocating: the shim reads them for the memory limit (cgroup.c), and
 * `perfprobe run` for the OOM killer's count (tools/killed.c).
 *
 * The path of a process's line in /proc/self/cgroup ("0::PATH" for v2,
 * "N:...memory...:PATH" for v1's memory hierarchy) is relative to the root
 * of its cgroup namespace, as is the root field of a cgroup mount in
 * mountinfo: the directory is the mount point followed by PATH less that
 * root.  Its ancestors that can be read are the directories between it and
 * the mount point (pp_cg_parent): a limit set above the mount's root (on a
 * container whose own cgroup is mounted as the root) has no directory here.
 *
 * The files read are single values ("67108864", or "max" in v2) and
 * flat-keyed lines, "KEY VALUE" (memory.events, memory.stat,
 * memory.oom_control): pp_cg_key_value.
 */
#ifndef PP_CGROUP_LINES_H
#define PP_CGROUP_LINES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* whether the comma-separated LIST has the item WORD */
static inline int pp_cg_has_item(const char *list, const char *word)
{
    size_t k = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == k && !strncmp(p, word, k))
            return 1;
        p += n + (p[n] != 0);
    }
    return 0;
}

/* A /proc/self/cgroup line (no newline), split in place: 2 for cgroup v2's
 * "0::PATH", 1 for v1's memory hierarchy, 0 for another; *PATH set for 1
 * and 2 */
static inline int pp_cg_cgroup_line(char *line, const char **path)
{
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2)
        return 0;
    *c1 = *c2 = 0;
    *path = c2 + 1;
    if (!strcmp(line, "0") && !c1[1])
        return 2;
    return pp_cg_has_item(c1 + 1, "memory") ? 1 : 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo: undone in
 * place */
static inline void pp_cg_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
}

/* One mountinfo line (no newline), "ID PARENT MAJ:MIN ROOT MOUNT_POINT
 * OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER_OPTIONS", split in place: 0
 * with the root and the mount point unescaped, -1 when it is not one */
static inline int pp_cg_mount_line(char *line, char **root, char **point, char **type,
                                   char **super)
{
    char *f[6] = {0};
    int n = 0;
    char *p = line;
    while (n < 6 && *p) {
        f[n++] = p;
        p += strcspn(p, " ");
        if (*p)
            *p++ = 0;
    }
    if (n < 6)
        return -1;
    char *sep = strstr(p, "- ");     /* after the optional fields */
    if (!sep || (sep != p && sep[-1] != ' '))
        return -1;
    char *t = sep + 2, *source = t + strcspn(t, " ");
    if (!*source)
        return -1;
    *source++ = 0;
    char *s = source + strcspn(source, " ");
    if (!*s)
        return -1;
    s++;
    s[strcspn(s, " ")] = 0;
    pp_cg_unescape(f[3]);
    pp_cg_unescape(f[4]);
    *root = f[3];
    *point = f[4];
    *type = t;
    *super = s;
    return 0;
}

/* OUT = MOUNT_POINT + (PATH less ROOT); -1 when ROOT does not hold PATH or
 * OUT is too small */
static inline int pp_cg_join_under(char *out, size_t cap, const char *mount_point,
                                   const char *root, const char *path)
{
    size_t r = strlen(root);
    const char *rest;
    if (!strcmp(root, "/"))
        rest = path;
    else if (!strncmp(path, root, r) && (path[r] == 0 || path[r] == '/'))
        rest = path + r;
    else
        return -1;
    if (!strcmp(rest, "/"))
        rest = "";
    size_t m = strlen(mount_point), k = strlen(rest);
    if (m + k + 1 > cap)
        return -1;
    memcpy(out, mount_point, m);
    memcpy(out + m, rest, k + 1);
    return 0;
}

/* The parent of the directory D[0..LEN) while it is still at or below the
 * mount point D[0..TOP): its length, or 0 when D[0..LEN) is the mount
 * point (there is no parent to read). */
static inline size_t pp_cg_parent(const char *d, size_t len, size_t top)
{
    if (len <= top)
        return 0;
    size_t i = len;
    while (i > top && d[i - 1] != '/')
        i--;
    while (i > top && d[i - 1] == '/')
        i--;
    return i;
}

/* LINE is "KEY VALUE" (a line of a flat-keyed cgroup file, with or without
 * its newline): 1 with *V set to VALUE, else 0 */
static inline int pp_cg_key_value(const char *line, const char *key, uint64_t *v)
{
    size_t k = strlen(key);
    if (strncmp(line, key, k) || line[k] != ' ' || line[k + 1] < '0' || line[k + 1] > '9')
        return 0;
    *v = strtoull(line + k + 1, NULL, 10);
    return 1;
}

#endif
