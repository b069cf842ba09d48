/*
 * rag-embed - add "vector" and "model" to each record that has text.
 *
 * Options, settings and I/O only: lib/embed.c speaks to the models,
 * lib/http.c runs the requests, lib/ecache.c keeps the vectors already
 * made.  Records go out in the order they came in: each waits in a ring
 * until it and every record before it are done.
 */
#include "config.h"

#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "conf.h"
#include "ecache.h"
#include "embed.h"
#include "text.h"

static const char usage[] =
	"Usage: rag-embed [OPTION]... [FILE]...\n"
	"Add \"vector\" (the embedding of the record's text) and \"model\" to each NDJSON\n"
	"record of the FILEs (standard input when there are none, or for -), in\n"
	"order.  Records without text pass through unchanged.\n"
	"\n"
	"Model:\n"
	"  -m, --model=PROVIDER:NAME  builtin:hash (offline; the default), openai:NAME\n"
	"                          (OPENAI_BASE_URL, OPENAI_API_KEY) or ollama:NAME\n"
	"                          (OLLAMA_HOST); default $RAG_EMBED_MODEL, then the\n"
	"                          configuration file, then builtin:hash\n"
	"      --dim=N             the dimension: builtin:hash's (default 512), or\n"
	"                          asked of the model (\"dimensions\")\n"
	"\n"
	"Records:\n"
	"      --field=NAME        the field that holds the text (default: text)\n"
	"      --query             the input is search queries: plain lines, or NDJSON\n"
	"                          with \"query\" (or \"text\"); the prefix is\n"
	"                          embed.query_prefix of the configuration file\n"
	"      --prefix=TEXT       put TEXT before each text embedded, as some models\n"
	"                          want (\"search_query: \", \"search_document: \")\n"
	"      --strict            a record without text is an error\n"
	"\n"
	"Requests (remote models):\n"
	"      --batch=N           texts per request, at most (default: 64)\n"
	"      --batch-tokens=N    estimated tokens per request, at most; a token is\n"
	"                          counted for every 3 bytes (default: 16384)\n"
	"  -j, --jobs=N            requests in flight at once (default: 4)\n"
	"      --retries=N         further attempts after a connection error, a\n"
	"                          timeout, 408, 429 or 5xx (default: 5)\n"
	"      --timeout=SECONDS   the longest a request may take (default: 120)\n"
	"      --connect-timeout=SECONDS  the longest to connect (default: 10)\n"
	"      --no-cache          neither read nor write the embedding cache\n"
	"                          ($XDG_CACHE_HOME/ragkit/embed)\n"
	"\n"
	"Messages:\n"
	"  -q, --quiet             no summary and no progress line\n"
	"      --progress          show progress even when standard error is not a\n"
	"                          terminal\n"
	"      --no-progress       never show progress\n"
	"      --help              show this help and exit\n"
	"      --version           show the version and exit\n"
	"\n"
	"Keys come only from the environment (OPENAI_API_KEY) or from a file that\n"
	"only its owner can read; rag-embed(1) tells how.\n"
	"\n"
	"Exit status: 0 success, 1 a bad record or a request that failed for good\n"
	"(the records before it are written whole), 2 a usage or configuration\n"
	"error.\n";

enum {
	OPT_DIM = 256,
	OPT_FIELD,
	OPT_QUERY,
	OPT_PREFIX,
	OPT_STRICT,
	OPT_BATCH,
	OPT_BATCH_TOKENS,
	OPT_RETRIES,
	OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_NO_CACHE,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option options[] = {
	{"model", required_argument, NULL, 'm'},
	{"dim", required_argument, NULL, OPT_DIM},
	{"field", required_argument, NULL, OPT_FIELD},
	{"query", no_argument, NULL, OPT_QUERY},
	{"prefix", required_argument, NULL, OPT_PREFIX},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS},
	{"jobs", required_argument, NULL, 'j'},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"no-cache", no_argument, NULL, OPT_NO_CACHE},
	{"quiet", no_argument, NULL, 'q'},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* A setting's text and where it came from, for messages. */
typedef struct given {
	const char *v;
	const char *from; /* its name: "--batch", "embed.batch", "RAG_EMBED_MODEL" */
	const char *file; /* the configuration file it is in, or NULL */
	long line;        /* there */
} given;

typedef struct settings {
	given model, dim, field, prefix, query_prefix, batch, batch_tokens, jobs, retries, timeout,
		connect_timeout, cache, cache_dir, cache_size, base_url, api_key, api_key_file, host;
	int query, strict, no_cache, quiet;
} settings;

/* The most records waiting at once (a full ring sends the batch it holds and waits). */
#define RING_MAX 65536

