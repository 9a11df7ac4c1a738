/*
 * libevent's memory: every allocation libevent makes goes through here
 * (event_set_mem_functions), so that the chunks of its buffers come from a
 * per-thread free list instead of malloc and free.
 *
 * Why: an evbuffer allocates a chunk for each receive copied into it and
 * frees it when a send drains it, twice a query on each side of a session.
 * glibc's malloc and free cost about 130 instructions a pair, these lists
 * about 55 (callgrind).
 *
 * Each block carries a 16-byte header before what the caller gets: its size
 * class. Requests up to EVMEM_CACHED_MAX bytes are rounded up to a power of
 * two from EVMEM_MIN (libevent's chunks are such powers already) and, when
 * freed, kept on the freeing thread's list of that class, up to a bound per
 * class (about 64 KiB each), beyond which they go back to malloc. Larger
 * requests go to malloc and free directly. A block may be freed by another
 * thread than the one that allocated it: it joins that thread's list.
 *
 * A block carries a mark, live or free: freeing a pointer that is neither
 * evmem's nor live (a double free) aborts at once (BUG_ON), before it can
 * corrupt a list.
 *
 * Under AddressSanitizer nothing is installed: reusing blocks would hide
 * the use-after-free errors that build is there to find.
 *
 * Memory that libevent hands to its caller to free (evhttp_uridecode's
 * result) must be freed with evmem_free_returned(), not free().
 */
#ifndef SLUICE_EVMEM_H
#define SLUICE_EVMEM_H

#include <stdbool.h>
#include <stddef.h>

#define EVMEM_MIN	 1024
#define EVMEM_CACHED_MAX (16 * 1024)

/* Route libevent's allocations here. Must run before any other libevent
 * call, once, on the main thread. Returns false when it installed nothing
 * (a sanitizer build). */
bool evmem_install(void);

/* The allocator itself (what libevent calls; usable directly, with or
 * without evmem_install). evmem_free(NULL) does nothing. */
void *evmem_malloc(size_t n) __attribute__((warn_unused_result));
void *evmem_realloc(void *p, size_t n) __attribute__((warn_unused_result));
void evmem_free(void *p);

/* Free what a libevent call returned for its caller to free: through
 * evmem_free() when installed, else free(). */
void evmem_free_returned(void *p);

/* Give this thread's cached blocks back to malloc: a thread that used
 * libevent calls it before it exits. */
void evmem_thread_flush(void);

/* How many blocks this thread holds cached (for tests). */
size_t evmem_thread_cached(void);

#endif
