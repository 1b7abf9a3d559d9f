/*
 * macho-syms.c - the Mach-O reader (tools/read/macho.c) on the command
 * line, for tests/t1010-macos-command.sh to compare with llvm-objdump.
 *
 *   macho-syms FILE arm64|arm64e|x86_64          ADDR NAME END per symbol
 *   macho-syms FILE arm64|arm64e|x86_64 ADDR...  the symbol holding each ADDR
 *   macho-syms --slices FILE                     CPUTYPE CPUSUBTYPE UUID per slice
 */
#include "read/macho.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    struct macho_file f;
    if (argc >= 3 && !strcmp(argv[1], "--slices")) {
        if (macho_load(argv[2], &f) < 0)
            return fprintf(stderr, "macho-syms: %s: not a Mach-O file\n", argv[2]), 1;
        for (int i = 0; i < f.nslices; i++) {
            char u[33];
            macho_uuid_hex(&f, i, u);
            printf("%#x %#x %s\n", (unsigned)f.slice[i].cputype, (unsigned)f.slice[i].cpusubtype,
                   u[0] ? u : "-");
        }
        macho_close(&f);
        return 0;
    }
    if (argc < 3)
        return fprintf(stderr, "usage: macho-syms FILE ARCH [ADDR...] | --slices FILE\n"), 2;
    if (macho_load(argv[1], &f) < 0)
        return fprintf(stderr, "macho-syms: %s: not a Mach-O file\n", argv[1]), 1;
    int e = !strcmp(argv[2], "arm64e");
    int32_t cpu = !strcmp(argv[2], "x86_64") ? MACHO_CPU_X86_64 : MACHO_CPU_ARM64;
    int s = macho_pick(&f, cpu, e);
    struct macho_syms syms;
    if (s < 0 || macho_symbols(&f, s, &syms) < 0)
        return fprintf(stderr, "macho-syms: %s: no %s symbols\n", argv[1], argv[2]), 1;
    if (argc == 3)
        for (size_t i = 0; i < syms.n; i++)
            printf("%016" PRIx64 " %s %016" PRIx64 "\n", syms.v[i].addr, syms.v[i].name,
                   syms.v[i].end);
    for (int i = 3; i < argc; i++) {
        const struct macho_sym *m = macho_find(&syms, strtoull(argv[i], NULL, 0));
        printf("%s %s\n", argv[i], m ? m->name : "-");
    }
    macho_syms_free(&syms);
    macho_close(&f);
    return 0;
}
