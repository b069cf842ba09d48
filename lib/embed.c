/*
 * embed.c - the embedding providers: request bodies, answers, checks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "embed.h"
#include "conf.h"
#include "hashembed.h"
#include "json.h"
#include "text.h"

enum { P_BUILTIN, P_OPENAI, P_OLLAMA };

struct rag_embedder {
	int provider;
	char *model;      /* the full name */
	const char *name; /* the part after "provider:" */
	size_t want_dim;  /* asked for; 0 none */
	size_t dim;       /* known so far */
	char *url;
	char *shown_url;
	char *auth;       /* "Authorization: Bearer KEY", or NULL */
	const char *key;  /* the KEY in auth */
	rag_http *http;
	rag_hashembed *hash;
	size_t pending;
	unsigned long requests;
	void (*user_free)(void *);
};

/* A request's own record of what it asked. */
typedef struct batch {
	rag_embedder *e;
	void *user;
	size_t n;
} batch;

/* A batch dropped with its request. */
static void batch_drop(void *p)
{
	batch *b = p;

	if (b->e->user_free && b->user)
		b->e->user_free(b->user);
	free(b);
}

/* Frees a string that held the key, wiped first (a store the compiler cannot drop). */
static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void rag_embedder_free(rag_embedder *e)
{
	if (!e)
		return;
	rag_http_free(e->http); /* batches still queued go with their requests */
	rag_hashembed_free(e->hash);
	free(e->model);
	free(e->url);
	free(e->shown_url);
	wipe_free(e->auth);
	free(e);
}

/* base without trailing slashes, then path.  NULL when memory runs out. */
static char *join_url(const char *base, const char *path)
{
	size_t n = strlen(base);
	char *u;

	while (n && base[n - 1] == '/')
		n--;
	if (!(u = malloc(n + strlen(path) + 1)))
		return NULL;
	memcpy(u, base, n);
	strcpy(u + n, path);
	return u;
}

/*
 * OLLAMA_HOST as Ollama's own client reads it: "host", "host:port" or
 * "scheme://host[:port][/path]"; without a scheme it is http and the port
 * 11434, with one the scheme's own port (80, 443).
 */
static char *ollama_base(const char *host)
{
	const char *sep = strstr(host, "://");
	const char *rest = sep ? sep + 3 : host;
	size_t hostlen = strcspn(rest, "/");
	const char *port = ":11434";
	char *u;

	if (sep)
		port = !strncmp(host, "https://", 8) ? ":443" : ":80";
	{
		/* a port: a ':' after the host name (or after the "]" of an IPv6 address) */
		const char *close = memchr(rest, ']', hostlen);
		const char *from = close ? close : rest;
		if (memchr(from, ':', hostlen - (size_t)(from - rest)))
			port = "";
	}
	if (!(u = malloc(strlen(host) + 16)))
		return NULL;
	sprintf(u, "%s%.*s%s%s", sep ? "" : "http://", (int)(rest - host + hostlen), host, port,
		rest + hostlen);
	return u;
}

char *rag_provider_url(int ollama, const char *where, const char *path, rag_error *err)
{
	char *base = NULL, *url;

	if (ollama && !(base = ollama_base(where && *where ? where : RAG_EMBED_OLLAMA_HOST)))
		goto nomem;
	url = join_url(base ? base : where && *where ? where : RAG_EMBED_OPENAI_BASE, path);
	free(base);
	if (!url)
		goto nomem;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		char shown[512];
		rag_error_set(err, RAG_EUSAGE, NULL, 0, "the URL %s is neither http:// nor https://",
			      rag_quote(0, rag_http_url_for_humans(url, shown, sizeof shown)));
		free(url);
		return NULL;
	}
	return url;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return NULL;
}