/* A record on its way through. */
enum { R_FREE /* an empty slot */, R_PASS, R_WAIT, R_DONE };

typedef struct item {
	int state;
	char *out;      /* R_PASS: the line; else the record up to where vector goes */
	size_t out_len;
	int more;       /* the record has members before vector */
	char *text;     /* the text to embed, prefix included, until it is sent */
	size_t text_len;
	char key[RAG_ECACHE_KEY]; /* in the cache; "" when there is none */
	float *vec;
} item;

typedef struct pending {
	size_t n;
	unsigned long long *seq;  /* of each text */
	long line;                /* the input line of its first record */
	char source[RAG_ERROR_SOURCE_MAX];
} pending;

typedef struct run {
	settings *s;
	rag_embedder *e;
	rag_ecache *cache;
	rag_writer *w;
	const char *field;
	const char *keep[2]; /* the members of a record to build: the field */
	char *prefix;
	size_t prefix_len;
	rag_buf trailer; /* what ends a record with a vector: ],"model":"..."} */
	size_t batch, batch_tokens;
	size_t want_dim; /* asked of the model; 0 none */
	int jobs;
	item *ring;
	size_t ring_cap;
	unsigned long long head, tail; /* records head..tail-1 are in the ring */
	pending *cur;                  /* the batch being filled */
	size_t cur_tokens;
	int write_failed;
	int request_failed; /* a request failed for good */
	/* counts for the summary */
	unsigned long long embedded, cached, passed;
	double t0;
	cmd_progress prog;
} run;

/* ---- settings ---- */

