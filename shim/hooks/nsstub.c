/*
 * nsstub.c - the first object of a link namespace the shim makes for a
 * dlmopen: a small ELF object, written into a memory file, that needs the
 * shim's namespace object and then the program's library.
 *
 * A namespace's global scope is the lookup scope of its first object, and
 * every object opened into the namespace later looks there first.  Bare,
 * that first object is the library: a library it opens in turn (a plugin's
 * own plugin, the C extensions of a dlmopen'd libpython) finds the
 * library's names.  Under the shim the scope must also put the namespace
 * object's hooks before libc, as LD_PRELOAD puts the shim before the
 * program's libraries.  This object does both, as a program's executable
 * does for its preloads: its DT_NEEDED list is the namespace object, then
 * the library, so its scope (the namespace's global scope) is the object,
 * the library and the library's dependencies breadth first.
 *
 * Such an object holds no code and no file: a PT_LOAD of its own headers,
 * a dynamic section, one symbol.  Two are made.  The first needs a second,
 * then the namespace object, then the library; it references the object's
 * mark of its version (PP_NS_MARK), so that an object of another build
 * fails the open before any constructor runs (the shim then opens the
 * library untouched).  The second holds the address of the shim's table
 * for the namespace (nslink.h) as pp_ns_pending, which the object's weak
 * reference finds at its first hook call, while the library's
 * constructors run.  It is apart from the first because the loader keeps
 * an object that another's references bound into as long as that one is
 * in use: the first, holding the library, must go at the program's last
 * dlclose of the library, as the library would bare.
 */
#define _GNU_SOURCE
#include "core/allocator.h"
#include "ns/nslink.h"

#if defined(__x86_64__) && defined(__linux__)
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

int pp_ns_stub(const char *object, const char *library, const void *table, char name[2][32],
               struct pp_fd fd[2]);
void pp_ns_stub_opened(void *first, char name[2][32]);

enum { N_PHDR = 3, N_DYN = 12, N_NEEDED = 3, N_SYM = 2, N_HASH = 2 + 1 + N_SYM };

/* an object, laid out from offset 0 (its addresses are its offsets) */
struct stub {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[N_PHDR];
    Elf64_Dyn dyn[N_DYN];
    Elf64_Sym sym[N_SYM];
    Elf64_Rela rela;
    uint64_t slot;                      /* the table's address, or the mark's */
    uint32_t hash[N_HASH];
};

/* "/proc/PID/fd/FD" into NAME (32 bytes): this process's descriptor by a
 * name that means the same to a debugger reading the loader's list while
 * the open is under way (/proc/self would be the debugger's own) */
static void fd_name(char *name, int fd)
{
    struct pp_buf b = {name, 0, 31};
    pp_buf_str(&b, "/proc/");
    pp_buf_u64(&b, (uint64_t)getpid());
    pp_buf_str(&b, "/fd/");
    pp_buf_u64(&b, (uint64_t)fd);
    name[b.len] = 0;
}

/* One object in a memory file, its open name in NAME (32 bytes): needing
 * NEEDED's N names in order; with TABLE, defining pp_ns_pending, a
 * pointer to it; without, referencing the object's mark.  Its descriptor
 * in *F, kept where the shim keeps its own (the library's constructors run
 * while it is open: the numbers they get are the ones they get bare); 0,
 * or -1. */
static int write_one(const char *const *needed, int n, const void *table, char *name,
                     struct pp_fd *f)
{
    static const char pending[] = PP_NS_PENDING, mark[] = PP_NS_MARK;
    const char *sym = table ? pending : mark;
    size_t lsym = (table ? sizeof pending : sizeof mark), at[N_NEEDED], len[N_NEEDED];
    size_t strsz = 1 + lsym;
    for (int i = 0; i < n; i++) {
        at[i] = strsz;
        len[i] = strlen(needed[i]) + 1;
        strsz += len[i];
    }
    struct stub st;
    memset(&st, 0, sizeof st);
    size_t at_str = sizeof st, total = at_str + strsz;

    memcpy(st.eh.e_ident, ELFMAG, SELFMAG);
    st.eh.e_ident[EI_CLASS] = ELFCLASS64;
    st.eh.e_ident[EI_DATA] = ELFDATA2LSB;
    st.eh.e_ident[EI_VERSION] = EV_CURRENT;
    st.eh.e_ident[EI_OSABI] = ELFOSABI_SYSV;
    st.eh.e_type = ET_DYN;
    st.eh.e_machine = EM_X86_64;
    st.eh.e_version = EV_CURRENT;
    st.eh.e_phoff = offsetof(struct stub, ph);
    st.eh.e_ehsize = sizeof st.eh;
    st.eh.e_phentsize = sizeof st.ph[0];
    st.eh.e_phnum = N_PHDR;

    st.ph[0] = (Elf64_Phdr){.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0,
                            .p_vaddr = 0, .p_paddr = 0, .p_filesz = total, .p_memsz = total,
                            .p_align = 4096};
    st.ph[1] = (Elf64_Phdr){.p_type = PT_DYNAMIC, .p_flags = PF_R | PF_W,
                            .p_offset = offsetof(struct stub, dyn),
                            .p_vaddr = offsetof(struct stub, dyn),
                            .p_filesz = sizeof st.dyn, .p_memsz = sizeof st.dyn, .p_align = 8};
    /* without it the loader would make the process's stacks executable */
    st.ph[2] = (Elf64_Phdr){.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W, .p_align = 16};