rag_embedder *rag_embedder_new(const rag_embed_opts *o, rag_error *err)
{
	rag_embedder *e = calloc(1, sizeof *e);
	const char *colon;
	size_t ulen;

	if (!e)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	if (!o->model || !(colon = strchr(o->model, ':')) || colon == o->model || !colon[1]) {
		rag_error_set(err, RAG_EUSAGE, NULL, 0,
			      "model %s is not PROVIDER:MODEL (builtin:hash, openai:NAME, ollama:NAME)",
			      rag_quote(0, o->model ? o->model : ""));
		goto fail;
	}
	if (!(e->model = strdup(o->model)))
		goto nomem;
	e->name = e->model + (colon - o->model) + 1;
	if (o->dim > RAG_EMBED_DIM_MAX) {
		rag_error_set(err, RAG_EUSAGE, NULL, 0, "the dimension must be 1 to %d, not %zu",
			      RAG_EMBED_DIM_MAX, o->dim);
		goto fail;
	}
	e->want_dim = o->dim;
	if (!strncmp(o->model, "builtin:", 8)) {
		e->provider = P_BUILTIN;
		if (strcmp(e->name, "hash")) {
			rag_error_set(err, RAG_EUSAGE, NULL, 0,
				      "unknown built-in model %s (there is builtin:hash)",
				      rag_quote(0, o->model));
			goto fail;
		}
		e->dim = o->dim ? o->dim : RAG_EMBED_DEFAULT_DIM;
		if (!(e->hash = rag_hashembed_new(e->dim, err)))
			goto fail;
		if (!(e->url = strdup("")) || !(e->shown_url = strdup("")))
			goto nomem;
		return e;
	}
	if (!strncmp(o->model, "openai:", 7))
		e->provider = P_OPENAI;
	else if (!strncmp(o->model, "ollama:", 7))
		e->provider = P_OLLAMA;
	else {
		rag_error_set(err, RAG_EUSAGE, NULL, 0,
			      "unknown provider in model %s (there are builtin, openai and ollama)",
			      rag_quote(0, o->model));
		goto fail;
	}
	e->url = e->provider == P_OPENAI
			 ? rag_provider_url(0, o->openai_base, "/embeddings", err)
			 : rag_provider_url(1, o->ollama_host, "/api/embed", err);
	if (!e->url)
		goto fail;
	ulen = strlen(e->url) + 1;
	if (!(e->shown_url = malloc(ulen)))
		goto nomem;
	rag_http_url_for_humans(e->url, e->shown_url, ulen);
	if (o->api_key && *o->api_key) {
		if (strpbrk(o->api_key, "\r\n")) {
			rag_error_set(err, RAG_EUSAGE, NULL, 0, "the API key has a line break in it");
			goto fail;
		}
		if (!(e->auth = malloc(strlen(o->api_key) + 32)))
			goto nomem;
		sprintf(e->auth, "Authorization: Bearer %s", o->api_key);
		e->key = e->auth + strlen("Authorization: Bearer ");
	}
	if (!(e->http = rag_http_new(&o->http, err)))
		goto fail;
	rag_http_set_user_free(e->http, batch_drop);
	return e;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
fail:
	rag_embedder_free(e);
	return NULL;
}

void rag_embedder_set_dim(rag_embedder *e, size_t dim)
{
	if (!e->dim)
		e->dim = dim;
}

void rag_embedder_set_user_free(rag_embedder *e, void (*fn)(void *))
{
	e->user_free = fn;
}

const char *rag_embedder_model(const rag_embedder *e)
{
	return e->model;
}

int rag_embedder_local(const rag_embedder *e)
{
	return e->provider == P_BUILTIN;
}

size_t rag_embedder_dim(const rag_embedder *e)
{
	return e->dim;
}

const char *rag_embedder_url(const rag_embedder *e)
{
	return e->shown_url;
}

size_t rag_embedder_pending(const rag_embedder *e)
{
	return e->pending;
}

unsigned long rag_embedder_requests(const rag_embedder *e)
{
	return e->requests;
}

int rag_embedder_one(rag_embedder *e, const char *text, size_t n, float *out, rag_error *err)
{
	int k = rag_hashembed_text(e->hash, text, n, out, err);

	if (k > 0)
		rag_hashembed_round(out, e->dim);
	return k;
}

