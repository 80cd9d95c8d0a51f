/* For the tests that run 32-bit code in a 64-bit program: far_call_32bit(code, size)
 * copies `code` (32-bit code ending in lret) below 4 GiB, with 64-bit code there that
 * switches to a stack below 4 GiB (room for a signal frame) and far-calls it through
 * selector 0x23; run_32bit(entry) calls that and returns the 32-bit code's %eax. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

static void *far_call_32bit(const uint8_t *code, size_t size) {
    uint8_t *low = mmap(NULL, 65536, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    uint32_t at = (uint32_t)(uintptr_t)low, stack = at + 0xfff0, target = at + 0x200;
    uint32_t far = at + 0x100;
    uint16_t selector = 0x23;
    uint8_t stub[] = {0x48, 0x89, 0xe3,             /* mov %rsp, %rbx */
                      0xbc, 0, 0, 0, 0,             /* mov $stack, %esp */
                      0xff, 0x1c, 0x25, 0, 0, 0, 0, /* lcall *far */
                      0x48, 0x89, 0xdc,             /* mov %rbx, %rsp */
                      0xc3};                        /* ret */
    memcpy(stub + 4, &stack, 4);
    memcpy(stub + 11, &far, 4);
    memcpy(low, stub, sizeof stub);
    memcpy(low + 0x100, &target, 4);
    memcpy(low + 0x104, &selector, 2);
    memcpy(low + 0x200, code, size);
    return low;
}

static int run_32bit(void *entry) {
    int result;
    __asm__ volatile("call *%1" : "=a"(result) : "r"(entry)
                     : "rbx", "rcx", "rdx", "rsi", "rdi", "memory", "cc");
    return result;
}
