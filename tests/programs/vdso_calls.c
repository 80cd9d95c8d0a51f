/* The vDSO as a program finds it: named in the link map, its functions looked up in
 * its own dynamic symbol table (as glibc and the kernel's parse_vdso.c do) and called. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int named_vdso(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (strcmp(info->dlpi_name, "linux-vdso.so.1") == 0)
        *(int *)data = 1;
    return 0;
}

static void *vdso_symbol(const char *name) {
    const ElfW(Ehdr) *ehdr = (const void *)getauxval(AT_SYSINFO_EHDR);
    if (ehdr == NULL || memcmp(ehdr->e_ident, ELFMAG, SELFMAG) != 0)
        return NULL;
    const ElfW(Phdr) *ph = (const void *)((const char *)ehdr + ehdr->e_phoff);
    uintptr_t bias = 0;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < ehdr->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
            bias = (uintptr_t)ehdr - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = (const void *)ph[i].p_vaddr;
    }
    if (dyn == NULL)
        return NULL;
    dyn = (const void *)((uintptr_t)dyn + bias);
    const char *strtab = NULL;
    const ElfW(Sym) *symtab = NULL;
    const Elf32_Word *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_STRTAB) strtab = (const char *)(dyn->d_un.d_ptr + bias);
        if (dyn->d_tag == DT_SYMTAB) symtab = (const void *)(dyn->d_un.d_ptr + bias);
        if (dyn->d_tag == DT_HASH) hash = (const void *)(dyn->d_un.d_ptr + bias);
    }
    if (strtab == NULL || symtab == NULL || hash == NULL)
        return NULL;  /* (the kernel's has DT_HASH as well as DT_GNU_HASH) */
    for (Elf32_Word i = 1; i < hash[1]; i++)
        if (symtab[i].st_shndx != SHN_UNDEF && strcmp(strtab + symtab[i].st_name, name) == 0)
            return (void *)(symtab[i].st_value + bias);
    return NULL;
}

int main(void) {
    int named = 0;
    dl_iterate_phdr(named_vdso, &named);
    printf("link map names linux-vdso.so.1: %s\n", named ? "yes" : "no");
#ifdef __x86_64__
    const char *gettime = "__vdso_clock_gettime", *getofday = "__vdso_gettimeofday";
#else
    const char *gettime = "__kernel_clock_gettime", *getofday = "__kernel_gettimeofday";
    printf("__kernel_rt_sigreturn: %s\n", vdso_symbol("__kernel_rt_sigreturn") ? "found" : "missing");
#endif
    int (*vdso_gettime)(clockid_t, struct timespec *) = vdso_symbol(gettime);
    int (*vdso_getofday)(struct timeval *, void *) = vdso_symbol(getofday);
    if (vdso_gettime == NULL || vdso_getofday == NULL) {
        printf("vDSO functions: missing\n");
        return 1;
    }
    struct timespec before, t, after;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &before);
    int r = vdso_gettime(CLOCK_MONOTONIC, &t);
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &after);
    int ordered = r == 0 && (t.tv_sec > before.tv_sec || (t.tv_sec == before.tv_sec && t.tv_nsec >= before.tv_nsec))
                  && (after.tv_sec > t.tv_sec || (after.tv_sec == t.tv_sec && after.tv_nsec >= t.tv_nsec));
    printf("clock_gettime(CLOCK_MONOTONIC): %s\n", ordered ? "between two system calls" : "wrong");
    printf("clock_gettime(bad clock): %d\n", vdso_gettime(12345, &t));
    struct timeval tv;
    time_t now = time(NULL);
    r = vdso_getofday(&tv, NULL);
    printf("gettimeofday: %s\n", r == 0 && tv.tv_sec - now <= 1 && tv.tv_sec >= now ? "now" : "wrong");
    /* luatrap's vDSO marks its own calls with bit 0x8000: no call for anyone else */
    r = (int)syscall(SYS_clock_gettime | 0x8000, CLOCK_MONOTONIC, &t);
    printf("clock_gettime's number | 0x8000 from the program: %s\n", r == -1 && errno == ENOSYS ? "ENOSYS" : "runs");
    return 0;
}
