/*
 * Tests for the parts of lib/embed.c, lib/http.c and lib/ecache.c that
 * need no server: Retry-After, the backoff and what is retried; URLs
 * without their user:password; the checks of an OpenAI or Ollama answer
 * (count, order, index, dimension, numbers) and the server's words in an
 * error body; model names and the URLs an embedder sends to; and the
 * embedding cache (round trip bit for bit, keys, damaged entries dropped,
 * the size cap).
 *
 * Expected results follow the headers (http.h, embed.h, ecache.h), not
 * what the code happened to print.  The answers to requests with a server
 * are tests/embed-http.sh's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "ecache.h"
#include "embed.h"
#include "http.h"
#include "test.h"

static char root[4096];

/* ---- Retry-After, backoff, what is retried ---- */

static double retry_after(const char *v)
{
	return rag_http_retry_after(v, (double)time(NULL));
}

/* An IMF-fixdate (RFC 9110) for the time now + delta. */
static void imf_date(char *buf, size_t size, long delta)
{
	time_t t = time(NULL) + delta;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void test_retry_after(void)
{
	char date[64];

	/* delay-seconds */
	CHECK(retry_after("0") == 0);
	CHECK(retry_after("7") == 7);
	CHECK(retry_after(" 12 ") == 12);
	CHECK(retry_after("12\r\n") == 12); /* as a header line ends */
	CHECK(retry_after("120") == 120);
	/* RFC 9110 has whole seconds only */
	CHECK(retry_after("1.5") == -1);
	CHECK(retry_after("0x10") == -1);
	CHECK(retry_after("1e3") == -1);
	/* the obsolete date forms a client must still read */
	CHECK(retry_after("Sunday, 06-Nov-94 08:49:37 GMT") == 0);
	CHECK(retry_after("Sun Nov  6 08:49:37 1994") == 0);
	/* an HTTP date: the seconds from now until then */
	imf_date(date, sizeof date, 30);
	CHECK_IN(retry_after(date), 25, 31);
	imf_date(date, sizeof date, 3600);
	CHECK_IN(retry_after(date), 3595, 3601);
	/* a date in the past: no wait at all */
	CHECK(retry_after("Sun, 06 Nov 1994 08:49:37 GMT") == 0);
	imf_date(date, sizeof date, -60);
	CHECK(retry_after(date) == 0);
	/* not a Retry-After value */
	CHECK(retry_after("soon") == -1);
	CHECK(retry_after("") == -1);
	CHECK(retry_after("   ") == -1);
	CHECK(retry_after("12abc") == -1);
	CHECK(retry_after("-5") == -1);
	CHECK(retry_after("Sun, 06 Nov 1994 08:49:37 PST") == -1);
	CHECK(retry_after("Sun, 06 Foo 1994 08:49:37 GMT") == -1);
}

static void test_backoff(void)
{
	rag_http_opts o;

	rag_http_opts_default(&o);
	CHECK_EQ(o.backoff_ms, 500);
	CHECK_EQ(o.backoff_max_ms, 30000);
	o.backoff_ms = 500;
	o.backoff_max_ms = 30000;
	/* the upper half of 500, 1000, ... doubling, at most 30000 */
	CHECK_EQ(rag_http_backoff(&o, 1, 0), 250);
	CHECK_IN(rag_http_backoff(&o, 1, 0.999999), 499, 500);
	CHECK_EQ(rag_http_backoff(&o, 2, 0), 500);
	CHECK_IN(rag_http_backoff(&o, 2, 0.999999), 999, 1000);
	CHECK_EQ(rag_http_backoff(&o, 3, 0), 1000);
	CHECK_EQ(rag_http_backoff(&o, 7, 0), 15000);
	CHECK_IN(rag_http_backoff(&o, 7, 0.999999), 29999, 30000);
	CHECK_EQ(rag_http_backoff(&o, 20, 0), 15000);
	CHECK_IN(rag_http_backoff(&o, 20, 0.999999), 29999, 30000);
	CHECK_IN(rag_http_backoff(&o, 1000, 0.5), 15000, 30000);
	/* every u in [0,1) lands in the range, and a larger u waits no less */
	for (int attempt = 1; attempt <= 20; attempt++) {
		double full = 500.0 * pow(2, attempt - 1);
		long prev = -1;
		int bad = 0;
		if (full > 30000)
			full = 30000;
		for (int i = 0; i < 100; i++) {
			long d = rag_http_backoff(&o, attempt, i / 100.0);
			if (d < full / 2 || d > full || d < prev)
				bad = 1;
			prev = d;
		}
		CHECK(!bad);
	}
}

static void test_retryable(void)
{
	CHECK(rag_http_status_retryable(408));
	CHECK(rag_http_status_retryable(429));
	CHECK(rag_http_status_retryable(500));
	CHECK(rag_http_status_retryable(502));
	CHECK(rag_http_status_retryable(503));
	CHECK(rag_http_status_retryable(599));
	CHECK(!rag_http_status_retryable(200));
	CHECK(!rag_http_status_retryable(204));
	CHECK(!rag_http_status_retryable(400));
	CHECK(!rag_http_status_retryable(401));
	CHECK(!rag_http_status_retryable(403));
	CHECK(!rag_http_status_retryable(404));
	CHECK(!rag_http_status_retryable(413));
	CHECK(!rag_http_status_retryable(600));
}

static void test_url_for_humans(void)
{
	char out[256];

	CHECK_STR(rag_http_url_for_humans("http://u:p@h:1/v1/", out, sizeof out), "http://h:1/v1/");
	CHECK_STR(rag_http_url_for_humans("https://user:s3cret@api.example.com/v1/embeddings", out,
					  sizeof out),
		  "https://api.example.com/v1/embeddings");
	CHECK_STR(rag_http_url_for_humans("http://user@h/x", out, sizeof out), "http://h/x");
	CHECK_STR(rag_http_url_for_humans("http://u:p@h", out, sizeof out), "http://h");
	/* nothing to remove */
	CHECK_STR(rag_http_url_for_humans("http://127.0.0.1:11434/api/embed", out, sizeof out),
		  "http://127.0.0.1:11434/api/embed");
	CHECK_STR(rag_http_url_for_humans("https://api.openai.com/v1/embeddings", out, sizeof out),
		  "https://api.openai.com/v1/embeddings");
	/* an '@' after the host is the path's, or the query's */
	CHECK_STR(rag_http_url_for_humans("http://h/users/@me/x", out, sizeof out),
		  "http://h/users/@me/x");
	CHECK_STR(rag_http_url_for_humans("http://h:8/a?to=x@y", out, sizeof out),
		  "http://h:8/a?to=x@y");
	CHECK_STR(rag_http_url_for_humans("http://u:p@h/users/@me", out, sizeof out),
		  "http://h/users/@me");
	/* a short buffer: cut, still a string, the password never in it */
	memset(out, 'x', sizeof out);
	rag_http_url_for_humans("http://u:p@host.example/v1", out, 12);
	CHECK_EQ(strlen(out), 11);
	CHECK(!strstr(out, "u:p"));
}

/* ---- answers ---- */

typedef int (*parse_fn)(const char *, size_t, size_t, size_t, float **, size_t *, rag_error *);

/* Parses body for n texts; the result, and when it failed, err's text. */
static int parse(parse_fn fn, const char *body, size_t n, size_t want_dim, float **out,
		 size_t *dim, rag_error *err)
{
	rag_error_clear(err);
	*dim = 0;
	return fn(body, strlen(body), n, want_dim, out, dim, err);
}

/* Checks that body fails for n texts with a message that contains phrase. */
static void bad_answer(int line, parse_fn fn, const char *body, size_t n, size_t want_dim,
		       const char *phrase)
{
	rag_error err;
	float *out = (float *)&err; /* must come back NULL */
	size_t dim;
	int k = parse(fn, body, n, want_dim, &out, &dim, &err);

	test_checks++;
	if (k != -1 || out != NULL || !strstr(err.text, phrase)) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: %s for %zu texts: got %d \"%s\", want -1 \"...%s...\"\n",
			__FILE__, line, test_current, body, n, k, err.text, phrase);
	}
	if (k == 0)
		free(out);
}