    Elf64_Dyn *d = st.dyn;
    for (int i = 0; i < n; i++)
        *d++ = (Elf64_Dyn){DT_NEEDED, {at[i]}};
    *d++ = (Elf64_Dyn){DT_HASH, {offsetof(struct stub, hash)}};
    *d++ = (Elf64_Dyn){DT_STRTAB, {at_str}};
    *d++ = (Elf64_Dyn){DT_SYMTAB, {offsetof(struct stub, sym)}};
    *d++ = (Elf64_Dyn){DT_STRSZ, {strsz}};
    *d++ = (Elf64_Dyn){DT_SYMENT, {sizeof(Elf64_Sym)}};
    if (table) {
        /* defined in this object, so that the namespace object's
         * reference binds here, not to the first object (the loader would
         * then keep the first object, and the library, while the
         * namespace object is in use) */
        st.slot = (uint64_t)(uintptr_t)table;
        st.sym[1] = (Elf64_Sym){.st_name = 1, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
                                .st_shndx = 1, .st_value = offsetof(struct stub, slot),
                                .st_size = sizeof st.slot};
    } else {
        st.sym[1] = (Elf64_Sym){.st_name = 1, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
                                .st_shndx = SHN_UNDEF};
        st.rela = (Elf64_Rela){.r_offset = offsetof(struct stub, slot),
                               .r_info = ELF64_R_INFO(1, R_X86_64_64), .r_addend = 0};
        *d++ = (Elf64_Dyn){DT_RELA, {offsetof(struct stub, rela)}};
        *d++ = (Elf64_Dyn){DT_RELASZ, {sizeof st.rela}};
        *d++ = (Elf64_Dyn){DT_RELAENT, {sizeof st.rela}};
    }
    *d = (Elf64_Dyn){DT_NULL, {0}};
    /* one bucket (every hash falls in it): symbol 1, then the chain's end */
    st.hash[0] = 1;
    st.hash[1] = N_SYM;
    st.hash[2] = 1;

    struct stat mine, named;
    if (pp_fd_adopt(f, memfd_create("perfprobe-ns", MFD_CLOEXEC)) != 0)
        return -1;
    int fd = f->fd;
    fd_name(name, fd);
    /* the name the loader will open is this file (a /proc of another
     * kind, or none, and the shim goes without) */
    if (fstat(fd, &mine) != 0 || stat(name, &named) != 0 || mine.st_dev != named.st_dev ||
        mine.st_ino != named.st_ino) {
        pp_fd_drop(f);
        return -1;
    }
    /* no buffer: a thread with a small stack may call dlmopen */
    struct iovec all[3 + N_NEEDED] = {{&st, sizeof st}, {(void *)"", 1}, {(void *)sym, lsym}};
    for (int i = 0; i < n; i++)
        all[3 + i] = (struct iovec){(void *)needed[i], len[i]};
    if (pp_writev_quiet(fd, all, 3 + n) != (ssize_t)total) {   /* no SIGXFSZ */
        pp_fd_drop(f);
        return -1;
    }
    return 0;
}

/* The namespace's two objects in memory files: FD[0] the first, needing
 * the table's holder, OBJECT and LIBRARY; FD[1] the holder of TABLE; the
 * names to open them by in NAME.  0, or -1 when they cannot be made.
 * Close both once the first is opened. */
int pp_ns_stub(const char *object, const char *library, const void *table, char name[2][32],
               struct pp_fd fd[2])
{
    if (write_one(NULL, 0, table, name[1], &fd[1]) != 0)
        return -1;
    const char *needed[N_NEEDED] = {name[1], object, library};
    if (write_one(needed, N_NEEDED, NULL, name[0], &fd[0]) != 0) {
        pp_fd_drop(&fd[1]);
        return -1;
    }
    return 0;
}

/* Once the first object (FIRST, its handle) is opened, before the
 * descriptors are closed: the two objects' names in the loader's list,
 * "/proc/PID/fd/N", which a debugger, a symbolizer or the program itself
 * would later open as another file (gdb hung reading its own descriptor
 * when they were /proc/self's), made names that open nothing.  Each is a
 * string of the loader's, written over with a shorter one. */
void pp_ns_stub_opened(void *first, char name[2][32])
{
    static const char label[2][16] = {"[pp-ns-first]", "[pp-ns-table]"};
    struct link_map *m = NULL;
    if (dlinfo(first, RTLD_DI_LINKMAP, &m) != 0)
        return;
    for (int k = 0; m && k < 2; m = m->l_next, k++)        /* listed first */
        for (int i = 0; i < 2; i++)
            if (m->l_name && !strcmp(m->l_name, name[i]) && strlen(name[i]) >= strlen(label[i]))
                memcpy(m->l_name, label[i], strlen(label[i]) + 1);
}
#endif
