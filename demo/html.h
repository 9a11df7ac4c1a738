/*
 * Writing HTML safely: every piece of text that did not come from this
 * program's own string literals goes through html_text() (element content and
 * quoted attribute values alike) or html_url_param() (a value inside a link's
 * query string, which is then also safe in an attribute).
 */
#ifndef SLUICE_DEMO_HTML_H
#define SLUICE_DEMO_HTML_H

#include <stddef.h>

struct evbuffer;

/* Append `s` with & < > " ' replaced by character references. */
void html_text(struct evbuffer *out, const char *s);
/* The same for s[0..len), which may hold any bytes but NUL. */
void html_text_n(struct evbuffer *out, const char *s, size_t len);
/* Append `s` percent-encoded for a URL query value: everything but
 * A-Z a-z 0-9 - . _ ~ becomes %XX, so the result needs no HTML escaping. */
void html_url_param(struct evbuffer *out, const char *s);

#endif
