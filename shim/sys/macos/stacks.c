/*
 * stacks.c - the threads' stacks, and how much of them is resident, on
 * macOS.
 *
 * Each thread that allocates leaves an address on its stack (the core's
 * hints); the VM region around each address is the thread's stack (a
 * thread's stack is one region of its own, with a guard page below), found
 * with vm_region_64 (sys/stacks.c keeps and measures them).  The main thread's stack
 * (left out of the hints, as on Linux) is the region around the top the
 * system records for it.
 */
#include "sys/sys.h"

#include <mach/mach.h>
#include <pthread.h>

/* the VM region that holds ADDR: [start, end), 0 when none does */
static int region_of(uintptr_t addr, uintptr_t *start, uintptr_t *end)
{
    vm_address_t a = addr;
    vm_size_t size = 0;
    vm_region_basic_info_data_64_t info;
    mach_msg_type_number_t count = VM_REGION_BASIC_INFO_COUNT_64;
    mach_port_t object = MACH_PORT_NULL;
    if (vm_region_64(mach_task_self(), &a, &size, VM_REGION_BASIC_INFO_64,
                       (vm_region_info_t)&info, &count, &object) != KERN_SUCCESS)
        return 0;
    if (a > addr)                        /* the next region: ADDR is unmapped */
        return 0;
    *start = (uintptr_t)a;
    *end = (uintptr_t)(a + size);
    return 1;
}

long pp_stacks_find(uintptr_t *hints, size_t nh, struct pp_range *out, size_t cap)
{
    size_t found = 0;
    for (size_t i = 0; i < nh && found < cap; i++) {
        uintptr_t s, e;
        if (!region_of(hints[i], &s, &e))
            continue;
        size_t k = 0;
        while (k < found && out[k].start != s)
            k++;
        if (k == found) {
            out[found].start = s;
            out[found].end = e;
            found++;
        }
    }
    return (long)found;
}

/* the top of the main thread's stack: the library's initialisers run on
 * the main thread when DYLD_INSERT_LIBRARIES loads it at launch */
static uintptr_t main_top;

__attribute__((constructor)) static void note_main_stack(void)
{
    main_top = (uintptr_t)pthread_get_stackaddr_np(pthread_self());
}

uint64_t pp_os_resident_main_stack(int quick)
{
    static uintptr_t start, end;
    if (!end || !quick) {
        uintptr_t top = main_top;
        if (!top || !region_of(top - 1, &start, &end))
            return 0;
    }
    return pp_os_resident(start, end - start);
}
