/*
 * The head of every session: its prelude and teardown. See session.h.
 */
#include "session/session.h"

#include <stdio.h>
#include <unistd.h>

#include "config/config.h"
#include "net/listener.h"
#include "net/net.h"
#include "net/pipe.h"

bool session_open(struct session *h, struct worker *w, struct listener *l, int fd,
		  const struct sockaddr *peer, const char *suffix,
		  void (*destroy)(struct worker_session *ws),
		  void (*reconfigure)(struct worker_session *ws, const struct config *cfg))
{
	char addr[64];

	h->w = w;
	h->l = l;
	h->env = worker_env(w);
	session_reconfigure(h, worker_config(w));
	h->ws.destroy = destroy;
	h->ws.reconfigure = reconfigure;
	h->ws.maintenance_began = NULL; /* the kind sets it if it wants it */
	h->id = (uint32_t)atomic_fetch_add(&h->env->next_session_id, 1);
	h->bound = worker_config(w)->buffer_size;
	snprintf(h->tag, sizeof(h->tag), "C-%u %s@%s%s", h->id, h->lc->name,
		 config_addr_str(peer, addr, sizeof(addr)), suffix);
	net_tune_stream(fd);
	h->client = pipe_new(worker_base(w), worker_ring(w), fd);
	if (!h->client) {
		close(fd);
		return false;
	}
	return true;
}

void session_reconfigure(struct session *h, const struct config *cfg)
{
	h->lc = &cfg->listeners[listener_index(h->l)];
	h->cluster = h->lc->cluster_index;
	h->cc = &cfg->clusters[h->cluster];
}

void session_release(struct session *h)
{
	pipe_free(h->client);
	h->client = NULL;
	listener_session_ended(h->l);
}
