/* test_launch.c - the portable part of `perfprobe run` on macOS
 * (tools/sys/launch.c, tools/read/macho.c) on crafted inputs: #! scripts
 * and env lines resolved as the kernel and env would, and the line said
 * for programs SIP, arm64e, Rosetta, the hardened runtime or a __RESTRICT
 * segment keep the shim out of.  The Mach-O files are written here byte
 * by byte from the format's layout (the real images are checked against
 * llvm-objdump in t1010). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "read/macho.h"
#include "sys/launch.h"

static char dir[256];

static void put32(unsigned char *p, uint32_t v, int big)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(big ? v >> (24 - 8 * i) : v >> (8 * i));
}

struct img {
    int32_t cpu, sub;
    int sig;                 /* add a code signature ... */
    uint32_t csflags;        /*   with these flags */
    const char *ents;        /*   and these entitlements (or NULL) */
    int restrict_seg;
};

/* a thin 64-bit Mach-O executable into B (4096 bytes); its size */
static size_t thin(unsigned char *b, const struct img *m)
{
    memset(b, 0, 4096);
    uint32_t ncmds = 0, at = 32;
    put32(b, 0xfeedfacf, 0);
    put32(b + 4, (uint32_t)m->cpu, 0);
    put32(b + 8, (uint32_t)m->sub, 0);
    put32(b + 12, 2, 0);
    if (m->restrict_seg) {
        put32(b + at, 0x19, 0);
        put32(b + at + 4, 72, 0);
        memcpy(b + at + 8, "__RESTRICT", 10);
        at += 72;
        ncmds++;
    }
    if (m->sig) {
        unsigned char *sb = b + 1024;
        uint32_t n = m->ents ? 2 : 1, cd = 12 + 8 * n, cdlen = 44;
        put32(sb, 0xfade0cc0, 1);
        put32(sb + 8, n, 1);
        put32(sb + 12, 0, 1);            /* slot 0: the code directory */
        put32(sb + 16, cd, 1);
        put32(sb + cd, 0xfade0c02, 1);
        put32(sb + cd + 4, cdlen, 1);
        put32(sb + cd + 8, 0x20400, 1);
        put32(sb + cd + 12, m->csflags, 1);
        uint32_t total = cd + cdlen;
        if (m->ents) {
            uint32_t el = 8 + (uint32_t)strlen(m->ents);
            put32(sb + 20, 5, 1);        /* slot 5: the entitlements */
            put32(sb + 24, total, 1);
            put32(sb + total, 0xfade7171, 1);
            put32(sb + total + 4, el, 1);
            memcpy(sb + total + 8, m->ents, strlen(m->ents));
            total += el;
        }
        put32(sb + 4, total, 1);
        put32(b + at, 0x1d, 0);
        put32(b + at + 4, 16, 0);
        put32(b + at + 8, 1024, 0);
        put32(b + at + 12, total, 0);
        at += 16;
        ncmds++;
    }
    put32(b + 16, ncmds, 0);
    put32(b + 20, at - 32, 0);
    return 4096;
}

static void write_file(const char *path, const void *b, size_t n, int mode)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static const char *at(const char *rel)
{
    static char p[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, rel);
    return p[k];
}

static void mkexe(const char *rel, const struct img *m)
{
    unsigned char b[4096];
    write_file(at(rel), b, thin(b, m), 0755);
}

/* a fat file of two slices */
static void mkfat(const char *rel, const struct img *a, const struct img *c)
{
    static unsigned char b[3 * 4096];
    memset(b, 0, sizeof b);
    put32(b, 0xcafebabe, 1);
    put32(b + 4, 2, 1);
    const struct img *m[2] = {a, c};
    for (int i = 0; i < 2; i++) {
        unsigned char *e = b + 8 + 20 * i;
        put32(e, (uint32_t)m[i]->cpu, 1);
        put32(e + 4, (uint32_t)m[i]->sub, 1);
        put32(e + 8, 4096u * (uint32_t)(i + 1), 1);
        put32(e + 12, 4096, 1);
        put32(e + 16, 12, 1);
        thin(b + 4096 * (i + 1), m[i]);
    }
    write_file(at(rel), b, sizeof b, 0755);
}