int rag_embedder_submit(rag_embedder *e, const char *const *texts, const size_t *lens, size_t n,
			void *user, rag_error *err)
{
	rag_buf body;
	batch *b = NULL;
	const char *headers[3] = {"Content-Type: application/json", e->auth, NULL};

	rag_buf_init(&body, 0);
	if (!(b = malloc(sizeof *b)))
		goto nomem;
	b->e = e;
	b->user = user;
	b->n = n;
	if (rag_buf_adds(&body, "{\"model\":") < 0 || rag_json_add_string(&body, e->name, strlen(e->name)) < 0 ||
	    rag_buf_adds(&body, ",\"input\":[") < 0)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if ((i && rag_buf_addc(&body, ',') < 0) ||
		    rag_json_add_string(&body, texts[i], lens[i]) < 0)
			goto nomem;
	if (rag_buf_addc(&body, ']') < 0)
		goto nomem;
	if (e->provider == P_OPENAI && rag_buf_adds(&body, ",\"encoding_format\":\"float\"") < 0)
		goto nomem;
	if (e->want_dim && rag_buf_addf(&body, ",\"dimensions\":%zu", e->want_dim) < 0)
		goto nomem;
	if (rag_buf_addc(&body, '}') < 0)
		goto nomem;
	if (!rag_http_post(e->http, e->url, headers, body.data, body.len, b, err))
		goto fail;
	e->pending++;
	rag_buf_free(&body);
	return 0;
nomem:
	rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
fail:
	free(b);
	rag_buf_free(&body);
	return -1;
}

/* A printable excerpt of a body for a message. */
static const char *excerpt(int slot, const char *body, size_t len)
{
	char tmp[200];
	size_t n = len < sizeof tmp - 1 ? len : sizeof tmp - 1;

	memcpy(tmp, body, n);
	tmp[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!tmp[i])
			tmp[i] = ' ';
	return n ? rag_quote(slot, tmp) : "an empty body";
}

char *rag_embed_server_message(const char *body, size_t len)
{
	rag_error perr;
	json_t *v = rag_json_parse(body, len, &perr), *m;
	char *out = NULL;

	if (!v)
		return NULL;
	m = json_object_get(v, "error");
	if (json_is_object(m))
		m = json_object_get(m, "message");
	if (!json_is_string(m))
		m = json_object_get(v, "message"); /* some servers put it at the top */
	if (json_is_string(m))
		out = strdup(json_string_value(m));
	json_decref(v);
	return out;
}

/* Copies one embedding (a JSON array) into out[0..dim).  0, or -1 with err's text set. */
static int take_vector(const json_t *a, size_t which, size_t *dim, float *out, rag_error *err)
{
	size_t k = json_array_size(a);

	if (!json_is_array(a))
		return rag_error_set(err, RAG_EDATA, NULL, 0, "embedding %zu that is not an array", which);
	if (k != *dim)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "embeddings of %zu and %zu dimensions in one answer", *dim, k);
	for (size_t j = 0; j < k; j++) {
		const json_t *x = json_array_get(a, j);
		double d;
		if (!json_is_number(x))
			return rag_error_set(err, RAG_EDATA, NULL, 0,
					     "embedding %zu with a non-number at place %zu", which, j);
		d = json_number_value(x);
		if (!isfinite(d) || fabs(d) > FLT_MAX)
			return rag_error_set(err, RAG_EDATA, NULL, 0,
					     "embedding %zu with %g at place %zu, beyond a float",
					     which, d, j);
		out[j] = (float)d;
	}
	return 0;
}

/* The dimension of the first embedding, checked against want_dim.  0 or -1. */
static int first_dim(const json_t *a, size_t want_dim, size_t *dim, rag_error *err)
{
	if (!json_is_array(a))
		return rag_error_set(err, RAG_EDATA, NULL, 0, "embedding 0 that is not an array");
	*dim = json_array_size(a);
	if (!*dim)
		return rag_error_set(err, RAG_EDATA, NULL, 0, "an empty embedding");
	if (*dim > RAG_EMBED_DIM_MAX)
		return rag_error_set(err, RAG_EDATA, NULL, 0, "an embedding of %zu dimensions",
				     *dim);
	if (want_dim && *dim != want_dim)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "embeddings of %zu dimensions, not the %zu asked for", *dim,
				     want_dim);
	return 0;
}

static json_t *parse_answer(const char *body, size_t len, rag_error *err)
{
	rag_error perr;
	json_t *v = rag_json_parse(body, len, &perr);

	if (!v)
		rag_error_set(err, RAG_EDATA, NULL, 0, "an answer that is not JSON (%s): %s",
			      perr.text, excerpt(0, body, len));
	else if (!json_is_object(v)) {
		rag_error_set(err, RAG_EDATA, NULL, 0, "an answer that is not a JSON object: %s",
			      excerpt(0, body, len));
		json_decref(v);
		v = NULL;
	}
	return v;
}