#define BAD_OPENAI(body, n, want, phrase) \
	bad_answer(__LINE__, rag_embed_parse_openai, body, n, want, phrase)
#define BAD_OLLAMA(body, n, want, phrase) \
	bad_answer(__LINE__, rag_embed_parse_ollama, body, n, want, phrase)

static void test_parse_openai(void)
{
	rag_error err;
	float *v = NULL;
	size_t dim = 0;

	/* a good answer, as OpenAI writes it */
	CHECK_EQ(parse(rag_embed_parse_openai,
		       "{\"object\":\"list\",\"data\":["
		       "{\"object\":\"embedding\",\"index\":0,\"embedding\":[0.5,-1,2]},"
		       "{\"object\":\"embedding\",\"index\":1,\"embedding\":[3,4.25,-0.125]}],"
		       "\"model\":\"m\",\"usage\":{\"prompt_tokens\":4,\"total_tokens\":4}}\n",
		       2, 0, &v, &dim, &err),
		 0);
	CHECK_EQ(dim, 3);
	if (v) {
		CHECK(v[0] == 0.5f && v[1] == -1 && v[2] == 2);
		CHECK(v[3] == 3 && v[4] == 4.25f && v[5] == -0.125f);
	}
	free(v);
	/* out of order with the right "index": in index order */
	CHECK_EQ(parse(rag_embed_parse_openai,
		       "{\"data\":[{\"index\":2,\"embedding\":[2,2]},{\"index\":0,\"embedding\":[0,0]},"
		       "{\"index\":1,\"embedding\":[1,1]}]}",
		       3, 2, &v, &dim, &err),
		 0);
	CHECK_EQ(dim, 2);
	if (v)
		CHECK(v[0] == 0 && v[1] == 0 && v[2] == 1 && v[3] == 1 && v[4] == 2 && v[5] == 2);
	free(v);
	/* no "index": the order of the array */
	CHECK_EQ(parse(rag_embed_parse_openai, "{\"data\":[{\"embedding\":[7]},{\"embedding\":[8]}]}",
		       2, 0, &v, &dim, &err),
		 0);
	CHECK_EQ(dim, 1);
	if (v)
		CHECK(v[0] == 7 && v[1] == 8);
	free(v);
	/* the largest float is a float; the float nearest a double is taken */
	CHECK_EQ(parse(rag_embed_parse_openai,
		       "{\"data\":[{\"index\":0,\"embedding\":[3.4028234e38,-3.4028234e38,0.1]}]}", 1,
		       3, &v, &dim, &err),
		 0);
	if (v)
		CHECK(v[0] == FLT_MAX && v[1] == -FLT_MAX && v[2] == 0.1f);
	free(v);

	/* the count */
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[1]},"
		   "{\"index\":2,\"embedding\":[1]}]}",
		   4, 0, "3 embeddings for 4 texts");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1,\"embedding\":[1]}]}", 1,
		   0, "2 embeddings for 1 texts");
	BAD_OPENAI("{\"data\":[]}", 2, 0, "0 embeddings for 2 texts");
	/* the index */
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":2,\"embedding\":[1]}]}", 2,
		   0, "index out of range");
	BAD_OPENAI("{\"data\":[{\"index\":-1,\"embedding\":[1]},{\"index\":0,\"embedding\":[1]}]}", 2,
		   0, "index out of range");
	BAD_OPENAI("{\"data\":[{\"index\":1,\"embedding\":[1]},{\"index\":1,\"embedding\":[2]}]}", 2,
		   0, "two embeddings with index 1");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":1.0,\"embedding\":[1]}]}",
		   2, 0, "not a whole number");
	BAD_OPENAI("{\"data\":[{\"index\":\"0\",\"embedding\":[1]}]}", 1, 0, "not a whole number");
	BAD_OPENAI("{\"data\":[{\"index\":null,\"embedding\":[1]}]}", 1, 0, "not a whole number");
	/* the embeddings */
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":\"AAAA\"}]}", 1, 0, "not an array");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":1,\"embedding\":{}}]}", 2,
		   0, "embedding 1 that is not an array");
	BAD_OPENAI("{\"data\":[{\"index\":0}]}", 1, 0, "not an array");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,2]},7]}", 2, 0,
		   "data item 1 that is not an object");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[]}]}", 1, 0, "an empty embedding");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,2,3]},{\"index\":1,\"embedding\":[1,2]}]}",
		   2, 0, "embeddings of 3 and 2 dimensions");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,2,3]},{\"index\":1,\"embedding\":[1,2,3]}]}",
		   2, 4, "embeddings of 3 dimensions, not the 4 asked for");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,2,3]},{\"index\":1,\"embedding\":[1,\"2\",3]}]}",
		   2, 0, "embedding 1 with a non-number at place 1");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,null]}]}", 1, 0, "non-number");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,1e39]}]}", 1, 0, "beyond a float");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[-1e39,1]}]}", 1, 0, "beyond a float");
	/* the answer itself */
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1,2]}", 1, 0, "an answer that is not JSON");
	BAD_OPENAI("", 1, 0, "an answer that is not JSON");
	BAD_OPENAI("<html>Bad Gateway</html>", 1, 0, "Bad Gateway");
	BAD_OPENAI("{\"data\":[{\"index\":0,\"embedding\":[1e999]}]}", 1, 0, "not JSON");
	BAD_OPENAI("[{\"index\":0,\"embedding\":[1]}]", 1, 0, "not a JSON object");
	BAD_OPENAI("{\"object\":\"list\"}", 1, 0, "without a \"data\" array");
	BAD_OPENAI("{\"data\":{\"index\":0,\"embedding\":[1]}}", 1, 0, "without a \"data\" array");
	BAD_OPENAI("{\"embeddings\":[[1]]}", 1, 0, "\"data\"");
}

