/*
 * HTML and URL escaping into libevent buffers. Runs of harmless bytes are
 * copied in one evbuffer_add() so escaping a long name costs little.
 */
#include "html.h"

#include <event2/buffer.h>
#include <string.h>

void html_text_n(struct evbuffer *out, const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		const char *ref;

		switch (s[i]) {
		case '&':
			ref = "&amp;";
			break;
		case '<':
			ref = "&lt;";
			break;
		case '>':
			ref = "&gt;";
			break;
		case '"':
			ref = "&quot;";
			break;
		case '\'':
			ref = "&#39;";
			break;
		default:
			continue;
		}
		evbuffer_add(out, s + run, i - run);
		evbuffer_add(out, ref, strlen(ref));
		run = i + 1;
	}
	evbuffer_add(out, s + run, len - run);
}

void html_text(struct evbuffer *out, const char *s)
{
	html_text_n(out, s, strlen(s));
}

void html_url_param(struct evbuffer *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			evbuffer_add(out, p, 1);
		} else {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			evbuffer_add(out, esc, 3);
		}
	}
}
