/*
 * libevent's memory: per-thread free lists of its buffer chunks. See evmem.h.
 */
#include "net/evmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"

#define CLASSES	    5 /* 1, 2, 4, 8 and 16 KiB */
#define CLASS_BIG   0xffu
#define CLASS_BYTES (64 * 1024) /* cached per class and thread, at most */
/* That many blocks of class cls. */
#define CLASS_BLOCKS(cls) ((unsigned)(CLASS_BYTES / EVMEM_MIN) >> (cls))
#define HEADER	    16		/* keeps malloc's 16-byte alignment */

_Static_assert(EVMEM_MIN << (CLASSES - 1) == EVMEM_CACHED_MAX, "classes reach the cached max");

/* A block's mark: given out, or on a free list. A free of anything else (a
 * pointer from plain malloc, a block freed twice) is a bug, caught here
 * before it corrupts a list. */
#define MARK_LIVE 0x65766d31u /* "evm1" */
#define MARK_FREE 0x65766d30u /* "evm0" */

/* Before each block: its class, its mark and what the caller may use. */
struct header {
	uint32_t cls; /* 0 .. CLASSES-1, or CLASS_BIG */
	uint32_t mark;
	size_t cap;
};

_Static_assert(sizeof(struct header) == HEADER, "header size");

/* A cached block's payload holds the link to the next one. */
struct free_block {
	struct free_block *next;
};

struct cache {
	struct free_block *head[CLASSES];
	unsigned count[CLASSES];
};

static _Thread_local struct cache cache;

/* Set once by evmem_install(), before any other thread starts. */
static bool installed;

static struct header *header_of(void *p)
{
	return (struct header *)((uint8_t *)p - HEADER);
}

/* The class of a request of n bytes, CLASS_BIG beyond the cached max. */
static unsigned class_of(size_t n)
{
	if (n <= EVMEM_MIN)
		return 0;
	if (n > EVMEM_CACHED_MAX)
		return CLASS_BIG;
	/* The smallest power of two >= n is 2^bits; EVMEM_MIN is 2^10. */
	unsigned bits = (unsigned)(64 - __builtin_clzll((unsigned long long)(n - 1)));
	return bits - 10;
}

static size_t class_cap(unsigned cls)
{
	return (size_t)EVMEM_MIN << cls;
}

void *evmem_malloc(size_t n)
{
	unsigned cls = class_of(n);
	struct header *h;

	if (cls != CLASS_BIG && cache.head[cls]) {
		struct free_block *b = cache.head[cls];
		cache.head[cls] = b->next;
		cache.count[cls]--;
		header_of(b)->mark = MARK_LIVE;
		return b;
	}
	if (cls == CLASS_BIG) {
		if (n > SIZE_MAX - HEADER)
			return NULL;
		h = malloc(HEADER + n);
		if (!h)
			return NULL;
		h->cap = n;
	} else {
		h = malloc(HEADER + class_cap(cls));
		if (!h)
			return NULL;
		h->cap = class_cap(cls);
	}
	h->cls = cls;
	h->mark = MARK_LIVE;
	return (uint8_t *)h + HEADER;
}

void evmem_free(void *p)
{
	if (!p)
		return;
	struct header *h = header_of(p);
	unsigned cls = h->cls;

	BUG_ON(h->mark != MARK_LIVE);
	if (cls != CLASS_BIG && cache.count[cls] < CLASS_BLOCKS(cls)) {
		struct free_block *b = p;
		h->mark = MARK_FREE;
		b->next = cache.head[cls];
		cache.head[cls] = b;
		cache.count[cls]++;
		return;
	}
	free(h);
}

void *evmem_realloc(void *p, size_t n)
{
	if (!p)
		return evmem_malloc(n);
	struct header *h = header_of(p);

	BUG_ON(h->mark != MARK_LIVE);
	if (n <= h->cap)
		return p;
	if (h->cls == CLASS_BIG && class_of(n) == CLASS_BIG) {
		if (n > SIZE_MAX - HEADER)
			return NULL;
		struct header *g = realloc(h, HEADER + n);
		if (!g)
			return NULL;
		g->cap = n;
		return (uint8_t *)g + HEADER;
	}
	void *q = evmem_malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, h->cap);
	evmem_free(p);
	return q;
}

void evmem_free_returned(void *p)
{
	if (installed)
		evmem_free(p);
	else
		free(p);
}

void evmem_thread_flush(void)
{
	for (unsigned cls = 0; cls < CLASSES; cls++) {
		while (cache.head[cls]) {
			struct free_block *b = cache.head[cls];
			cache.head[cls] = b->next;
			free(header_of(b));
		}
		cache.count[cls] = 0;
	}
}

size_t evmem_thread_cached(void)
{
	size_t n = 0;

	for (unsigned cls = 0; cls < CLASSES; cls++)
		n += cache.count[cls];
	return n;
}

#if defined(__SANITIZE_ADDRESS__)
#define EVMEM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EVMEM_SANITIZED 1
#endif
#endif

bool evmem_install(void)
{
#ifdef EVMEM_SANITIZED
	log_debug("evmem", "AddressSanitizer build: libevent keeps malloc");
	return false;
#else
	event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
	installed = true;
	return true;
#endif
}