static int bad_setting(const given *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_setting(const given *g, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (g->file)
		fprintf(stderr, "%s: %s:%ld: %s\n", cmd_prog, g->file, g->line, text);
	else if (g->from && g->from[0] != '-')
		cmd_usage_error("%s: %s", g->from, text); /* an environment variable */
	else
		cmd_usage_error("%s", text);
	return -1;
}

static int count_of(const given *g, size_t min, size_t max, size_t *out)
{
	char why[256];

	if (cmd_count(g->from, g->v, min, out, why, sizeof why) < 0)
		return bad_setting(g, "%s", why);
	if (*out > max)
		return bad_setting(g, "%s must be at most %zu, not %s", g->from, max, g->v);
	return 0;
}

static int seconds_of(const given *g, long *ms)
{
	char *end;
	double d = strtod(g->v, &end);

	if (!*g->v || *end || !(d > 0) || d > 1e7)
		return bad_setting(g, "%s needs a number of seconds above 0, not %s", g->from,
				   rag_quote(0, g->v));
	*ms = (long)ceil(d * 1000);
	return 0;
}

/* A size in bytes, with an optional K, M or G (powers of 1024). */
static int bytes_of(const given *g, unsigned long long *out)
{
	char *end;
	double d = strtod(g->v, &end);

	if (*end == 'K' || *end == 'k')
		d *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		d *= 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		d *= 1024.0 * 1024 * 1024, end++;
	if (!*g->v || *end || !(d >= 4096) || d > 1e18)
		return bad_setting(g, "%s needs a size of at least 4096 bytes (as 500M or 2G), not %s",
				   g->from, rag_quote(0, g->v));
	*out = (unsigned long long)d;
	return 0;
}

static int yes_no(const given *g, int *out)
{
	if (!strcmp(g->v, "yes") || !strcmp(g->v, "true") || !strcmp(g->v, "on") ||
	    !strcmp(g->v, "1"))
		*out = 1;
	else if (!strcmp(g->v, "no") || !strcmp(g->v, "false") || !strcmp(g->v, "off") ||
		 !strcmp(g->v, "0"))
		*out = 0;
	else
		return bad_setting(g, "%s needs yes or no, not %s", g->from, rag_quote(0, g->v));
	return 0;
}

/* The [embed], [openai] and [ollama] settings of the configuration file. */
static int apply_config(settings *s, const rag_config *cfg)
{
	const struct {
		const char *key;
		given *to;
	} keys[] = {
		{"embed.model", &s->model},
		{"embed.dim", &s->dim},
		{"embed.field", &s->field},
		{"embed.prefix", &s->prefix},
		{"embed.query_prefix", &s->query_prefix},
		{"embed.batch", &s->batch},
		{"embed.batch_tokens", &s->batch_tokens},
		{"embed.jobs", &s->jobs},
		{"embed.retries", &s->retries},
		{"embed.timeout", &s->timeout},
		{"embed.connect_timeout", &s->connect_timeout},
		{"embed.cache", &s->cache},
		{"embed.cache_dir", &s->cache_dir},
		{"embed.cache_size", &s->cache_size},
		{"openai.base_url", &s->base_url},
		{"openai.api_key", &s->api_key},
		{"openai.api_key_file", &s->api_key_file},
		{"ollama.host", &s->host},
	};
	size_t i, j;

	for (i = 0; i < rag_config_count(cfg); i++) {
		const char *k = rag_config_key(cfg, i);
		if (strncmp(k, "embed.", 6) && strncmp(k, "openai.", 7) && strncmp(k, "ollama.", 7))
			continue; /* another program's */
		for (j = 0; j < sizeof keys / sizeof keys[0]; j++)
			if (!strcmp(k, keys[j].key)) {
				*keys[j].to = (given){rag_config_value(cfg, i), keys[j].key,
						      rag_config_path(cfg), rag_config_line(cfg, i)};
				break;
			}
		if (j == sizeof keys / sizeof keys[0]) {
			if (!strncmp(k, "openai.", 7) || !strncmp(k, "ollama.", 7))
				continue; /* rag-ask's, perhaps */
			fprintf(stderr, "%s: %s:%ld: unknown setting %s\n", cmd_prog,
				rag_config_path(cfg), rag_config_line(cfg, i), rag_quote(0, k));
			return -1;
		}
	}
	return 0;
}

/* The setting from the environment when it is set and not empty. */
static void from_env(given *g, const char *name)
{
	const char *v = getenv(name);

	if (v && *v)
		*g = (given){v, name, NULL, 0};
}

/*
 * The API key: OPENAI_API_KEY, else openai.api_key of a private
 * configuration file, else the first line of openai.api_key_file (a
 * private file).  *key is NULL when there is none, or a new string.
 * 0, or -1 after saying why not.
 */
static int api_key(settings *s, char **key)
{
	rag_error err;

	if (rag_api_key(getenv("OPENAI_API_KEY"), s->api_key.v, s->api_key.file, s->api_key.line,
			s->api_key_file.v, key, &err) < 0) {
		cmd_report(&err);
		return -1;
	}
	return 0;
}

/* ---- the ring of records ---- */

static item *at(run *r, unsigned long long seq)
{
	return &r->ring[seq % r->ring_cap];
}

static void item_clear(item *it)
{
	free(it->out);
	free(it->text);
	free(it->vec);
	memset(it, 0, sizeof *it);
}

/* Writes out the records at the front that are done.  0, or -1 with err set. */
static int drain(run *r, rag_error *err)
{
	size_t dim = rag_embedder_dim(r->e);

	while (r->head < r->tail) {
		item *it = at(r, r->head);
		if (it->state == R_PASS) {
			if (rag_writer_put_raw(r->w, it->out, it->out_len, err) < 0)
				goto write_failed;
		} else if (it->state == R_DONE) {
			rag_buf *b = rag_writer_begin(r->w);
			/* the numbers go straight into the record: room for the longest */
			int bad = rag_buf_add(b, it->out, it->out_len) < 0 ||
				  rag_buf_adds(b, it->more ? ",\"vector\":[" : "\"vector\":[") < 0 ||
				  rag_buf_grow(b, dim * (RAG_JSON_FLOAT32_MAX + 1)) < 0;
			for (size_t i = 0; !bad && i < dim; i++) {
				if (i)
					b->data[b->len++] = ',';
				b->len += rag_json_float32_text(it->vec[i], b->data + b->len);
			}
			if (bad || rag_buf_add(b, r->trailer.data, r->trailer.len) < 0) {
				rag_writer_cancel(r->w);
				return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
			}
			if (rag_writer_end(r->w, err) < 0)
				goto write_failed;
		} else {
			break;
		}
		item_clear(it);
		r->head++;
	}
	return 0;
write_failed:
	r->write_failed = 1;
	return -1;
}

static void progress(run *r)
{
	double t;

	if (!cmd_progress_due(&r->prog))
		return;
	t = cmd_now() - r->t0;
	cmd_progress_show(&r->prog, "%llu records, %.0f/s, %llu from the cache", r->head,
			  t > 0 ? (double)r->head / t : 0.0, r->cached);
}

/* A finished batch: its vectors go to its records and to the cache. */
static int batch_done(run *r, pending *p, float *vecs, rag_error *err)
{
	size_t dim = rag_embedder_dim(r->e);

	for (size_t i = 0; i < p->n; i++) {
		item *it = at(r, p->seq[i]);
		if (!(it->vec = malloc(dim * sizeof *it->vec)))
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		memcpy(it->vec, vecs + i * dim, dim * sizeof *it->vec);
		it->state = R_DONE;
		r->embedded++;
		if (r->cache && it->key[0]) {
			rag_error cerr;
			if (rag_ecache_put(r->cache, it->key, it->vec, dim, &cerr) < 0) {
				/* the cache is a convenience: say so once and go on without it */
				cmd_progress_clear(&r->prog);
				cmd_report(&cerr);
				cmd_say("going on without the embedding cache");
				rag_ecache_close(r->cache);
				r->cache = NULL;
			}
		}
	}
	return 0;
}

/* Frees a batch's record (a void * also for rag_embedder_set_user_free). */
static void pending_free(void *arg)
{
	pending *p = arg;

	if (p) {
		free(p->seq);
		free(p);
	}
}

/* Waits for one request and takes its vectors.  1, 0 when none was pending, -1 with err set. */
static int wait_one(run *r, rag_error *err)
{
	void *user;
	float *vecs;
	int k = rag_embedder_wait(r->e, &user, &vecs, err);
	pending *p = user;

	if (k < 0) {
		r->request_failed = 1;
		if (p) {
			/* name the input line of the batch's first record */
			rag_error_at(err, p->source, p->line);
			rag_error_prefix(err, "embedding %zu text%s: ", p->n, p->n == 1 ? "" : "s");
			pending_free(p);
		}
		return -1;
	}
	if (k == 0)
		return 0;
	k = batch_done(r, p, vecs, err);
	free(vecs);
	pending_free(p);
	return k < 0 ? -1 : 1;
}

/* Sends the batch being filled.  0, or -1 with err set. */
static int send_batch(run *r, rag_error *err)
{
	pending *p = r->cur;
	const char **texts;
	size_t *lens;
	int rc;

	if (!p)
		return 0;
	r->cur = NULL;
	r->cur_tokens = 0;
	texts = malloc(p->n * sizeof *texts);
	lens = malloc(p->n * sizeof *lens);
	if (!texts || !lens) {
		free(texts);
		free(lens);
		pending_free(p);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	for (size_t i = 0; i < p->n; i++) {
		item *it = at(r, p->seq[i]);
		texts[i] = it->text;
		lens[i] = it->text_len;
	}
	rc = rag_embedder_submit(r->e, texts, lens, p->n, p, err);
	for (size_t i = 0; i < p->n; i++) {
		item *it = at(r, p->seq[i]);
		free(it->text);
		it->text = NULL;
	}
	free(texts);
	free(lens);
	if (rc < 0)
		pending_free(p);
	return rc;
}

/* Adds record seq (its text set) to the batch being filled, sending batches as they fill. */
static int to_batch(run *r, unsigned long long seq, const char *source, long line, rag_error *err)
{
	item *it = at(r, seq);
	size_t tokens = (it->text_len + 2) / 3 + 1;
	pending *p;

	if (r->cur && (r->cur->n == r->batch || r->cur_tokens + tokens > r->batch_tokens) &&
	    send_batch(r, err) < 0)
		return -1;
	if (!(p = r->cur)) {
		if (!(p = calloc(1, sizeof *p)) || !(p->seq = malloc(r->batch * sizeof *p->seq))) {
			pending_free(p);
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		}
		p->line = line;
		snprintf(p->source, sizeof p->source, "%s", source);
		r->cur = p;
	}
	p->seq[p->n++] = seq;
	r->cur_tokens += tokens;
	if (p->n == r->batch)
		return send_batch(r, err);
	return 0;
}

/*
 * Makes room in the ring for one more record: writes what is done, and
 * while the ring is full, sends the batch being filled and waits for
 * requests.  0, or -1 with err set.
 */
static int make_room(run *r, rag_error *err)
{
	for (;;) {
		if (drain(r, err) < 0)
			return -1;
		if (r->tail - r->head < r->ring_cap &&
		    rag_embedder_pending(r->e) < (size_t)r->jobs * 2)
			return 0;
		if (r->tail - r->head >= r->ring_cap && r->cur && send_batch(r, err) < 0)
			return -1;
		if (wait_one(r, err) < 0)
			return -1;
		progress(r);
	}
}

/* Whether a key as written (quotes and escapes included) is name. */
static int key_is(const char *key, size_t len, const char *name)
{
	size_t n = strlen(name);
	rag_error e;
	json_t *k;
	int is;

	if (!memchr(key, '\\', len))
		return len == n + 2 && !memcmp(key + 1, name, n);
	/* escaped: decode it */
	if (!(k = rag_json_parse(key, len, &e)))
		return 0;
	is = json_is_string(k) && json_string_length(k) == n && !memcmp(json_string_value(k), name, n);
	json_decref(k);
	return is;
}

/*
 * The record before the place its vector goes: its members other than
 * "vector" and "model", as written, after "{".
 */
static int record_head(item *it, const char *line, const rag_json_members *m)
{
	rag_buf b;

	rag_buf_init(&b, 0);
	if (rag_buf_addc(&b, '{') < 0)
		goto nomem;
	for (size_t i = 0; i < m->n; i++) {
		const rag_json_member *x = &m->v[i];
		if (key_is(line + x->key, x->key_len, "vector") ||
		    key_is(line + x->key, x->key_len, "model"))
			continue;
		if ((it->more && rag_buf_addc(&b, ',') < 0) ||
		    rag_buf_add(&b, line + x->key, x->key_len) < 0 || rag_buf_addc(&b, ':') < 0 ||
		    rag_buf_add(&b, line + x->val, x->val_len) < 0)
			goto nomem;
		it->more = 1;
	}
	it->out = b.data;
	it->out_len = b.len;
	return 0;
nomem:
	rag_buf_free(&b);
	return -1;
}

/* The line rd last read.  0, or -1 with err set. */
static int one_record(run *r, rag_reader *rd, rag_error *err)
{
	const char *source = rag_reader_name(rd), *line, *raw, *text = NULL;
	long lineno = rag_reader_lineno(rd);
	size_t len, raw_len, text_len = 0;
	json_t *obj = NULL, *v = NULL;
	item *it;
	const char *field = r->field;

	line = raw = rag_reader_line(rd, &raw_len);
	len = raw_len;
	line = rag_trim(line, &len);
	if (!len)
		return 0;
	if (make_room(r, err) < 0)
		return -1;
	it = at(r, r->tail);
	memset(it, 0, sizeof *it);
	if (r->s->query && line[0] != '{') {
		/* a plain query: the record {"query": LINE} */
		rag_buf b;
		if (rag_utf8_valid_prefix(line, len) < len)
			return rag_error_set(err, RAG_EDATA, source, lineno, "invalid UTF-8");
		rag_buf_init(&b, 0);
		if (rag_buf_adds(&b, "{\"query\":") < 0 || rag_json_add_string(&b, line, len) < 0) {
			rag_buf_free(&b);
			goto nomem;
		}
		it->out = b.data;
		it->out_len = b.len;
		it->more = 1;
		text = line;
		text_len = len;
	} else {
		if (rag_reader_parse(rd, &obj, err) < 0)
			return -1;
		if (r->s->query && !r->s->field.v) {
			field = json_object_get(obj, "query") ? "query" : "text";
		}
		v = json_object_get(obj, field);
		if (v && !json_is_string(v) && !json_is_null(v)) {
			json_decref(obj);
			return rag_error_set(err, RAG_EDATA, source, lineno, "%s is not a string",
					     rag_quote(0, field));
		}
		if (json_is_string(v) && json_string_length(v) > 0) {
			text = json_string_value(v);
			text_len = json_string_length(v);
		}
		if (!text) {
			json_decref(obj);
			if (r->s->strict)
				return rag_error_set(err, RAG_EDATA, source, lineno,
						     "record has no text in %s (--strict)",
						     rag_quote(0, field));
			if (!(it->out = malloc(len + 1)))
				goto nomem;
			memcpy(it->out, line, len);
			it->out[len] = '\0';
			it->out_len = len;
			it->state = R_PASS;
			r->tail++;
			r->passed++;
			return 0;
		}
		if (record_head(it, raw, rag_reader_members(rd)) < 0) {
			json_decref(obj);
			goto nomem;
		}
	}
	/* the text as sent: the prefix, then the record's */
	if (!(it->text = malloc(r->prefix_len + text_len + 1))) {
		json_decref(obj);
		goto nomem_item;
	}
	memcpy(it->text, r->prefix, r->prefix_len);
	memcpy(it->text + r->prefix_len, text, text_len);
	it->text_len = r->prefix_len + text_len;
	it->text[it->text_len] = '\0';
	json_decref(obj);
	it->state = R_WAIT;
	r->tail++;
	if (rag_embedder_local(r->e)) {
		int k;
		if (!(it->vec = malloc(rag_embedder_dim(r->e) * sizeof *it->vec)))
			goto nomem_item;
		if ((k = rag_embedder_one(r->e, it->text, it->text_len, it->vec, err)) < 0)
			return rag_error_at(err, source, lineno);
		free(it->text);
		it->text = NULL;
		it->state = R_DONE;
		r->embedded++;
		return 0;
	}
	if (r->cache) {
		float *vec;
		size_t dim;
		int k;
		if (rag_ecache_key(r->cache, rag_embedder_url(r->e), rag_embedder_model(r->e),
				   r->want_dim, it->text, it->text_len, it->key) < 0)
			goto nomem;
		k = rag_ecache_get(r->cache, it->key, &vec, &dim, err);
		if (k < 0)
			return -1;
		if (k > 0 && (!rag_embedder_dim(r->e) || dim == rag_embedder_dim(r->e))) {
			/* the first vector from the cache settles the dimension, as an answer would */
			if (!rag_embedder_dim(r->e))
				rag_embedder_set_dim(r->e, dim);
			free(it->text);
			it->text = NULL;
			it->vec = vec;
			it->state = R_DONE;
			it->key[0] = '\0';
			r->cached++;
			r->embedded++;
			return 0;
		}
		free(vec);
	}
	return to_batch(r, r->tail - 1, source, lineno, err);
nomem_item:
	r->tail++; /* the ring frees it */
	it->state = R_WAIT;
nomem:
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/* Whether fd has input to read now (or its end, or an error to report). */
static int readable_now(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, 0) != 0;
}

/*
 * Before reading a line: while the reader would wait for its input and
 * requests are out, the requests move on, their records go out, and a
 * batch being filled is sent rather than kept waiting on input that may
 * be slow to come (a query typed at a terminal, a program upstream that
 * pauses).  0 when the line can be read, or -1 with err set.
 */
static int await_input(run *r, rag_reader *rd, rag_error *err)
{
	int fd = rag_reader_fd(rd);

	if (rag_embedder_local(r->e))
		return 0;
	while (!rag_reader_ready(rd) && (r->cur || rag_embedder_pending(r->e))) {
		int k;
		if (!readable_now(fd)) {
			if (send_batch(r, err) < 0 || drain(r, err) < 0)
				return -1;
			if (rag_writer_flush(r->w, err) < 0) {
				r->write_failed = 1;
				return -1;
			}
		}
		if ((k = rag_embedder_run(r->e, fd, err)) < 0)
			return -1;
		if (k == 0)
			break; /* input to read */
		if (wait_one(r, err) < 0 || drain(r, err) < 0)
			return -1;
		if (rag_writer_flush(r->w, err) < 0) {
			r->write_failed = 1;
			return -1;
		}
	}
	return 0;
}

static int one_input(run *r, const char *path, rag_error *err)
{
	static const char *const query_keys[] = {"query", "text", NULL};
	rag_reader *rd = rag_reader_open(path, 0, err);
	const char *line;
	size_t len;
	int k, rc = 0;

	if (!rd)
		return -1;
	/* only the text's field is built of each record */
	rag_reader_keep(rd, r->s->query && !r->s->field.v ? query_keys : r->keep);
	while ((k = await_input(r, rd, err)) == 0 &&
	       (k = rag_reader_next_line(rd, &line, &len, err)) != 0) {
		if (k < 0 || one_record(r, rd, err) < 0) {
			rc = -1;
			break;
		}
		progress(r);
	}
	rag_reader_free(rd);
	return rc;
}

/* Sends the last batch and waits for every request.  0, or -1 with err set. */
static int finish_all(run *r, rag_error *err)
{
	int k;

	if (send_batch(r, err) < 0)
		return -1;
	while ((k = wait_one(r, err)) > 0) {
		if (drain(r, err) < 0)
			return -1;
		progress(r);
	}
	if (k < 0)
		return -1;
	return drain(r, err);
}

/* ---- main ---- */

static const char *value_or(const given *g, const char *dflt)
{
	return g->v ? g->v : dflt;
}

static char *cache_dir(const settings *s)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p;

	if (s->cache_dir.v)
		return strdup(s->cache_dir.v);
	if (xdg && *xdg == '/') {
		if ((p = malloc(strlen(xdg) + 32)))
			sprintf(p, "%s/ragkit/embed", xdg);
		return p;
	}
	if (!home || !*home)
		return NULL;
	if ((p = malloc(strlen(home) + 32)))
		sprintf(p, "%s/.cache/ragkit/embed", home);
	return p;
}

int main(int argc, char **argv)
{
	settings s;
	run r;
	rag_error err;
	rag_embed_opts eo;
	rag_config *cfg = NULL;
	char *key = NULL, *dir = NULL;
	unsigned long long cache_max = 0;
	int opt, status = EXIT_USAGE, i, use_cache = 1, progress_opt = -1;
	size_t n;
	given g;

	cmd_init("rag-embed");
	memset(&s, 0, sizeof s);
	memset(&r, 0, sizeof r);
	memset(&eo, 0, sizeof eo);
	opterr = 0;
#define OPT(field, name) (s.field = (given){optarg, name, NULL, 0})
	while ((opt = getopt_long(argc, argv, ":m:j:q", options, NULL)) != -1) {
		switch (opt) {
		case 'm': OPT(model, "--model"); break;
		case OPT_DIM: OPT(dim, "--dim"); break;
		case OPT_FIELD: OPT(field, "--field"); break;
		case OPT_PREFIX: OPT(prefix, "--prefix"); break;
		case OPT_QUERY: s.query = 1; break;
		case OPT_STRICT: s.strict = 1; break;
		case OPT_BATCH: OPT(batch, "--batch"); break;
		case OPT_BATCH_TOKENS: OPT(batch_tokens, "--batch-tokens"); break;
		case 'j': OPT(jobs, "--jobs"); break;
		case OPT_RETRIES: OPT(retries, "--retries"); break;
		case OPT_TIMEOUT: OPT(timeout, "--timeout"); break;
		case OPT_CONNECT_TIMEOUT: OPT(connect_timeout, "--connect-timeout"); break;
		case OPT_NO_CACHE: s.no_cache = 1; break;
		case 'q': s.quiet = 1; break;
		case OPT_PROGRESS: progress_opt = 1; break;
		case OPT_NO_PROGRESS: progress_opt = 0; break;
		case OPT_HELP: return cmd_print(usage) ? EXIT_FAILURE : EXIT_SUCCESS;
		case OPT_VERSION: return cmd_version() ? EXIT_FAILURE : EXIT_SUCCESS;
		default: return cmd_bad_option(opt, argv);
		}
	}
#undef OPT
	/* the configuration file, under the environment, under the options */
	{
		settings cl = s;
		if (!(cfg = rag_config_load(&err))) {
			cmd_report(&err);
			return EXIT_USAGE;
		}
		memset(&s, 0, sizeof s);
		if (apply_config(&s, cfg) < 0)
			goto out;
		from_env(&s.model, "RAG_EMBED_MODEL");
		from_env(&s.base_url, "OPENAI_BASE_URL");
		from_env(&s.host, "OLLAMA_HOST");
#define OVER(f) \
	if (cl.f.v) \
		s.f = cl.f;
		OVER(model) OVER(dim) OVER(field) OVER(prefix) OVER(batch) OVER(batch_tokens)
		OVER(jobs) OVER(retries) OVER(timeout) OVER(connect_timeout)
#undef OVER
		s.query = cl.query;
		s.strict = cl.strict;
		s.no_cache = cl.no_cache;
		s.quiet = cl.quiet;
	}
	eo.model = value_or(&s.model, RAG_EMBED_DEFAULT_MODEL);
	rag_http_opts_default(&eo.http);
	if (s.dim.v && count_of(&s.dim, 1, RAG_EMBED_DIM_MAX, &eo.dim) < 0)
		goto out;
	r.batch = 64;
	r.batch_tokens = 16384;
	if (s.batch.v && count_of(&s.batch, 1, 100000, &r.batch) < 0)
		goto out;
	if (s.batch_tokens.v && count_of(&s.batch_tokens, 1, (size_t)1 << 30, &r.batch_tokens) < 0)
		goto out;
	if (s.jobs.v) {
		if (count_of(&s.jobs, 1, 256, &n) < 0)
			goto out;
		eo.http.jobs = (int)n;
	}
	if (s.retries.v) {
		if (count_of(&s.retries, 0, 100, &n) < 0)
			goto out;
		eo.http.retries = (int)n;
	}
	if (s.timeout.v && seconds_of(&s.timeout, &eo.http.timeout_ms) < 0)
		goto out;
	if (s.connect_timeout.v && seconds_of(&s.connect_timeout, &eo.http.connect_timeout_ms) < 0)
		goto out;
	if (s.cache.v && yes_no(&s.cache, &use_cache) < 0)
		goto out;
	if (s.no_cache)
		use_cache = 0;
	r.jobs = eo.http.jobs;
	r.want_dim = eo.dim;
	/*
	 * Queries take --field and --prefix, else embed.query_prefix: the
	 * document settings of the file (embed.field, embed.prefix) are not
	 * theirs.
	 */
	if (s.query) {
		if (s.field.v && s.field.file)
			s.field.v = NULL;
		if (!s.prefix.v || s.prefix.file)
			s.prefix = s.query_prefix;
	}
	r.field = value_or(&s.field, "text");
	r.keep[0] = r.field;
	if (!strcmp(r.field, "vector") || !strcmp(r.field, "model")) {
		bad_setting(&s.field, "the text cannot be in %s, which rag-embed writes",
			    rag_quote(0, r.field));
		goto out;
	}
	g = s.prefix;
	if (!(r.prefix = strdup(g.v ? g.v : "")))
		goto nomem;
	r.prefix_len = strlen(r.prefix);
	if (rag_utf8_valid_prefix(r.prefix, r.prefix_len) < r.prefix_len) {
		bad_setting(&g, "the prefix is not valid UTF-8");
		goto out;
	}
	eo.openai_base = s.base_url.v;
	eo.ollama_host = s.host.v;
	if (!strncmp(eo.model, "openai:", 7) && api_key(&s, &key) < 0)
		goto out;
	eo.api_key = key;
	if (!(r.e = rag_embedder_new(&eo, &err))) {
		if (err.code == RAG_EUSAGE) {
			/* the setting it is about, when one was given */
			given *about = strstr(err.text, "URL")
					       ? (!strncmp(eo.model, "ollama:", 7) ? &s.host : &s.base_url)
					       : &s.model;
			if (about->v)
				bad_setting(about, "%s", err.text);
			else
				cmd_usage_error("%s", err.text);
		} else
			cmd_report(&err);
		status = cmd_status(&err);
		goto out;
	}
	rag_api_key_free(key);
	key = NULL;
	rag_embedder_set_user_free(r.e, pending_free);
	status = EXIT_FAILURE;
	if (s.cache_size.v && bytes_of(&s.cache_size, &cache_max) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	if (use_cache && !rag_embedder_local(r.e)) {
		if ((dir = cache_dir(&s)) && !(r.cache = rag_ecache_open(dir, cache_max, &err))) {
			/* no cache is no reason to fail */
			cmd_report(&err);
			cmd_say("going on without the embedding cache");
		}
	}
	r.s = &s;
	rag_buf_init(&r.trailer, 0);
	if (rag_buf_adds(&r.trailer, "],\"model\":") < 0 ||
	    rag_json_add_string(&r.trailer, rag_embedder_model(r.e), strlen(rag_embedder_model(r.e))) < 0 ||
	    rag_buf_addc(&r.trailer, '}') < 0)
		goto nomem;
	/* room for the batches in flight, within reason: a full ring sends what it holds */
	r.ring_cap = (size_t)r.jobs * r.batch * 3 + 256;
	if (r.ring_cap > RING_MAX)
		r.ring_cap = RING_MAX;
	if (!(r.ring = calloc(r.ring_cap, sizeof *r.ring)) || !(r.w = rag_writer_new(STDOUT_FILENO)))
		goto nomem;
	r.prog.on = progress_opt >= 0 ? progress_opt : (!s.quiet && isatty(STDERR_FILENO));
	r.t0 = cmd_now();
	if (optind >= argc) {
		if (one_input(&r, "-", &err) < 0)
			goto failed;
	}
	for (i = optind; i < argc; i++)
		if (one_input(&r, argv[i], &err) < 0)
			goto failed;
	if (finish_all(&r, &err) < 0)
		goto failed;
	if (rag_writer_close(r.w, &err) < 0) {
		r.w = NULL;
		r.write_failed = 1;
		goto failed;
	}
	r.w = NULL;
	cmd_progress_clear(&r.prog);
	if (!s.quiet && rag_embedder_local(r.e))
		cmd_say("%llu embedded, %llu passed through, %.2f s", r.embedded, r.passed,
			cmd_now() - r.t0);
	else if (!s.quiet)
		cmd_say("%llu embedded (%llu from the cache), %llu passed through, %lu request%s, "
			"%.2f s",
			r.embedded, r.cached, r.passed, rag_embedder_requests(r.e),
			rag_embedder_requests(r.e) == 1 ? "" : "s", cmd_now() - r.t0);
	status = EXIT_SUCCESS;
	goto out;
nomem:
	cmd_say("out of memory");
	status = EXIT_FAILURE;
	goto out;
failed:
	cmd_progress_clear(&r.prog);
	if (err.code == RAG_EPIPE) {
		status = EXIT_SUCCESS;
		goto out;
	}
	cmd_report(&err);
	status = cmd_status(&err);
	if (!r.write_failed && r.w) {
		/*
		 * The records before the failure go out whole: after a bad
		 * record or file, the requests out are finished first.
		 */
		rag_error e2;
		if (!r.request_failed && err.code != RAG_ENOMEM) {
			if (finish_all(&r, &e2) < 0 && e2.code != RAG_EPIPE)
				cmd_report(&e2);
		} else {
			drain(&r, &e2);
		}
	}
out:
	cmd_output_close(r.w, r.write_failed);
	if (r.ring) {
		for (unsigned long long q = r.head; q < r.tail; q++)
			item_clear(at(&r, q));
		free(r.ring);
	}
	if (r.cur)
		pending_free(r.cur);
	rag_embedder_free(r.e); /* requests still in flight are dropped */
	rag_ecache_close(r.cache);
	rag_config_free(cfg);
	free(r.prefix);
	rag_buf_free(&r.trailer);
	free(dir);
	rag_api_key_free(key);
	return status;
}
