/*
 * The monotonic clock: in milliseconds the time base of the monitor's
 * records (failover_now_ms) and of a worker's ring loop; and a worker's loop
 * clock, the same time read once a wakeup.
 */
#ifndef SLUICE_CLOCK_H
#define SLUICE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t mono_ms(void)
{
	return mono_us() / 1000;
}

/* The ring loop's reading of mono_us(), taken each time its wait returns
 * (ring.c); 0 on a thread that keeps none (the epoll engine, the monitor,
 * the stats server). A query's timestamps (its latency, a pooled
 * connection's idle time) then cost one clock read a wakeup instead of one
 * each; they lag the clock by the work done since the wakeup, microseconds.
 * Not for deadlines compared with other threads' clocks. */
extern _Thread_local uint64_t loop_clock_us;

/* The loop clock where the thread keeps one, else the clock itself. */
static inline uint64_t loop_us(void)
{
	return loop_clock_us ? loop_clock_us : mono_us();
}

static inline uint64_t loop_ms(void)
{
	return loop_us() / 1000;
}

#endif
