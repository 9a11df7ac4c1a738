/*
 * Session registry: a chained hash table of
 * registry entries under one mutex. See registry.h.
 */
#include "session/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "net/worker.h"

#define REGISTRY_BUCKETS 4096

/* What is kept of an entry: registry_find fills in the rest from ctl. */
struct kept {
	uint32_t id;
	int cluster;
	struct registry_ctl *ctl;
	char user[sizeof(((struct registry_entry *)0)->user)];
};

struct item {
	struct item *next;
	struct kept e;
};

static void keep(struct kept *k, const struct registry_entry *e)
{
	k->id = e->id;
	k->cluster = e->cluster;
	k->ctl = e->ctl;
	memcpy(k->user, e->user, sizeof(k->user));
}

static void fill(struct registry_entry *out, const struct kept *k)
{
	memset(out, 0, sizeof(*out));
	out->id = k->id;
	out->cluster = k->cluster;
	out->ctl = k->ctl;
	memcpy(out->user, k->user, sizeof(out->user));
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct item *buckets[REGISTRY_BUCKETS];

void registry_put(const struct registry_entry *e)
{
	struct item **head = &buckets[e->id % REGISTRY_BUCKETS];

	pthread_mutex_lock(&lock);
	for (struct item *it = *head; it; it = it->next) {
		if (it->e.id == e->id) {
			keep(&it->e, e);
			pthread_mutex_unlock(&lock);
			return;
		}
	}
	struct item *it = malloc(sizeof(*it));
	if (it) { /* out of memory: this session just cannot be KILLed by id */
		keep(&it->e, e);
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
		if (state == REGISTRY_KILL_CONFIRMED && it->e.ctl->wake) {
			event_active(it->e.ctl->wake, EV_READ, 0);
			worker_kick(it->e.ctl->worker);
		}
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

/* How well session it matches node thread id: 4 it holds it on the
 * preferred node, 3 elsewhere, 2 it held it last on the preferred node, 1
 * elsewhere, 0 not at all. */
static int thread_score(const struct item *it, uint32_t id, int node)
{
	int best = 0;

	if (!it->e.ctl)
		return 0;
	for (int n = 0; n < it->e.ctl->n_nodes; n++) {
		int score = 0;
		if (atomic_load_explicit(&it->e.ctl->threads[n], memory_order_relaxed) == id)
			score = n == node ? 4 : 3;
		else if (atomic_load_explicit(&it->e.ctl->seen[n], memory_order_relaxed) == id)
			score = n == node ? 2 : 1;
		if (score > best)
			best = score;
	}
	return best;
}

bool registry_find(uint32_t id, int cluster, int node, uint32_t self, struct registry_entry *out)
{
	bool found = false;

	pthread_mutex_lock(&lock);
	for (struct item *it = buckets[id % REGISTRY_BUCKETS]; it; it = it->next) {
		if (it->e.id == id) {
			fill(out, &it->e);
			found = true;
			break;
		}
	}
	/* Not a sluice id: maybe a node's thread id (a full scan; KILL is
	 * rare), which a client got from CONNECTION_ID(). With pooling a
	 * session's thread changes from statement to statement, so the
	 * session holding that thread now wins, then the one that held it
	 * last; the asking session itself only when no other matches, and
	 * a tie between sessions is no match. */
	int best = 0;
	size_t ties = 0;
	const struct item *hit = NULL, *mine = NULL;
	for (size_t b = 0; !found && b < REGISTRY_BUCKETS; b++) {
		for (const struct item *it = buckets[b]; it; it = it->next) {
			if (it->e.cluster != cluster)
				continue;
			int score = thread_score(it, id, node);
			if (!score)
				continue;
			if (it->e.id == self) {
				mine = it;
				continue;
			}
			if (score > best) {
				best = score;
				hit = it;
				ties = 1;
			} else if (score == best) {
				ties++;
			}
		}
	}
	if (!found && hit && ties == 1) {
		fill(out, &hit->e);
		found = true;
	} else if (!found && !hit && mine) {
		fill(out, &mine->e);
		found = true;
	}
	if (found) {
		out->busy_node = out->ctl ? atomic_load(&out->ctl->busy_node) : -1;
		memset(out->threads, 0, sizeof(out->threads));
		for (int n = 0; out->ctl && n < out->ctl->n_nodes; n++)
			out->threads[n] =
				atomic_load_explicit(&out->ctl->threads[n], memory_order_relaxed);
		out->ctl = NULL; /* not for use outside the lock */
	}
	pthread_mutex_unlock(&lock);
	return found;
}