int rag_embed_parse_openai(const char *body, size_t len, size_t n, size_t want_dim,
			   float **out, size_t *dim, rag_error *err)
{
	json_t *v = parse_answer(body, len, err), *data;
	unsigned char *seen = NULL;
	float *vecs = NULL;
	size_t i;

	*out = NULL;
	if (!v)
		return -1;
	data = json_object_get(v, "data");
	if (!json_is_array(data)) {
		rag_error_set(err, RAG_EDATA, NULL, 0, "an answer without a \"data\" array: %s",
			      excerpt(0, body, len));
		goto fail;
	}
	if (json_array_size(data) != n) {
		rag_error_set(err, RAG_EDATA, NULL, 0, "%zu embeddings for %zu texts",
			      json_array_size(data), n);
		goto fail;
	}
	if (!n)
		goto done;
	if (first_dim(json_object_get(json_array_get(data, 0), "embedding"), want_dim, dim, err) < 0)
		goto fail;
	if (!(vecs = malloc(n * *dim * sizeof *vecs)) || !(seen = calloc(n, 1))) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		goto fail;
	}
	for (i = 0; i < n; i++) {
		json_t *item = json_array_get(data, i), *idx = json_object_get(item, "index");
		json_int_t k;
		if (!json_is_object(item)) {
			rag_error_set(err, RAG_EDATA, NULL, 0, "data item %zu that is not an object", i);
			goto fail;
		}
		/* the order is the "index" of each item, where there is one */
		k = idx ? (json_is_integer(idx) ? json_integer_value(idx) : -1) : (json_int_t)i;
		if (k < 0 || (size_t)k >= n) {
			rag_error_set(err, RAG_EDATA, NULL, 0,
				      "data item %zu with an index %s for %zu texts", i,
				      json_is_integer(idx) ? "out of range" : "that is not a whole number",
				      n);
			goto fail;
		}
		if (seen[k]++) {
			rag_error_set(err, RAG_EDATA, NULL, 0, "two embeddings with index %lld",
				      (long long)k);
			goto fail;
		}
		if (take_vector(json_object_get(item, "embedding"), (size_t)k, dim,
				vecs + (size_t)k * *dim, err) < 0)
			goto fail;
	}
done:
	free(seen);
	json_decref(v);
	*out = vecs;
	return 0;
fail:
	free(seen);
	free(vecs);
	json_decref(v);
	return -1;
}

int rag_embed_parse_ollama(const char *body, size_t len, size_t n, size_t want_dim,
			   float **out, size_t *dim, rag_error *err)
{
	json_t *v = parse_answer(body, len, err), *embs;
	float *vecs = NULL;

	*out = NULL;
	if (!v)
		return -1;
	embs = json_object_get(v, "embeddings");
	if (!json_is_array(embs)) {
		rag_error_set(err, RAG_EDATA, NULL, 0,
			      "an answer without an \"embeddings\" array: %s", excerpt(0, body, len));
		goto fail;
	}
	if (json_array_size(embs) != n) {
		rag_error_set(err, RAG_EDATA, NULL, 0, "%zu embeddings for %zu texts",
			      json_array_size(embs), n);
		goto fail;
	}
	if (n) {
		if (first_dim(json_array_get(embs, 0), want_dim, dim, err) < 0)
			goto fail;
		if (!(vecs = malloc(n * *dim * sizeof *vecs))) {
			rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < n; i++)
			if (take_vector(json_array_get(embs, i), i, dim, vecs + i * *dim, err) < 0)
				goto fail;
	}
	json_decref(v);
	*out = vecs;
	return 0;
fail:
	free(vecs);
	json_decref(v);
	return -1;
}

const char *rag_without_key(const char *body, size_t *len, const char *key, char **own)
{
	size_t kl = key ? strlen(key) : 0;
	const char *p = body, *end = body + *len, *hit;
	rag_buf b;

	*own = NULL;
	if (!kl || !memmem(body, *len, key, kl))
		return body;
	rag_buf_init(&b, 0);
	if (rag_buf_add(&b, "", 0) < 0)
		return NULL;
	while ((hit = memmem(p, (size_t)(end - p), key, kl))) {
		if (rag_buf_add(&b, p, (size_t)(hit - p)) < 0 || rag_buf_add(&b, "[key]", 5) < 0)
			goto nomem;
		p = hit + kl;
	}
	if (rag_buf_add(&b, p, (size_t)(end - p)) < 0)
		goto nomem;
	*len = b.len;
	return *own = b.data;
nomem:
	rag_buf_free(&b);
	return NULL;
}