static void test_parse_ollama(void)
{
	rag_error err;
	float *v = NULL;
	size_t dim = 0;

	CHECK_EQ(parse(rag_embed_parse_ollama,
		       "{\"model\":\"m\",\"embeddings\":[[0.25,-0.5],[1.5,2],[-3,0]],"
		       "\"total_duration\":1}\n",
		       3, 0, &v, &dim, &err),
		 0);
	CHECK_EQ(dim, 2);
	if (v)
		CHECK(v[0] == 0.25f && v[1] == -0.5f && v[2] == 1.5f && v[3] == 2 && v[4] == -3 &&
		      v[5] == 0);
	free(v);
	CHECK_EQ(parse(rag_embed_parse_ollama, "{\"embeddings\":[[1,2,3,4]]}", 1, 4, &v, &dim, &err),
		 0);
	CHECK_EQ(dim, 4);
	free(v);

	BAD_OLLAMA("{\"embeddings\":[[1],[2],[3]]}", 4, 0, "3 embeddings for 4 texts");
	BAD_OLLAMA("{\"embeddings\":[[1],[2],[3]]}", 2, 0, "3 embeddings for 2 texts");
	BAD_OLLAMA("{\"embeddings\":[[1,2],\"x\"]}", 2, 0, "embedding 1 that is not an array");
	BAD_OLLAMA("{\"embeddings\":[7,[1]]}", 2, 0, "not an array");
	BAD_OLLAMA("{\"embeddings\":[[]]}", 1, 0, "an empty embedding");
	BAD_OLLAMA("{\"embeddings\":[[1,2],[1,2,3]]}", 2, 0, "embeddings of 2 and 3 dimensions");
	BAD_OLLAMA("{\"embeddings\":[[1,2],[1,2]]}", 2, 3, "embeddings of 2 dimensions, not the 3 asked for");
	BAD_OLLAMA("{\"embeddings\":[[1,2],[1,\"2\"]]}", 2, 0, "embedding 1 with a non-number at place 1");
	BAD_OLLAMA("{\"embeddings\":[[1,true]]}", 1, 0, "non-number");
	BAD_OLLAMA("{\"embeddings\":[[1e39]]}", 1, 0, "beyond a float");
	BAD_OLLAMA("{\"embeddings\":[[1]", 1, 0, "an answer that is not JSON");
	BAD_OLLAMA("[[1]]", 1, 0, "not a JSON object");
	BAD_OLLAMA("{\"embedding\":[1]}", 1, 0, "without an \"embeddings\" array");
	BAD_OLLAMA("{\"data\":[{\"index\":0,\"embedding\":[1]}]}", 1, 0, "\"embeddings\"");
	BAD_OLLAMA("{\"embeddings\":null}", 1, 0, "\"embeddings\"");
}

