/*
 * Unit tests for net/evmem.c: libevent's allocations from per-thread free
 * lists. The size classes, reuse of a freed block, the per-class bound,
 * realloc keeping the contents, large blocks left to malloc, a flush, and
 * libevent's buffers running on it once installed.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "check.h"
#include "net/evmem.h"

static void test_reuse(void)
{
	check_case("a freed block is the next one of its class");
	evmem_thread_flush();
	uint8_t *a = evmem_malloc(100);
	if (!CHECK(a != NULL))
		return;
	memset(a, 0xab, EVMEM_MIN); /* the whole class is the caller's */
	evmem_free(a);
	CHECK_EQ_INT(evmem_thread_cached(), 1);
	uint8_t *b = evmem_malloc(EVMEM_MIN);
	CHECK(b == a);
	CHECK_EQ_INT(evmem_thread_cached(), 0);

	check_case("another class does not take it");
	evmem_free(b);
	uint8_t *c = evmem_malloc(EVMEM_MIN + 1);
	CHECK(c != NULL && c != b);
	if (c)
		memset(c, 0xcd, 2 * EVMEM_MIN);
	CHECK_EQ_INT(evmem_thread_cached(), 1);
	evmem_free(c);
	CHECK_EQ_INT(evmem_thread_cached(), 2);

	check_case("evmem_free(NULL) does nothing");
	evmem_free(NULL);
	CHECK_EQ_INT(evmem_thread_cached(), 2);
	evmem_thread_flush();
	CHECK_EQ_INT(evmem_thread_cached(), 0);
}

static void test_bound_and_big(void)
{
	enum { MANY = 200 };
	void *blocks[MANY];

	check_case("the cache of a class is bounded (64 KiB)");
	evmem_thread_flush();
	for (int i = 0; i < MANY; i++)
		blocks[i] = evmem_malloc(EVMEM_MIN);
	for (int i = 0; i < MANY; i++)
		evmem_free(blocks[i]);
	CHECK_EQ_INT(evmem_thread_cached(), 64 * 1024 / EVMEM_MIN);
	evmem_thread_flush();

	check_case("16 KiB blocks: four cached at most");
	for (int i = 0; i < 10; i++)
		blocks[i] = evmem_malloc(EVMEM_CACHED_MAX);
	for (int i = 0; i < 10; i++)
		evmem_free(blocks[i]);
	CHECK_EQ_INT(evmem_thread_cached(), 4);
	evmem_thread_flush();

	check_case("beyond the cached max: malloc and free, nothing kept");
	uint8_t *big = evmem_malloc(EVMEM_CACHED_MAX + 1);
	if (CHECK(big != NULL))
		memset(big, 1, EVMEM_CACHED_MAX + 1);
	evmem_free(big);
	CHECK_EQ_INT(evmem_thread_cached(), 0);

	check_case("an absurd size fails, it does not wrap");
	volatile size_t absurd = SIZE_MAX - 4;
	CHECK(evmem_malloc(absurd) == NULL);
}

static void test_realloc(void)
{
	check_case("realloc within the class keeps the block");
	evmem_thread_flush();
	uint8_t *a = evmem_realloc(NULL, 10);
	if (!CHECK(a != NULL))
		return;
	for (int i = 0; i < 10; i++)
		a[i] = (uint8_t)i;
	CHECK(evmem_realloc(a, EVMEM_MIN) == a);

	check_case("realloc to a larger class moves it with its contents");
	uint8_t *b = evmem_realloc(a, 3000);
	if (!CHECK(b != NULL))
		return;
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(b[i], i);
	CHECK_EQ_INT(evmem_thread_cached(), 1); /* a went back to its list */

	check_case("realloc of a large block grows it in place or moves it");
	uint8_t *c = evmem_realloc(b, 40000);
	if (!CHECK(c != NULL))
		return;
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(c[i], i);
	memset(c + 10, 7, 40000 - 10);
	uint8_t *d = evmem_realloc(c, 90000);
	if (!CHECK(d != NULL))
		return;
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(d[i], i);
	CHECK_EQ_INT(d[39999], 7);
	CHECK(evmem_realloc(d, 100) == d); /* shrinking keeps it */
	evmem_free(d);
	evmem_thread_flush();
}

/* Run f in a child; true when it died of SIGABRT (BUG_ON). */
static bool aborts(void (*f)(void))
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		/* The child's BUG_ON line is expected: keep stderr quiet. */
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		f();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void free_twice(void)
{
	void *p = evmem_malloc(64);
	evmem_free(p);
	evmem_free(p);
}

static void free_foreign(void)
{
	uint8_t *p = calloc(1, 256);
	evmem_free(p + 64); /* its "header" is zeros, no mark */
}

static void test_marks(void)
{
	check_case("a block freed twice aborts");
	CHECK(aborts(free_twice));
	check_case("a pointer that is not evmem's aborts");
	CHECK(aborts(free_foreign));
}

static void test_libevent(void)
{
	check_case("libevent's buffers on it, once installed");
	bool on = evmem_install();
	evmem_thread_flush();
	struct evbuffer *b = evbuffer_new();
	if (!CHECK(b != NULL))
		return;
	char data[300];
	memset(data, 'x', sizeof(data));
	for (int round = 0; round < 3; round++) {
		CHECK_EQ_INT(evbuffer_add(b, data, sizeof(data)), 0);
		CHECK_EQ_INT(evbuffer_get_length(b), sizeof(data));
		CHECK_EQ_INT(evbuffer_drain(b, sizeof(data)), 0);
	}
	/* Installed, the drained chunk waits here for the next receive;
	 * under a sanitizer nothing is installed and nothing is kept. */
	CHECK_EQ_INT(evmem_thread_cached(), on ? 1 : 0);
	evbuffer_free(b);
	evmem_thread_flush();
}

int main(void)
{
	static const struct check_test tests[] = {
		{"reuse by class", test_reuse},
		{"bounds and large blocks", test_bound_and_big},
		{"realloc", test_realloc},
		{"marks", test_marks},
		{"libevent's buffers", test_libevent},
	};
	return CHECK_RUN(tests);
}
