/*
** guest_map.c - a sorted array of the guest's ranges: binary search to look up,
** a memmove to change (maps change rarely; lookups happen on every TLB miss).
*/
#include "guest_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The index of the first range that ends after `addr`. */
static size_t first_after(const struct guest_map *m, uint64_t addr) {
  size_t lo = 0, hi = m->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->ranges[mid].end <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int reserve(struct guest_map *m, size_t more) {
  struct guest_range *grown;
  size_t capacity;
  if (m->count + more <= m->capacity)
    return 0;
  capacity = m->capacity ? m->capacity * 2 : 64;
  while (capacity < m->count + more)
    capacity *= 2;
  if ((grown = realloc(m->ranges, capacity * sizeof *grown)) == NULL)
    return -ENOMEM;
  m->ranges = grown;
  m->capacity = capacity;
  return 0;
}

static void insert_at(struct guest_map *m, size_t i, struct guest_range r) {
  memmove(&m->ranges[i + 1], &m->ranges[i], (m->count - i) * sizeof r);
  m->ranges[i] = r;
  m->count++;
}

int guest_map_clear(struct guest_map *m, uint64_t start, uint64_t end) {
  size_t i;
  if (start >= end)
    return 0;
  if (reserve(m, 1) != 0) /* one range may become two */
    return -ENOMEM;
  i = first_after(m, start);
  while (i < m->count && m->ranges[i].start < end) {
    struct guest_range r = m->ranges[i];
    if (r.start < start && r.end > end) { /* a hole in the middle */
      m->ranges[i].end = start;
      insert_at(m, i + 1, (struct guest_range){end, r.end, r.perms});
      return 0;
    }
    if (r.start < start) {
      m->ranges[i].end = start;
      i++;
    } else if (r.end > end) {
      m->ranges[i].start = end;
      i++;
    } else {
      memmove(&m->ranges[i], &m->ranges[i + 1], (m->count - i - 1) * sizeof r);
      m->count--;
    }
  }
  return 0;
}

int guest_map_set(struct guest_map *m, uint64_t start, uint64_t end, int perms) {
  if (start >= end)
    return 0;
  if (guest_map_clear(m, start, end) != 0 || reserve(m, 1) != 0)
    return -ENOMEM;
  insert_at(m, first_after(m, start), (struct guest_range){start, end, perms});
  return 0;
}

int guest_map_perms(const struct guest_map *m, uint64_t addr) {
  size_t i = first_after(m, addr);
  if (i < m->count && m->ranges[i].start <= addr)
    return m->ranges[i].perms;
  return -1;
}

void guest_map_free(struct guest_map *m) {
  free(m->ranges);
  memset(m, 0, sizeof *m);
}

int guest_map_covers(const struct guest_map *m, uint64_t start, uint64_t len, int need) {
  uint64_t end = start + len, at = start;
  size_t i;
  if (end < start)
    return 0; /* wraps around */
  for (i = first_after(m, start); at < end; i++) {
    if (i >= m->count || m->ranges[i].start > at || (m->ranges[i].perms & need) != need)
      return 0;
    at = m->ranges[i].end;
  }
  return 1;
}

uint64_t guest_map_readable_from(const struct guest_map *m, uint64_t addr) {
  uint64_t at = addr;
  size_t i;
  for (i = first_after(m, addr); i < m->count; i++) {
    if (m->ranges[i].start > at || !(m->ranges[i].perms & 1 /* PROT_READ */))
      break;
    at = m->ranges[i].end;
  }
  return at - addr;
}