#define SM(s) rag_embed_server_message(s, strlen(s))

static void test_server_message(void)
{
	char *m;
	const char *openai = "{\"error\":{\"message\":\"Incorrect API key provided: sk-...\","
			     "\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}";

	CHECK_STR(m = rag_embed_server_message(openai, strlen(openai)),
		  "Incorrect API key provided: sk-...");
	free(m);
	CHECK_STR(m = SM("{\"error\":\"model \\\"x\\\" not found\"}"),
		  "model \"x\" not found");
	free(m);
	CHECK_STR(m = SM("{\"message\":\"overloaded\"}\n"), "overloaded");
	free(m);
	/* an envelope without a message: the one at the top, when there is one */
	CHECK_STR(m = SM("{\"error\":{\"code\":1},\"message\":\"busy\"}"),
		  "busy");
	free(m);
	/* only the length given counts */
	CHECK_STR(m = rag_embed_server_message("{\"error\":\"cut\"}garbage", 15), "cut");
	free(m);
	CHECK(SM("{\"error\":{\"code\":1}}") == NULL);
	CHECK(SM("{\"detail\":\"no\"}") == NULL);
	CHECK(SM("{\"error\":42}") == NULL);
	CHECK(SM("<html><body>502 Bad Gateway</body></html>") == NULL);
	CHECK(SM("") == NULL);
	CHECK(SM("[\"error\"]") == NULL);
	CHECK(SM("\"error\"") == NULL);
}

/* ---- embedders ---- */

static rag_embed_opts opts(const char *model)
{
	rag_embed_opts o;

	memset(&o, 0, sizeof o);
	o.model = model;
	rag_http_opts_default(&o.http);
	return o;
}

/* Checks that the model name is refused as a usage error. */
static void bad_model(int line, const char *model)
{
	rag_embed_opts o = opts(model);
	rag_error err;
	rag_embedder *e;

	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	test_checks++;
	if (e || err.code != RAG_EUSAGE || !strstr(err.text, "model")) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: model \"%s\": got %s, code %d \"%s\"\n", __FILE__, line,
			test_current, model ? model : "(NULL)", e ? "an embedder" : "NULL", err.code,
			err.text);
	}
	rag_embedder_free(e);
}

/* The URL of an embedder made with o, copied to out ("" when it failed). */
static const char *url_of(rag_embed_opts *o, char *out, size_t size)
{
	rag_error err;
	rag_embedder *e = rag_embedder_new(o, &err);

	snprintf(out, size, "%s", e ? rag_embedder_url(e) : "");
	if (!e)
		fprintf(stderr, "  (%s: %s)\n", o->model, err.text);
	rag_embedder_free(e);
	return out;
}