static int verdict(const char *rel, const char *script, int32_t host, char *msg)
{
    msg[0] = 0;
    return launch_verdict(at(rel), script, host, dir, msg, 2000);
}

static const char *joined(struct launch *l)
{
    static char s[2000];
    s[0] = 0;
    for (int i = 0; l->argv[i]; i++)
        snprintf(s + strlen(s), sizeof s - strlen(s), "%s%s", i ? " " : "", l->argv[i]);
    return s;
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/test_launch.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    const char *dirs[] = {"bin", "usr", "usr/bin", "usr/local", "usr/local/bin", "usr/binx",
                          "System", "System/Library", "opt"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        mkdir(at(dirs[i]), 0755);
    struct img arm = {MACHO_CPU_ARM64, 0, 0, 0, NULL, 0};
    struct img arm64e = {MACHO_CPU_ARM64, (int32_t)0x80000002, 0, 0, NULL, 0};
    struct img x86 = {MACHO_CPU_X86_64, 3, 0, 0, NULL, 0};
    mkexe("opt/python3", &arm);
    mkexe("usr/bin/python3", &arm);
    mkexe("usr/local/bin/tool", &arm);
    mkexe("usr/binx/tool", &arm);
    mkexe("System/Library/tool", &arm);
    mkexe("opt/e", &arm64e);
    mkexe("opt/x", &x86);
    mkfat("opt/fat-e", &arm, &arm64e);
    mkfat("opt/fat", &x86, &arm);

    char why[600], msg[2000];
    struct launch l;
    char *args[] = {"prog", "one", "two", NULL};

    /* #! with words: split on blanks, as macOS does */
    char line[800];
    snprintf(line, sizeof line, "#!%s -u  -X dev\nprint(1)\n", at("opt/python3"));
    write_file(at("opt/s1"), line, strlen(line), 0755);
    CHECK(launch_resolve(at("opt/s1"), args, NULL, &l, why, sizeof why) == 0, "#! resolved");
    CHECK(!strcmp(l.path, at("opt/python3")), "the interpreter runs (%s)", l.path);
    snprintf(line, sizeof line, "%s -u -X dev %s one two", at("opt/python3"), at("opt/s1"));
    CHECK(!strcmp(joined(&l), line), "its argv: interpreter, words, script, arguments (%s)", joined(&l));
    CHECK(!strcmp(l.script, at("opt/s1")), "the script is named");
    CHECK(l.env[0] == NULL, "no variables");
    launch_free(&l);

    /* #!/usr/bin/env python3: env resolved in PATH, SIP's /usr/bin/env never runs */
    char path[700];
    snprintf(path, sizeof path, "%s:%s", at("usr/local/bin"), at("opt"));
    write_file(at("opt/s2"), "#!/usr/bin/env python3\n", 23, 0755);
    CHECK(launch_resolve(at("opt/s2"), args, path, &l, why, sizeof why) == 0, "env resolved");
    CHECK(!strcmp(l.path, at("opt/python3")), "env's program found in PATH (%s)", l.path);
    snprintf(line, sizeof line, "python3 %s one two", at("opt/s2"));
    CHECK(!strcmp(joined(&l), line), "argv as env would give it (%s)", joined(&l));
    launch_free(&l);

    /* env -S with a variable and a word */
    const char *s3 = "#!/usr/bin/env -S FOO=bar python3 -u\n";
    write_file(at("opt/s3"), s3, strlen(s3), 0755);
    CHECK(launch_resolve(at("opt/s3"), args, path, &l, why, sizeof why) == 0, "env -S resolved");
    snprintf(line, sizeof line, "python3 -u %s one two", at("opt/s3"));
    CHECK(!strcmp(joined(&l), line), "env -S: argv (%s)", joined(&l));
    CHECK(l.env[0] && !strcmp(l.env[0], "FOO=bar") && !l.env[1], "env -S: FOO=bar set (%s)",
          l.env[0] ? l.env[0] : "none");
    launch_free(&l);

    /* env given on the command line, with an assignment */
    char *eargs[] = {"env", "A=1", "python3", "x.py", NULL};
    CHECK(launch_resolve("/usr/bin/env", eargs, path, &l, why, sizeof why) == 0 &&
          !strcmp(l.path, at("opt/python3")) && !strcmp(joined(&l), "python3 x.py") &&
          l.env[0] && !strcmp(l.env[0], "A=1"), "run -- env A=1 python3 x.py (%s)", joined(&l));
    launch_free(&l);

    /* what cannot be resolved says why */
    char *bad[] = {"env", "-i", "python3", NULL};
    CHECK(launch_resolve("/usr/bin/env", bad, path, &l, why, sizeof why) < 0 &&
          strstr(why, "-i"), "env -i refused (%s)", why);
    launch_free(&l);
    char *missing[] = {"env", "nosuchprog", NULL};
    CHECK(launch_resolve("/usr/bin/env", missing, path, &l, why, sizeof why) < 0 &&
          strstr(why, "nosuchprog"), "a program not in PATH (%s)", why);
    launch_free(&l);
    CHECK(launch_resolve(at("opt/none"), args, path, &l, why, sizeof why) < 0,
          "a missing file (%s)", why);
    launch_free(&l);
    CHECK(launch_resolve(at("opt/e"), args, path, &l, why, sizeof why) == 0 &&
          !strcmp(l.path, at("opt/e")) && !strcmp(joined(&l), "prog one two"),
          "a binary is run as it is");
    launch_free(&l);

    /* SIP's directories, and only those */
    CHECK(verdict("usr/bin/python3", "", MACHO_CPU_ARM64, msg) == 1 &&
          strstr(msg, "System Integrity Protection") && strstr(msg, "codesign"),
          "/usr/bin/python3: protected (%s)", msg);
    CHECK(verdict("usr/bin/python3", "/x/s.py", MACHO_CPU_ARM64, msg) == 1 &&
          strstr(msg, "interpreter of /x/s.py") && strstr(msg, "Homebrew"),
          "a protected interpreter names the script and Homebrew (%s)", msg);
    CHECK(verdict("System/Library/tool", "", MACHO_CPU_ARM64, msg) == 1, "/System: protected");
    CHECK(verdict("usr/local/bin/tool", "", MACHO_CPU_ARM64, msg) == 0, "/usr/local/bin: not (%s)", msg);
    CHECK(verdict("usr/binx/tool", "", MACHO_CPU_ARM64, msg) == 0, "/usr/binx: not (%s)", msg);
    CHECK(!strchr(msg, '\n'), "one line");

    /* architectures */
    CHECK(verdict("opt/python3", "", MACHO_CPU_ARM64, msg) == 0, "arm64 on arm64: fine");
    CHECK(verdict("opt/e", "", MACHO_CPU_ARM64, msg) == 1 && strstr(msg, "arm64e"),
          "arm64e: said (%s)", msg);
    CHECK(verdict("opt/fat-e", "", MACHO_CPU_ARM64, msg) == 1 && strstr(msg, "arm64e"),
          "fat arm64+arm64e: the arm64e slice runs (%s)", msg);
    CHECK(verdict("opt/x", "", MACHO_CPU_ARM64, msg) == 1 && strstr(msg, "Rosetta"),
          "x86_64 only on arm64: Rosetta (%s)", msg);
    CHECK(verdict("opt/x", "", MACHO_CPU_X86_64, msg) == 0, "x86_64 on x86_64: fine");
    CHECK(verdict("opt/fat", "", MACHO_CPU_ARM64, msg) == 0 &&
          verdict("opt/fat", "", MACHO_CPU_X86_64, msg) == 0, "fat x86_64+arm64: fine on both");

    /* signatures */
    struct img hard = arm, ok_ents = arm, one_ent = arm, restr = arm, adhoc = arm, rseg = arm;
    hard.sig = 1, hard.csflags = MACHO_CS_RUNTIME;
    ok_ents.sig = 1, ok_ents.csflags = MACHO_CS_RUNTIME;
    ok_ents.ents = "<plist><dict><key>com.apple.security.cs.allow-dyld-environment-variables</key>"
                   "<true/><key>com.apple.security.cs.disable-library-validation</key><true/>"
                   "</dict></plist>";
    one_ent = ok_ents;
    one_ent.ents = "<plist><dict><key>com.apple.security.cs.allow-dyld-environment-variables"
                   "</key><true/></dict></plist>";
    restr.sig = 1, restr.csflags = MACHO_CS_RESTRICT;
    adhoc.sig = 1, adhoc.csflags = MACHO_CS_ADHOC | 0x20000;
    rseg.restrict_seg = 1;
    mkexe("opt/hard", &hard);
    mkexe("opt/ents", &ok_ents);
    mkexe("opt/one", &one_ent);
    mkexe("opt/restr", &restr);
    mkexe("opt/adhoc", &adhoc);
    mkexe("opt/rseg", &rseg);
    CHECK(verdict("opt/hard", "", MACHO_CPU_ARM64, msg) == 1 && strstr(msg, "hardened runtime"),
          "hardened runtime: said (%s)", msg);
    CHECK(verdict("opt/ents", "", MACHO_CPU_ARM64, msg) == 0,
          "hardened, entitled to DYLD_* and without library validation: fine (%s)", msg);
    CHECK(verdict("opt/one", "", MACHO_CPU_ARM64, msg) == 1,
          "hardened with library validation still on: said");
    CHECK(verdict("opt/restr", "", MACHO_CPU_ARM64, msg) == 1 && strstr(msg, "restricted"),
          "CS_RESTRICT: said (%s)", msg);
    CHECK(verdict("opt/adhoc", "", MACHO_CPU_ARM64, msg) == 0, "ad-hoc signed: fine (%s)", msg);
    CHECK(verdict("opt/rseg", "", MACHO_CPU_ARM64, msg) == 1 && strstr(msg, "__RESTRICT"),
          "__RESTRICT segment: said (%s)", msg);

    /* the reader on the crafted slices */
    struct macho_file f;
    struct macho_sig sig;
    CHECK(macho_load(at("opt/fat-e"), &f) == 0 && f.nslices == 2 &&
          macho_pick(&f, MACHO_CPU_ARM64, 1) == 1 && macho_pick(&f, MACHO_CPU_ARM64, 0) == 0 &&
          macho_pick(&f, MACHO_CPU_X86_64, 0) == -1, "fat: two slices, picked by arch");
    macho_close(&f);
    CHECK(macho_load(at("opt/ents"), &f) == 0, "thin file read");
    macho_signature(&f, 0, &sig);
    CHECK(sig.is_signed && sig.flags == MACHO_CS_RUNTIME && sig.allow_dyld_env &&
          sig.no_library_validation, "signature: flags %#x and both entitlements", sig.flags);
    macho_close(&f);
    CHECK(macho_load(at("opt/s1"), &f) < 0, "a script is no Mach-O");

    /* damaged headers: the commands past the end of the file are not read */
    unsigned char b[4096];
    int read_past = 0;
    for (int cut = 0; cut < 64; cut += 4) {
        thin(b, &hard);
        put32(b + 16, 1000 + (uint32_t)cut, 0);   /* ncmds far too many */
        f.data = malloc(64 + (size_t)cut);
        memcpy(f.data, b, 64 + (size_t)cut);
        f.size = 64 + (size_t)cut;
        if (macho_parse(&f) == 0) {
            struct macho_syms s;
            macho_signature(&f, 0, &sig);
            read_past += sig.is_signed;          /* the signature lies beyond the cut */
            read_past += macho_symbols(&f, 0, &s) == 0;
            macho_syms_free(&s);
        }
        free(f.data);
    }
    CHECK(read_past == 0, "cut headers: nothing read beyond the end (%d)", read_past);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    CHECK_DONE();
}