int rag_embedder_run(rag_embedder *e, int fd, rag_error *err)
{
	return e->http ? rag_http_run(e->http, fd, err) : 0;
}

int rag_embedder_wait(rag_embedder *e, void **user, float **vecs, rag_error *err)
{
	rag_http_req *r = NULL;
	batch *b;
	const char *body;
	char *clean = NULL;
	size_t len, dim = 0;
	int k, attempts, rc = -1;
	long status;
	char tries[48] = "";

	*user = NULL;
	*vecs = NULL;
	if (!e->http)
		return 0; /* a local model has no requests */
	if ((k = rag_http_wait(e->http, &r, err)) <= 0)
		return k;
	b = rag_http_user(r);
	*user = b->user;
	e->pending--;
	attempts = rag_http_attempts(r);
	e->requests += (unsigned long)attempts;
	if (attempts > 1)
		snprintf(tries, sizeof tries, " (after %d attempts)", attempts);
	status = rag_http_status(r);
	body = rag_http_body(r, &len);
	if (!(body = rag_without_key(body, &len, e->key, &clean))) {
		rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		goto out;
	}
	if (rag_http_failure(r)) {
		rag_error_set(err, RAG_EIO, NULL, 0, "%s: no answer%s: %s", e->shown_url, tries,
			      rag_http_failure(r));
		goto out;
	}
	if (status < 200 || status > 299) {
		char *msg = rag_embed_server_message(body, len);
		rag_error_set(err, RAG_EIO, NULL, 0, "%s answered HTTP %ld%s: %s", e->shown_url,
			      status, tries, msg ? rag_quote(0, msg) : excerpt(0, body, len));
		free(msg);
		goto out;
	}
	if ((e->provider == P_OPENAI
		     ? rag_embed_parse_openai(body, len, b->n, e->want_dim, vecs, &dim, err)
		     : rag_embed_parse_ollama(body, len, b->n, e->want_dim, vecs, &dim, err)) < 0) {
		if (err->code != RAG_ENOMEM)
			err->code = RAG_EIO; /* the server's fault, not the input's */
		rag_error_prefix(err, "%s sent ", e->shown_url);
		goto out;
	}
	if (b->n && e->dim && dim != e->dim) {
		free(*vecs);
		*vecs = NULL;
		rag_error_set(err, RAG_EIO, NULL, 0,
			      "%s sent embeddings of %zu dimensions after some of %zu",
			      e->shown_url, dim, e->dim);
		goto out;
	}
	if (b->n)
		e->dim = dim;
	rc = 1;
out:
	free(clean);
	free(b);
	rag_http_req_free(r);
	return rc;
}