static void test_models(void)
{
	rag_embed_opts o;
	rag_embedder *e;
	rag_error err;
	float v[512];
	double norm = 0;

	bad_model(__LINE__, "");
	bad_model(__LINE__, NULL);
	bad_model(__LINE__, "hash");
	bad_model(__LINE__, ":x");
	bad_model(__LINE__, "openai:");
	bad_model(__LINE__, "ollama:");
	bad_model(__LINE__, "builtin:");
	bad_model(__LINE__, "foo:bar");
	bad_model(__LINE__, "OpenAI:x");
	bad_model(__LINE__, "builtin:other");
	bad_model(__LINE__, "builtin:hash2");

	/* builtin:hash: 512 dimensions, or what --dim asks */
	o = opts("builtin:hash");
	e = rag_embedder_new(&o, &err);
	CHECK(e != NULL);
	if (e) {
		CHECK_EQ(rag_embedder_dim(e), 512);
		CHECK(rag_embedder_local(e));
		CHECK_STR(rag_embedder_model(e), "builtin:hash");
		CHECK_STR(rag_embedder_url(e), "");
		CHECK_EQ(rag_embedder_one(e, "the cat sat on the mat", 22, v, &err), 1);
		for (int i = 0; i < 512; i++)
			norm += (double)v[i] * v[i];
		CHECK_IN(norm, 1 - 1e-5, 1 + 1e-5);
		CHECK_EQ(rag_embedder_one(e, "!!! ...", 7, v, &err), 0);
		norm = 0;
		for (int i = 0; i < 512; i++)
			norm += fabs(v[i]);
		CHECK(norm == 0);
		CHECK_EQ(rag_embedder_pending(e), 0);
	}
	rag_embedder_free(e);
	o.dim = 16;
	e = rag_embedder_new(&o, &err);
	CHECK(e && rag_embedder_dim(e) == 16);
	rag_embedder_free(e);
	o.dim = 65536;
	e = rag_embedder_new(&o, &err);
	CHECK(e && rag_embedder_dim(e) == 65536);
	rag_embedder_free(e);
	o.dim = 65537;
	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	CHECK(e == NULL);
	CHECK_EQ(err.code, RAG_EUSAGE);
	CHECK_HAS(err.text, "65537");
	rag_embedder_free(e);
	o = opts("openai:text-embedding-3-small");
	o.dim = 65537;
	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	CHECK(e == NULL && err.code == RAG_EUSAGE);
	rag_embedder_free(e);
}

static void test_urls(void)
{
	rag_embed_opts o;
	rag_embedder *e;
	rag_error err;
	char url[512];

	/* OpenAI: base + /embeddings, without user:password */
	o = opts("openai:text-embedding-3-small");
	CHECK_STR(url_of(&o, url, sizeof url), "https://api.openai.com/v1/embeddings");
	o.openai_base = "";
	CHECK_STR(url_of(&o, url, sizeof url), "https://api.openai.com/v1/embeddings");
	o.openai_base = "http://u:p@h:1/v1/";
	CHECK_STR(url_of(&o, url, sizeof url), "http://h:1/v1/embeddings");
	o.openai_base = "http://127.0.0.1:8080/v1";
	CHECK_STR(url_of(&o, url, sizeof url), "http://127.0.0.1:8080/v1/embeddings");
	o.openai_base = "https://x.example//";
	CHECK_STR(url_of(&o, url, sizeof url), "https://x.example/embeddings");
	o.api_key = "sk-abc";
	e = rag_embedder_new(&o, &err);
	CHECK(e != NULL);
	if (e) {
		CHECK_STR(rag_embedder_model(e), "openai:text-embedding-3-small");
		CHECK(!rag_embedder_local(e));
		CHECK_EQ(rag_embedder_dim(e), 0); /* unknown until an answer */
		CHECK_EQ(rag_embedder_pending(e), 0);
		CHECK_EQ(rag_embedder_requests(e), 0);
		rag_embedder_set_dim(e, 8);
		CHECK_EQ(rag_embedder_dim(e), 8);
		rag_embedder_set_dim(e, 9); /* known: stays */
		CHECK_EQ(rag_embedder_dim(e), 8);
	}
	rag_embedder_free(e);
	/* a key with a line break would make a second header */
	o.api_key = "sk-abc\r\nX-Evil: 1";
	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	CHECK(e == NULL && err.code == RAG_EUSAGE);
	CHECK(!strstr(err.text, "sk-abc"));
	rag_embedder_free(e);
	o.api_key = NULL;
	/* another scheme */
	o.openai_base = "ftp://x";
	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	CHECK(e == NULL && err.code == RAG_EUSAGE);
	CHECK_HAS(err.text, "ftp://x");
	rag_embedder_free(e);
	o.openai_base = "ftp://u:pw@x/v1";
	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	CHECK(e == NULL && err.code == RAG_EUSAGE);
	CHECK(!strstr(err.text, "pw"));
	rag_embedder_free(e);
	o.openai_base = "api.example.com/v1";
	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	CHECK(e == NULL && err.code == RAG_EUSAGE);
	rag_embedder_free(e);

	/* Ollama: OLLAMA_HOST as "host[:port]", a scheme and a port added when missing */
	o = opts("ollama:nomic-embed-text");
	CHECK_STR(url_of(&o, url, sizeof url), "http://127.0.0.1:11434/api/embed");
	o.ollama_host = "";
	CHECK_STR(url_of(&o, url, sizeof url), "http://127.0.0.1:11434/api/embed");
	o.ollama_host = "127.0.0.1";
	CHECK_STR(url_of(&o, url, sizeof url), "http://127.0.0.1:11434/api/embed");
	o.ollama_host = "h:99";
	CHECK_STR(url_of(&o, url, sizeof url), "http://h:99/api/embed");
	o.ollama_host = "0.0.0.0:11434";
	CHECK_STR(url_of(&o, url, sizeof url), "http://0.0.0.0:11434/api/embed");
	o.ollama_host = "http://h:99";
	CHECK_STR(url_of(&o, url, sizeof url), "http://h:99/api/embed");
	o.ollama_host = "http://h:99/";
	CHECK_STR(url_of(&o, url, sizeof url), "http://h:99/api/embed");
	o.ollama_host = "[::1]";
	CHECK_STR(url_of(&o, url, sizeof url), "http://[::1]:11434/api/embed");
	o.ollama_host = "[::1]:5000";
	CHECK_STR(url_of(&o, url, sizeof url), "http://[::1]:5000/api/embed");
	o.ollama_host = "http://u:p@h:99";
	CHECK_STR(url_of(&o, url, sizeof url), "http://h:99/api/embed");
	/*
	 * A scheme without a port: the scheme is kept and the path is
	 * /api/embed.  (Which port is not asserted: Ollama itself takes 443
	 * for https:// and 80 for http://, ollama_base adds 11434.)
	 */
	o.ollama_host = "https://x.example/";
	url_of(&o, url, sizeof url);
	CHECK(!strncmp(url, "https://x.example", 17));
	CHECK(strlen(url) >= 10 && !strcmp(url + strlen(url) - 10, "/api/embed"));
	o.ollama_host = "ftp://x";
	rag_error_clear(&err);
	e = rag_embedder_new(&o, &err);
	CHECK(e == NULL && err.code == RAG_EUSAGE);
	CHECK_HAS(err.text, "ftp://");
	rag_embedder_free(e);
}

