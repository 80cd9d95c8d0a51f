/*
** guest_map.h - which addresses are the guest's, and with which permissions.
**
** The emulate engine's guest memory is host memory at the same addresses; this is the
** engine's own record of it (kept in step with Unicorn's mappings by the Linux layer),
** read from C where Python cannot be asked: Unicorn's TLB fill, for every page the
** guest touches for the first time.
*/
#ifndef LUATRAP_GUEST_MAP_H
#define LUATRAP_GUEST_MAP_H

#include <stddef.h>
#include <stdint.h>

struct guest_range {
  uint64_t start, end; /* [start, end), page-aligned */
  int perms;           /* PROT_READ | PROT_WRITE | PROT_EXEC */
};

struct guest_map {
  struct guest_range *ranges; /* sorted, never overlapping */
  size_t count, capacity;
};

/* [start, end) is guest memory with `perms` (replacing what was there); 0 or -ENOMEM. */
int guest_map_set(struct guest_map *m, uint64_t start, uint64_t end, int perms);
/* [start, end) is no longer guest memory; 0 or -ENOMEM (a range split in two). */
int guest_map_clear(struct guest_map *m, uint64_t start, uint64_t end);
/* The permissions at `addr`, or -1 if it is not guest memory. */
int guest_map_perms(const struct guest_map *m, uint64_t addr);
/* Is all of [start, start+len) guest memory with at least the permissions `need`? */
int guest_map_covers(const struct guest_map *m, uint64_t start, uint64_t len, int need);
/* How many bytes from `addr` on are readable guest memory without a gap. */
uint64_t guest_map_readable_from(const struct guest_map *m, uint64_t addr);
void guest_map_free(struct guest_map *m);

#endif