int rag_embedder_embed(rag_embedder *e, const char *text, size_t n, float *out, size_t dim,
		       rag_error *err)
{
	void *user;
	float *v;
	int r;

	if (rag_embedder_local(e)) {
		if (rag_embedder_dim(e) != dim)
			return rag_error_set(err, RAG_EUSAGE, NULL, 0,
					     "model %s makes %zu-dimensional vectors, not %zu",
					     rag_quote(0, rag_embedder_model(e)), rag_embedder_dim(e),
					     dim);
		return rag_embedder_one(e, text, n, out, err) < 0 ? -1 : 0;
	}
	if (rag_embedder_submit(e, &text, &n, 1, NULL, err) < 0)
		return -1;
	r = rag_embedder_wait(e, &user, &v, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return rag_error_set(err, RAG_EIO, NULL, 0, "the model gave no answer");
	if (rag_embedder_dim(e) != dim) {
		free(v);
		return rag_error_set(err, RAG_EDATA, NULL, 0,
				     "model %s answered with %zu-dimensional vectors, not %zu",
				     rag_quote(0, rag_embedder_model(e)), rag_embedder_dim(e), dim);
	}
	memcpy(out, v, dim * sizeof *out);
	free(v);
	return 0;
}

/* ---- the API key ---- */

/*
 * A file that holds a secret must be the user's and readable by nobody
 * else.  st is its status (from fstat of the file as opened).  0, or -1
 * with err set.
 */
static int private_file(const struct stat *st, const char *path, long line, const char *what,
			rag_error *err)
{
	int foreign = st->st_uid != geteuid();

	if (!foreign && !(st->st_mode & 077))
		return 0;
	if (what)
		return rag_error_set(err, RAG_EUSAGE, path, line,
				     "%s is in a file that %s (mode %04o); keep keys in a file of your own with mode 600",
				     what, foreign ? "belongs to another user" : "others can read",
				     (unsigned)(st->st_mode & 07777));
	return rag_error_set(err, RAG_EUSAGE, path, 0,
			     "the key file %s (mode %04o); keep keys in a file of your own with mode 600",
			     foreign ? "belongs to another user" : "can be read by others",
			     (unsigned)(st->st_mode & 07777));
}

int rag_api_key(const char *env, const char *text, const char *path, long line,
		const char *key_file, char **key, rag_error *err)
{
	struct stat st;
	char buf[4096];
	ssize_t got;
	size_t n;
	int fd;

	*key = NULL;
	if (env && *env)
		text = env;
	else if (text) {
		if (stat(path, &st) < 0)
			return rag_error_set(err, RAG_EIO, path, 0, "%s", strerror(errno));
		if (private_file(&st, path, line, "openai.api_key", err) < 0)
			return -1;
	} else if (key_file) {
		if ((fd = open(key_file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
			rag_error_set(err, RAG_EIO, key_file, 0, "%s", strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		if (private_file(&st, key_file, 0, NULL, err) < 0) {
			close(fd);
			return -1;
		}
		got = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[got > 0 ? got : 0] = '\0';
		n = strcspn(buf, "\r\n"); /* the first line, without blanks around it */
		text = rag_trim(buf, &n);
		if (!n) {
			explicit_bzero(buf, sizeof buf);
			return rag_error_set(err, RAG_EUSAGE, key_file, 0,
					     "the key file has no key on its first line");
		}
		*key = strndup(text, n);
		explicit_bzero(buf, sizeof buf);
		if (!*key)
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		return 0;
	} else {
		return 0;
	}
	if (!(*key = strdup(text)))
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return 0;
}

void rag_api_key_free(char *key)
{
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
}

const char *rag_setting(const char *env, const rag_config *cfg, const char *key)
{
	const char *v = getenv(env);

	return v && *v ? v : cfg ? rag_config_get(cfg, key, NULL) : NULL;
}

int rag_openai_key(const rag_config *cfg, char **key, rag_error *err)
{
	long line = 0;
	const char *text = cfg ? rag_config_get(cfg, "openai.api_key", &line) : NULL;

	return rag_api_key(getenv("OPENAI_API_KEY"), text, cfg ? rag_config_path(cfg) : NULL, line,
			   cfg ? rag_config_get(cfg, "openai.api_key_file", NULL) : NULL, key, err);
}

rag_embedder *rag_embedder_configured(const char *model, size_t dim, rag_error *err)
{
	rag_embed_opts eo;
	rag_config *cfg = NULL;
	rag_embedder *e = NULL;
	char *key = NULL;

	memset(&eo, 0, sizeof eo);
	eo.model = model;
	eo.dim = strncmp(model, "builtin:", 8) == 0 ? dim : 0;
	if (strncmp(model, "builtin:", 8) != 0 && !(cfg = rag_config_load(err)))
		return NULL;
	eo.openai_base = rag_setting("OPENAI_BASE_URL", cfg, "openai.base_url");
	eo.ollama_host = rag_setting("OLLAMA_HOST", cfg, "ollama.host");
	/* the key is the OpenAI provider's: no other server gets it */
	if (cfg && strncmp(model, "openai:", 7) == 0 && rag_openai_key(cfg, &key, err) < 0)
		goto out;
	eo.api_key = key;
	rag_http_opts_default(&eo.http);
	e = rag_embedder_new(&eo, err);
out:
	/* the embedder keeps copies of what it needs */
	rag_api_key_free(key);
	rag_config_free(cfg);
	return e;
}