/* ---- the embedding cache ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

static void remove_tree(const char *path)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		fprintf(stderr, "cannot remove %s: %s\n", path, strerror(errno));
}

/* The file of a key in the cache directory dir. */
static void entry_file(const char *dir, const char *key, char *out, size_t size)
{
	snprintf(out, size, "%s/%.2s/%s", dir, key, key + 2);
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (long)st.st_size;
}

/* Sums the sizes of the regular files under a directory (nftw has no argument). */
static unsigned long long tree_bytes;
static unsigned long tree_files;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode)) {
		tree_bytes += (unsigned long long)st->st_size;
		tree_files++;
	}
	return 0;
}

/* Overwrites one byte of a file at off. */
static int poke(const char *path, long off, unsigned char byte)
{
	int fd = open(path, O_WRONLY);
	int ok = fd >= 0 && pwrite(fd, &byte, 1, off) == 1;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* Puts a vector of dim under key, then checks that a damage done by fn makes it a miss. */
#define URL "http://h/v1/embeddings"

static void damaged(int line, rag_ecache *c, const char *dir, const char *text,
		    int (*fn)(const char *path))
{
	float vec[8] = {1, 2, 3, 4, 5, 6, 7, 8}, *got = NULL;
	char key[RAG_ECACHE_KEY], path[4200];
	size_t dim = 0;
	rag_error err;
	int k;

	rag_ecache_key(c, URL, "openai:m", 0, text, strlen(text), key);
	entry_file(dir, key, path, sizeof path);
	if (rag_ecache_put(c, key, vec, 8, &err) < 0 || fn(path) < 0) {
		test_checks++;
		test_failures++;
		fprintf(stderr, "%s:%d: %s: cannot set up the damaged entry %s\n", __FILE__, line,
			test_current, path);
		return;
	}
	k = rag_ecache_get(c, key, &got, &dim, &err);
	test_checks++;
	if (k != 0 || got != NULL || access(path, F_OK) == 0) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: a damaged entry gave %d, %s, the file %s\n", __FILE__,
			line, test_current, k, got ? "a vector" : "no vector",
			access(path, F_OK) == 0 ? "still there" : "removed");
	}
	free(got);
	/* and it can be written again */
	got = NULL;
	k = rag_ecache_put(c, key, vec, 8, &err) == 0 ? rag_ecache_get(c, key, &got, &dim, &err) : -2;
	test_checks++;
	if (k != 1 || dim != 8 || memcmp(got, vec, sizeof vec)) {
		test_failures++;
		fprintf(stderr, "%s:%d: %s: the entry was not written again (%d)\n", __FILE__, line,
			test_current, k);
	}
	free(got);
}

