/*
 * Unit tests for demo/stats_client.c's pure parts: the URL checks of
 * stats_client_create(), the HTTP answer (status, chunked body), and the
 * reading of a /api/v1/status document shaped like src/stats_render.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stats_client.h"

static const char status_doc[] =
	"{\"version\":\"0.1.0\",\"clusters\":["
	"{\"name\":\"other\",\"type\":\"galera\",\"writer\":\"x1\",\"nodes\":["
	"{\"name\":\"x1\",\"state\":\"up\",\"role\":\"writer\"}],\"failovers\":[]},"
	"{\"name\":\"demo\",\"type\":\"galera\",\"writer\":\"node2\",\"nodes\":["
	"{\"name\":\"node1\",\"address\":\"127.0.0.1:1\",\"state\":\"down\",\"role\":\"reader\","
	"\"counters\":{\"reads\":5},\"galera\":null},"
	"{\"name\":\"node2\",\"state\":\"up\",\"role\":\"writer\"},"
	"{\"name\":\"node3\",\"state\":\"drain\",\"role\":\"reader\"}],\"failovers\":[]}],"
	"\"listeners\":[{\"name\":\"rw\",\"bind\":\"127.0.0.1:3309\",\"mode\":\"tcp\","
	"\"cluster\":\"other\"},{\"name\":\"app\",\"bind\":\"0.0.0.0:3309\",\"mode\":\"mysql\","
	"\"cluster\":\"demo\"}]}";

static void test_parse_status(void)
{
	struct stats_status st;

	CHECK(stats_parse_status(status_doc, strlen(status_doc), 3309, &st));
	CHECK(st.ok);
	CHECK_EQ_STR(st.cluster, "demo");
	CHECK_EQ_STR(st.writer, "node2");
	CHECK_EQ_INT(st.n_nodes, 3);
	CHECK_EQ_STR(st.nodes[0].name, "node1");
	CHECK_EQ_STR(st.nodes[0].state, "down");
	CHECK_EQ_STR(st.nodes[2].state, "drain");
	CHECK_EQ_STR(st.nodes[1].role, "writer");

	/* No listener on the port: the first cluster. */
	CHECK(stats_parse_status(status_doc, strlen(status_doc), 9999, &st));
	CHECK_EQ_STR(st.cluster, "other");

	CHECK(!stats_parse_status("{\"clusters\":[]}", 15, 1, &st));
	CHECK(!st.ok);
	CHECK_STR_CONTAINS(st.error, "no cluster");
	CHECK(!stats_parse_status("<html>", 6, 1, &st));
	CHECK_STR_CONTAINS(st.error, "not JSON");

	/* A cluster without a writer. */
	static const char no_writer[] = "{\"clusters\":[{\"name\":\"c\",\"writer\":null,"
					"\"nodes\":[]}]}";
	CHECK(stats_parse_status(no_writer, sizeof(no_writer) - 1, 1, &st));
	CHECK_EQ_STR(st.writer, "");
}

static void test_http_body(void)
{
	static const char plain[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
				      "3\r\n{\"a\r\n4;ext=1\r\n\":1}\r\n0\r\n\r\n";
	static const char cut[] = "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n"
				  "10\r\nabc";
	static const char notfound[] = "HTTP/1.1 404 Not Found\r\n\r\nnope";
	char err[128];
	size_t len;
	char *body;

	body = stats_http_body(plain, sizeof(plain) - 1, &len, err, sizeof(err));
	if (CHECK(body))
		CHECK_EQ_STR(body, "{}");
	free(body);
	body = stats_http_body(chunked, sizeof(chunked) - 1, &len, err, sizeof(err));
	if (CHECK(body)) {
		CHECK_EQ_STR(body, "{\"a\":1}");
		CHECK_EQ_INT(len, 7);
	}
	free(body);
	CHECK(!stats_http_body(cut, sizeof(cut) - 1, &len, err, sizeof(err)));
	CHECK_STR_CONTAINS(err, "chunked");
	CHECK(!stats_http_body(notfound, sizeof(notfound) - 1, &len, err, sizeof(err)));
	CHECK_STR_CONTAINS(err, "HTTP 404");
	CHECK(!stats_http_body("SSH-2.0", 7, &len, err, sizeof(err)));
	CHECK_STR_CONTAINS(err, "not HTTP");
}

static void test_urls(void)
{
	static const char *const good[] = {"http://127.0.0.1:8404", "http://127.0.0.1:8404/",
					   "http://sluice", "http://[::1]:8404/prefix/"};
	static const char *const bad[] = {
		"https://x",	  "127.0.0.1:8404", "http://",	   "http://:80",   "http://h:0",
		"http://h:99999", "http://h:80x",   "http://[::1", "http://h/a b", "http://h/?q"};
	char err[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct stats_client *sc;

		check_case("%s", good[i]);
		sc = stats_client_create(good[i], 3309, err, sizeof(err));
		CHECK(sc != NULL);
		if (sc)
			CHECK_EQ_STR(stats_client_url(sc), good[i]);
		stats_client_destroy(sc);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct stats_client *sc;

		check_case("%s", bad[i]);
		err[0] = '\0';
		sc = stats_client_create(bad[i], 3309, err, sizeof(err));
		CHECK(sc == NULL);
		CHECK_STR_CONTAINS(err, "--stats-url");
		stats_client_destroy(sc);
	}
}

static void test_unreachable(void)
{
	/* Port 1 on loopback: refused at once; the error is cached, and says why. */
	char err[256];
	struct stats_client *sc = stats_client_create("http://127.0.0.1:1", 3309, err, sizeof(err));
	const struct stats_status *st;

	if (!CHECK(sc))
		return;
	st = stats_client_get(sc);
	CHECK(!st->ok);
	CHECK_STR_CONTAINS(st->error, "127.0.0.1:1");
	CHECK(stats_client_get(sc) == st);
	stats_client_destroy(sc);
}

int main(void)
{
	static const struct check_test tests[] = {
		{"parse status", test_parse_status},
		{"http body", test_http_body},
		{"urls", test_urls},
		{"unreachable", test_unreachable},
	};
	return CHECK_RUN(tests);
}
