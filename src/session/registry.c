/*
 * Session registry: a chained hash table of
 * registry entries under one mutex. See registry.h.
 */
#include "session/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define REGISTRY_BUCKETS 4096

struct item {
	struct item *next;
	struct registry_entry e;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct item *buckets[REGISTRY_BUCKETS];

void registry_put(const struct registry_entry *e)
{
	struct item **head = &buckets[e->id % REGISTRY_BUCKETS];

	pthread_mutex_lock(&lock);
	for (struct item *it = *head; it; it = it->next) {
		if (it->e.id == e->id) {
			it->e = *e;
			pthread_mutex_unlock(&lock);
			return;
		}
	}
	struct item *it = malloc(sizeof(*it));
	if (it) { /* out of memory: this session just cannot be KILLed by id */
		it->e = *e;
		it->next = *head;
		*head = it;
	}
	pthread_mutex_unlock(&lock);
}

void registry_kill(uint32_t id, enum registry_kill state)
{
	pthread_mutex_lock(&lock);
	for (struct item *it = buckets[id % REGISTRY_BUCKETS]; it; it = it->next) {
		if (it->e.id != id || !it->e.ctl)
			continue;
		atomic_store(&it->e.ctl->kill, (int)state);
		/* libevent's locks (evthread_use_pthreads) make this safe from
		 * another thread; the session frees the event only after it
		 * left the registry. */
		if (state == REGISTRY_KILL_CONFIRMED && it->e.ctl->wake)
			event_active(it->e.ctl->wake, EV_READ, 0);
		break;
	}
	pthread_mutex_unlock(&lock);
}

void registry_remove(uint32_t id)
{
	pthread_mutex_lock(&lock);
	for (struct item **pp = &buckets[id % REGISTRY_BUCKETS]; *pp; pp = &(*pp)->next) {
		if ((*pp)->e.id == id) {
			struct item *dead = *pp;
			*pp = dead->next;
			free(dead);
			break;
		}
	}
	pthread_mutex_unlock(&lock);
}

bool registry_find(uint32_t id, int cluster, int node, struct registry_entry *out)
{
	bool found = false;

	pthread_mutex_lock(&lock);
	for (struct item *it = buckets[id % REGISTRY_BUCKETS]; it; it = it->next) {
		if (it->e.id == id) {
			*out = it->e;
			found = true;
			break;
		}
	}
	/* Not a sluice id: maybe a node's thread id (a full scan; KILL is
	 * rare). Thread ids of different nodes can coincide: a match on the
	 * preferred node wins, else only a match that is unique. */
	size_t elsewhere = 0;
	struct registry_entry other;
	for (size_t b = 0; !found && b < REGISTRY_BUCKETS; b++) {
		for (struct item *it = buckets[b]; it && !found; it = it->next) {
			if (it->e.cluster != cluster)
				continue;
			for (int n = 0; n < REGISTRY_MAX_NODES; n++) {
				if (it->e.threads[n] != id)
					continue;
				if (n == node) {
					*out = it->e;
					found = true;
					break;
				}
				other = it->e;
				elsewhere++;
			}
		}
	}
	if (!found && elsewhere == 1) {
		*out = other;
		found = true;
	}
	if (found) {
		out->busy_node = out->ctl ? atomic_load(&out->ctl->busy_node) : -1;
		out->ctl = NULL; /* not for use outside the lock */
	}
	pthread_mutex_unlock(&lock);
	return found;
}