static int cut_last_byte(const char *path)
{
	return truncate(path, file_size(path) - 1);
}

static int cut_to_head(const char *path)
{
	return truncate(path, 10);
}

static int empty_file(const char *path)
{
	return truncate(path, 0);
}

static int flip_data(const char *path)
{
	return poke(path, 16 + 4 * 5 + 1, 0x5a);
}

static int flip_crc(const char *path)
{
	return poke(path, 12, 0xff);
}

static int wrong_magic(const char *path)
{
	return poke(path, 6, '2'); /* "RAGEMB2\n" */
}

static int wrong_dim(const char *path)
{
	return poke(path, 8, 9);
}

static int too_long(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND);
	int ok = fd >= 0 && write(fd, "\0\0\0\0", 4) == 4;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static void test_ecache(void)
{
	char dir[4200], path[4300], key[RAG_ECACHE_KEY], key2[RAG_ECACHE_KEY];
	float vec[6], *got = NULL;
	size_t dim = 0;
	rag_error err;
	rag_ecache *c;
	struct stat st;

	snprintf(dir, sizeof dir, "%s/cache/ragkit/embed", root);
	c = rag_ecache_open(dir, 0, &err);
	CHECK(c != NULL);
	if (!c)
		return;
	/* made with its parents, private */
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 077) == 0);

	/* the key: 64 hex digits, the same for the same things */
	CHECK_EQ(rag_ecache_key(c, URL, "openai:m", 0, "some text", 9, key), 0);
	CHECK_EQ(strlen(key), 64);
	CHECK_EQ(strspn(key, "0123456789abcdef"), 64);
	CHECK_EQ(rag_ecache_key(c, URL, "openai:m", 0, "some text", 9, key2), 0);
	CHECK_STR(key, key2);
	/* and different when the model, the dimension or the text differs */
	rag_ecache_key(c, URL, "openai:n", 0, "some text", 9, key2);
	CHECK(strcmp(key, key2) != 0);
	rag_ecache_key(c, "http://other/v1/embeddings", "openai:m", 0, "some text", 9, key2);
	CHECK(strcmp(key, key2) != 0);
	rag_ecache_key(c, URL, "ollama:m", 0, "some text", 9, key2);
	CHECK(strcmp(key, key2) != 0);
	rag_ecache_key(c, URL, "openai:m", 8, "some text", 9, key2);
	CHECK(strcmp(key, key2) != 0);
	rag_ecache_key(c, URL, "openai:m", 0, "some texT", 9, key2);
	CHECK(strcmp(key, key2) != 0);
	rag_ecache_key(c, URL, "openai:m", 0, "some tex", 8, key2);
	CHECK(strcmp(key, key2) != 0);
	/* the parts do not run into each other */
	{
		char a[RAG_ECACHE_KEY], b[RAG_ECACHE_KEY];
		rag_ecache_key(c, URL, "openai:ab", 0, "c", 1, a);
		rag_ecache_key(c, URL, "openai:a", 0, "bc", 2, b);
		CHECK(strcmp(a, b) != 0);
		rag_ecache_key(c, URL, "openai:m", 1, "2x", 2, a);
		rag_ecache_key(c, URL, "openai:m", 12, "x", 1, b);
		CHECK(strcmp(a, b) != 0);
	}

	/* a miss */
	CHECK_EQ(rag_ecache_get(c, key, &got, &dim, &err), 0);
	CHECK(got == NULL);
	/* put, then get: the same floats bit for bit */
	vec[0] = 1.0f / 3;
	vec[1] = -0.0f;
	vec[2] = FLT_MIN / 4; /* subnormal */
	vec[3] = -FLT_MAX;
	vec[4] = 0.1f;
	vec[5] = -1e-30f;
	CHECK_EQ(rag_ecache_put(c, key, vec, 6, &err), 0);
	entry_file(dir, key, path, sizeof path);
	CHECK_EQ(file_size(path), 16 + 4 * 6);
	CHECK_EQ(rag_ecache_get(c, key, &got, &dim, &err), 1);
	CHECK_EQ(dim, 6);
	CHECK(got && memcmp(got, vec, sizeof vec) == 0);
	free(got);
	got = NULL;
	/* the file's layout, as ecache.h has it */
	{
		unsigned char b[40];
		FILE *f = fopen(path, "rb");
		size_t n = f ? fread(b, 1, sizeof b, f) : 0;
		uint32_t u;
		if (f)
			fclose(f);
		CHECK_EQ(n, 40);
		CHECK(!memcmp(b, "RAGEMB1\n", 8));
		CHECK(b[8] == 6 && b[9] == 0 && b[10] == 0 && b[11] == 0);
		memcpy(&u, &vec[0], 4);
		CHECK(b[16] == (u & 255) && b[19] == (u >> 24));
	}
	/* a second handle on the same directory sees it */
	{
		rag_ecache *c2 = rag_ecache_open(dir, 0, &err);
		CHECK(c2 != NULL);
		if (c2) {
			CHECK_EQ(rag_ecache_get(c2, key, &got, &dim, &err), 1);
			CHECK(got && memcmp(got, vec, sizeof vec) == 0);
			free(got);
			got = NULL;
		}
		rag_ecache_close(c2);
	}
	/* another key for the same text is still a miss */
	rag_ecache_key(c, URL, "openai:m", 6, "some text", 9, key2);
	CHECK_EQ(rag_ecache_get(c, key2, &got, &dim, &err), 0);
	CHECK(got == NULL);

	/* damaged entries: a miss, the file removed, and it can be written again */
	damaged(__LINE__, c, dir, "cut by one byte", cut_last_byte);
	damaged(__LINE__, c, dir, "cut inside the head", cut_to_head);
	damaged(__LINE__, c, dir, "an empty file", empty_file);
	damaged(__LINE__, c, dir, "a flipped byte in the data", flip_data);
	damaged(__LINE__, c, dir, "a flipped byte in the checksum", flip_crc);
	damaged(__LINE__, c, dir, "a wrong magic", wrong_magic);
	damaged(__LINE__, c, dir, "a wrong dimension", wrong_dim);
	damaged(__LINE__, c, dir, "bytes after the vector", too_long);
	rag_ecache_close(c);

	/* not a directory */
	snprintf(path, sizeof path, "%s/plain-file", root);
	{
		FILE *f = fopen(path, "w");
		if (f)
			fclose(f);
	}
	rag_error_clear(&err);
	c = rag_ecache_open(path, 0, &err);
	CHECK(c == NULL);
	CHECK(err.code != RAG_OK && err.text[0]);
	CHECK_HAS(err.text, "not a directory");
	rag_ecache_close(c);
	snprintf(path, sizeof path, "%s/plain-file/sub", root);
	rag_error_clear(&err);
	c = rag_ecache_open(path, 0, &err);
	CHECK(c == NULL);
	CHECK(err.code == RAG_EIO && err.text[0]);
	rag_ecache_close(c);
}

