/*
 * macho.h - the Mach-O reader (macho.c): portable C, used by the command on
 * macOS (symbols_macho.c, sys/launch.c) and tested on Linux.
 */
#ifndef PP_MACHO_H
#define PP_MACHO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MACHO_CPU_X86_64   0x01000007
#define MACHO_CPU_ARM64    0x0100000c
#define MACHO_MAX_SLICES   16

/* code signature flags (the code directory's) */
#define MACHO_CS_ADHOC     0x00000002u
#define MACHO_CS_RESTRICT  0x00000800u
#define MACHO_CS_RUNTIME   0x00010000u

struct macho_slice {
    int32_t  cputype, cpusubtype;
    uint32_t filetype;                /* 2 executable, 6 dylib, ... */
    uint64_t off, size;               /* in the file */
};

struct macho_file {
    unsigned char *data;
    size_t size;
    struct macho_slice slice[MACHO_MAX_SLICES];
    int nslices;
};

/* PATH read whole: 0, or -1 when it cannot be read or is no 64-bit Mach-O
 * (thin or fat) */
int macho_load(const char *path, struct macho_file *f);
/* the same for F->data and F->size already set (the tests use it) */
int macho_parse(struct macho_file *f);
void macho_close(struct macho_file *f);
/* the slice of CPUTYPE (the arm64e one when PREFER_ARM64E and there is
 * one, else the other), or -1 */
int macho_pick(const struct macho_file *f, int32_t cputype, int prefer_arm64e);
int macho_is_arm64e(const struct macho_slice *s);
/* LC_UUID as 32 lowercase hex digits, "" when there is none */
void macho_uuid_hex(const struct macho_file *f, int slice, char out[33]);

struct macho_sym {
    uint64_t addr, end;               /* file (unslid) addresses */
    char *name;                       /* without the leading '_' of C */
};
struct macho_syms {
    struct macho_sym *v;              /* defined section symbols, by address */
    size_t n;
    uint64_t text_vmaddr;             /* where __TEXT (the header) would load */
};
/* the defined symbols of SLICE from LC_SYMTAB: 0, or -1 when it has none */
int macho_symbols(const struct macho_file *f, int slice, struct macho_syms *out);
/* the symbol whose range holds ADDR (a file address), or NULL */
const struct macho_sym *macho_find(const struct macho_syms *s, uint64_t addr);
void macho_syms_free(struct macho_syms *s);

struct macho_sig {
    int is_signed;                    /* there is a code directory */
    uint32_t flags;                   /* its MACHO_CS_* flags */
    int allow_dyld_env;               /* the entitlements name ... allow-dyld-environment-variables */
    int no_library_validation;        /* ... and disable-library-validation */
    int restrict_segment;             /* a __RESTRICT segment: dyld ignores DYLD_* */
};
void macho_signature(const struct macho_file *f, int slice, struct macho_sig *out);

#endif