static void test_ecache_cap(void)
{
	const unsigned long long cap = 256 * 1024;
	char dir[4200], key[RAG_ECACHE_KEY], text[64];
	float vec[64];
	rag_error err;
	rag_ecache *c;
	int failed = 0;

	snprintf(dir, sizeof dir, "%s/capped", root);
	c = rag_ecache_open(dir, cap, &err);
	CHECK(c != NULL);
	if (!c)
		return;
	for (int i = 0; i < 3000; i++) {
		int n = snprintf(text, sizeof text, "cap text %d", i);
		for (int j = 0; j < 64; j++)
			vec[j] = (float)(i * 64 + j);
		if (rag_ecache_key(c, URL, "openai:m", 64, text, (size_t)n, key) < 0 ||
		    rag_ecache_put(c, key, vec, 64, &err) < 0)
			failed++;
	}
	CHECK_EQ(failed, 0);
	CHECK(rag_ecache_evicted(c) > 0);
	tree_bytes = 0;
	tree_files = 0;
	CHECK_EQ(nftw(dir, add_size, 16, FTW_PHYS), 0);
	/* 272 bytes an entry; within the cap and the slack of two entries a subdirectory */
	CHECK_EQ(tree_bytes, (unsigned long long)tree_files * 272);
	CHECK_IN((double)tree_bytes, cap / 4, cap + 256 * 2 * 272);
	CHECK_EQ(tree_files + rag_ecache_evicted(c), 3000);
	/* what is still there is whole */
	{
		float *got = NULL;
		size_t dim = 0;
		int hits = 0, wrong = 0;
		for (int i = 0; i < 3000; i++) {
			int n = snprintf(text, sizeof text, "cap text %d", i);
			rag_ecache_key(c, URL, "openai:m", 64, text, (size_t)n, key);
			if (rag_ecache_get(c, key, &got, &dim, &err) == 1) {
				hits++;
				if (dim != 64 || got[0] != (float)(i * 64) || got[63] != (float)(i * 64 + 63))
					wrong++;
			}
			free(got);
			got = NULL;
		}
		CHECK_EQ(hits, tree_files);
		CHECK_EQ(wrong, 0);
	}
	rag_ecache_close(c);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(root, sizeof root, "%s/test_embed.XXXXXX", tmp);
	if (!mkdtemp(root)) {
		fprintf(stderr, "mkdtemp %s: %s\n", root, strerror(errno));
		return 1;
	}
	RUN(test_retry_after);
	RUN(test_backoff);
	RUN(test_retryable);
	RUN(test_url_for_humans);
	RUN(test_parse_openai);
	RUN(test_parse_ollama);
	RUN(test_server_message);
	RUN(test_models);
	RUN(test_urls);
	RUN(test_ecache);
	RUN(test_ecache_cap);
	remove_tree(root);
	return test_summary();
}
