/*
 * rag-ask - answer questions from their sources, with citations.
 *
 * Options and I/O only: lib/prompt.c assembles prompts (for -s, after
 * lib/store.c has searched), lib/chat.c speaks the providers' formats,
 * lib/http.c moves the bytes and lib/extract.c is the offline answerer.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "chat.h"
#include "cmd.h"
#include "conf.h"
#include "embed.h"
#include "extract.h"
#include "http.h"
#include "prompt.h"
#include "record.h"
#include "store.h"

static const char usage[] =
    "Usage: rag-ask [OPTION]... [FILE]...\n"
    "  or:  rag-ask -s STORE [OPTION]... [QUESTION]...\n"
    "Answer each prompt record (NDJSON, as rag-prompt writes them) of the FILEs\n"
    "(standard input when there are none, or for -) with a chat model, and write\n"
    "one answer record for each: {\"query\", \"qid\", \"answer\", \"citations\",\n"
    "\"model\", \"usage\", \"finish_reason\"}.  With -s, each QUESTION (or each line\n"
    "of standard input, when there are none) is searched in STORE and its prompt\n"
    "made here, as rag-search | rag-prompt would.\n"
    "\n"
    "Model:\n"
    "  -m, --model=PROVIDER:NAME  builtin:extractive (offline: quotes the best\n"
    "                          sentences of the sources; the default),\n"
    "                          openai:NAME (OPENAI_BASE_URL, OPENAI_API_KEY) or\n"
    "                          ollama:NAME (OLLAMA_HOST); default $RAG_CHAT_MODEL,\n"
    "                          then ask.model of the configuration file\n"
    "      --temperature=X     sampling temperature, 0 to 2\n"
    "      --max-tokens=N      the most tokens of an answer (the model's limit)\n"
    "      --seed=N            ask for a repeatable answer, where the model can\n"
    "      --json              ask for the answer as a JSON object; it is also\n"
    "                          written parsed, as \"json\"\n"
    "      --stream            show the answer on standard error as it arrives,\n"
    "                          even when that is not a terminal\n"
    "      --no-stream         ask for the whole answer at once; show nothing\n"
    "                          before it (default: stream, shown on a terminal)\n"
    "      --dry-run           write the request each question would send (the\n"
    "                          key left out) instead of sending it\n"
    "\n"
    "Search and prompt (with -s):\n"
    "  -s, --store=STORE       search STORE for each question\n"
    "  -k N                    hits to search for (default: 10)\n"
    "      --mode=MODE         lexical, vector or hybrid (as rag-search)\n"
    "      --filter=EXPR       only records that match EXPR (rag-filter(1))\n"
    "  -p, --param=NAME=VALUE  the value of {NAME} in the filter (repeatable)\n"
    "  -n, --prompt-tokens=N   the prompt's budget, as rag-prompt --max-tokens\n"
    "                          (default: 3000; 0 for no limit)\n"
    "  -t, --template=FILE     the user message's template (rag-prompt(1))\n"
    "      --system=TEXT       the system message\n"
    "\n"
    "Requests:\n"
    "      --retries=N         further attempts after a connection error, a\n"
    "                          timeout, 408, 429 or 5xx (default: 5)\n"
    "      --timeout=SECONDS   the longest an attempt may take (default: 300)\n"
    "      --connect-timeout=SECONDS  the longest to connect (default: 10)\n"
    "\n"
    "Output:\n"
    "      --format=FORMAT     ndjson (default) or text: the answer and the\n"
    "                          sources it cites, for reading\n"
    "      --help              show this help and exit\n"
    "      --version           show the version and exit\n"
    "\n"
    "Exit status: 0 every question answered, 1 a question not answered (a bad\n"
    "record, a failed request, a cut or broken stream; the others are still\n"
    "answered), 2 a usage or configuration error.\n";

enum {
	OPT_TEMPERATURE = 256,
	OPT_MAX_TOKENS,
	OPT_SEED,
	OPT_JSON,
	OPT_STREAM,
	OPT_NO_STREAM,
	OPT_DRY_RUN,
	OPT_MODE,
	OPT_FILTER,
	OPT_SYSTEM,
	OPT_RETRIES,
	OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_FORMAT,
	OPT_HELP,
	OPT_VERSION
};

static const struct option options[] = {
    {"model", required_argument, NULL, 'm'},
    {"temperature", required_argument, NULL, OPT_TEMPERATURE},
    {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"json", no_argument, NULL, OPT_JSON},
    {"stream", no_argument, NULL, OPT_STREAM},
    {"no-stream", no_argument, NULL, OPT_NO_STREAM},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"store", required_argument, NULL, 's'},
    {"mode", required_argument, NULL, OPT_MODE},
    {"filter", required_argument, NULL, OPT_FILTER},
    {"param", required_argument, NULL, 'p'},
    {"prompt-tokens", required_argument, NULL, 'n'},
    {"template", required_argument, NULL, 't'},
    {"system", required_argument, NULL, OPT_SYSTEM},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

#define DEFAULT_MODEL "builtin:extractive"
/* The most [n] markers of one answer that are looked up. */
#define MAX_MARKERS 256

typedef struct {
	/* the model */
	const char *model; /* "provider:name" */
	int provider;      /* 0 for builtin:extractive, else enum rag_chat_provider */
	rag_chat_opts co;
	char *url, *shown_url;
	char *auth;      /* "Authorization: Bearer KEY", or NULL */
	const char *key; /* the KEY in auth, or NULL */
	rag_http_opts ho;
	rag_http *http;
	int show; /* pieces of a streamed answer to standard error */
	int dry_run, text;
	rag_writer *w;
	int write_failed;
	unsigned long answered;
	/* -s */
	const char *store;
	rag_store *s;
	rag_search_opts so;
	int mode_given;
	const char *filter_expr;
	rag_filter_params params;
	rag_prompt_opts po;
	rag_template *tmpl;
	rag_prompt *p;
	rag_embedder *emb;
	float *qvec;
	rag_json_members members;
	rag_buf hit, prompt;
} run_t;

/* ---- settings ---- */

/* A count from min to max named name.  0, or -1 with why filled. */
static int count_in(const char *name, const char *v, size_t min, size_t max, size_t *n, char *why,
                    size_t size)
{
	if (cmd_count(name, v, min, n, why, size) < 0)
		return -1;
	if (*n > max) {
		snprintf(why, size, "%s must be at most %zu, not %s", name, max, v);
		return -1;
	}
	return 0;
}

/* A number of seconds above 0 named name, as milliseconds.  0, or -1 with why filled. */
static int seconds_in(const char *name, const char *v, long *ms, char *why, size_t size)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (!*v || *end || errno || !(d > 0) || d > 1e7) {
		snprintf(why, size, "%s needs a number of seconds above 0, not %s", name,
		         rag_quote(0, v));
		return -1;
	}
	*ms = (long)ceil(d * 1000);
	return 0;
}

/*
 * The model's provider, URL and key, from the environment and the
 * configuration file.  0, or the exit status after a complaint.
 */
static int setup_model(run_t *r, const rag_config *cfg)
{
	const char *colon = strchr(r->model, ':');
	char *key = NULL;
	rag_error err;

	if (!colon || colon == r->model || !colon[1])
		return cmd_usage_error("model %s is not PROVIDER:NAME (builtin:extractive, "
		                       "openai:NAME, ollama:NAME)",
		                       rag_quote(0, r->model));
	r->co.model = colon + 1;
	if (!strncmp(r->model, "builtin:", 8)) {
		if (strcmp(r->co.model, "extractive"))
			return cmd_usage_error("unknown built-in model %s (there is "
			                       "builtin:extractive)",
			                       rag_quote(0, r->model));
		if (r->co.json)
			return cmd_usage_error("builtin:extractive gives no JSON answer (--json)");
		return 0;
	}
	if (!strncmp(r->model, "openai:", 7))
		r->provider = RAG_CHAT_OPENAI;
	else if (!strncmp(r->model, "ollama:", 7))
		r->provider = RAG_CHAT_OLLAMA;
	else
		return cmd_usage_error("unknown provider in model %s (there are builtin, openai "
		                       "and ollama)",
		                       rag_quote(0, r->model));
	r->url = r->provider == RAG_CHAT_OPENAI
	             ? rag_provider_url(0, rag_setting("OPENAI_BASE_URL", cfg, "openai.base_url"),
	                                "/chat/completions", &err)
	             : rag_provider_url(1, rag_setting("OLLAMA_HOST", cfg, "ollama.host"),
	                                "/api/chat", &err);
	if (!r->url) {
		cmd_report(&err);
		return cmd_status(&err);
	}
	{
		size_t n = strlen(r->url) + 1;
		if (!(r->shown_url = malloc(n)))
			goto nomem;
		rag_http_url_for_humans(r->url, r->shown_url, n);
	}
	/* the key is the OpenAI provider's: no other server gets it */
	if (r->provider == RAG_CHAT_OPENAI) {
		if (rag_openai_key(cfg, &key, &err) < 0) {
			if (err.code != RAG_ENOMEM)
				err.code =
				    RAG_EUSAGE; /* a key file that is missing or open to others */
			cmd_report(&err);
			return cmd_status(&err);
		}
		if (key && strpbrk(key, "\r\n")) {
			rag_api_key_free(key);
			return cmd_usage_error("the API key has a line break in it");
		}
		if (key && (r->auth = malloc(strlen(key) + 32))) {
			sprintf(r->auth, "Authorization: Bearer %s", key);
			r->key = r->auth + strlen("Authorization: Bearer ");
		}
		if (key && !r->auth) {
			rag_api_key_free(key);
			goto nomem;
		}
		rag_api_key_free(key);
	}
	return 0;
nomem:
	cmd_say("out of memory");
	return EXIT_FAILURE;
}

/* The [ask] settings of the configuration file; 0, or the exit status after a complaint. */
static int apply_config(run_t *r, const rag_config *cfg, int model_given, int retries_given,
                        int timeout_given)
{
	size_t i;

	for (i = 0; i < rag_config_count(cfg); i++) {
		const char *k = rag_config_key(cfg, i), *v = rag_config_value(cfg, i);
		long line = rag_config_line(cfg, i);
		char why[256];
		size_t n = 0;
		if (strncmp(k, "ask.", 4))
			continue; /* another program's */
		if (!strcmp(k, "ask.model")) {
			if (!model_given)
				r->model = v;
		} else if (!strcmp(k, "ask.retries")) {
			if (count_in(k, v, 0, 100, &n, why, sizeof why) < 0)
				goto bad;
			if (!retries_given)
				r->ho.retries = (int)n;
		} else if (!strcmp(k, "ask.timeout") || !strcmp(k, "ask.connect_timeout")) {
			int connect = !strcmp(k, "ask.connect_timeout");
			long ms;
			if (seconds_in(k, v, &ms, why, sizeof why) < 0)
				goto bad;
			if (connect && !(timeout_given & 2))
				r->ho.connect_timeout_ms = ms;
			else if (!connect && !(timeout_given & 1))
				r->ho.timeout_ms = ms;
		} else {
			snprintf(why, sizeof why, "unknown setting %s", rag_quote(0, k));
			goto bad;
		}
		continue;
	bad:
		fprintf(stderr, "%s: %s:%ld: %s\n", cmd_prog, rag_config_path(cfg), line, why);
		return EXIT_USAGE;
	}
	return 0;
}

static int nomem(rag_error *err)
{
	return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
}

/* ---- one streamed answer ---- */

typedef struct {
	run_t *r;
	rag_chat_answer a;
	rag_sse sse;
	rag_buf line; /* ollama: the line so far */
	rag_error err;
	int failed, shown;
} stream_t;

static int on_piece(const char *text, size_t n, void *arg)
{
	stream_t *st = arg;

	if (st->r->show && n > 0) {
		fwrite(text, 1, n, stderr);
		fflush(stderr);
		st->shown = 1;
	}
	return 0;
}

/* A reader of one streamed piece: rag_chat_openai_event or rag_chat_ollama_line. */
typedef int (*piece_reader)(rag_chat_answer *a, const char *data, size_t n, rag_chat_piece_fn fn,
                            void *arg, rag_error *err);

/*
 * Reads one piece of the stream, the key scrubbed from it first.  0, or 1
 * when the transfer is to stop: st->failed is set when that is a failure.
 */
static int read_piece(stream_t *st, piece_reader read, const char *data, size_t n)
{
	char *own;
	int k;

	if (!(data = rag_without_key(data, &n, st->r->key, &own))) {
		nomem(&st->err);
		st->failed = 1;
		return 1;
	}
	k = read(&st->a, data, n, on_piece, st, &st->err);
	free(own);
	if (k < 0) {
		st->failed = 1;
		return 1;
	}
	/* the answer is whole: a server that keeps the connection open is not waited for */
	return st->a.done;
}

static int on_event(const char *event, const char *data, size_t n, void *arg)
{
	stream_t *st = arg;

	(void)event;
	return st->a.done || read_piece(st, rag_chat_openai_event, data, n);
}

static int ollama_line(stream_t *st, const char *l, size_t n)
{
	while (n > 0 && (l[n - 1] == '\r' || l[n - 1] == ' '))
		n--;
	return n > 0 && !st->a.done && read_piece(st, rag_chat_ollama_line, l, n);
}

static int on_data(rag_http_req *req, const char *data, size_t len, void *arg)
{
	stream_t *st = arg;

	(void)req;
	if (st->r->provider == RAG_CHAT_OPENAI) {
		int k = rag_sse_feed(&st->sse, data, len, on_event, st, &st->err);
		if (k < 0)
			st->failed = 1;
		return k != 0;
	}
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (rag_buf_addc(&st->line, data[i]) < 0) {
				rag_error_set(&st->err, RAG_EDATA, NULL, 0,
				              "the server sent a line longer than %zu bytes",
				              RAG_SSE_LINE_MAX);
				st->failed = 1;
				return 1;
			}
			continue;
		}
		if (ollama_line(st, st->line.data ? st->line.data : "", st->line.len))
			return 1;
		rag_buf_truncate(&st->line, 0);
	}
	return 0;
}

/* The failure st ran into, named by the URL.  Returns -1. */
static int stream_failed(const run_t *r, const stream_t *st, rag_error *err)
{
	*err = st->err;
	if (err->code == RAG_EIO)
		return rag_error_prefix(err, "%s: the stream carried an error: ", r->shown_url);
	return rag_error_prefix(err, "%s: ", r->shown_url);
}

/*
 * Sends the request body to the model and waits for the whole answer in
 * st->a.  0, or -1 with err set: RAG_EIO for a request that failed or a
 * stream that stopped early or carried an error, RAG_EDATA for an answer
 * that is not what the provider's format says.
 */
static int call_model(run_t *r, const rag_buf *body, stream_t *st, rag_error *err)
{
	const char *headers[3] = {"Content-Type: application/json", r->auth, NULL};
	rag_http_req *req, *done = NULL;
	long status;
	int k, rc = -1;

	if (!(req = rag_http_post(r->http, r->url, headers, body->data, body->len, NULL, err)))
		return -1;
	if (r->co.stream)
		rag_http_stream(req, on_data, st);
	while ((k = rag_http_wait(r->http, &done, err)) == 1 && done != req)
		rag_http_req_free(done);
	if (k < 0)
		return -1;
	status = rag_http_status(req);
	if (st->failed) {
		stream_failed(r, st, err);
		goto out;
	}
	/* a whole streamed answer, the transfer stopped here once it was (only 2xx are streamed) */
	if (r->co.stream && st->a.done) {
		rc = 0;
		goto out;
	}
	if (status == 0) {
		int n = rag_http_attempts(req);
		char tries[64] = "";
		if (n > 1)
			snprintf(tries, sizeof tries, " after %d attempts", n);
		rag_error_set(err, RAG_EIO, NULL, 0, "%s: no answer%s: %s%s", r->shown_url, tries,
		              rag_http_failure(req) ? rag_http_failure(req)
		                                    : "the connection failed",
		              st->a.text.len > 0 ? " (the stream stopped part-way)" : "");
		goto out;
	}
	if (status < 200 || status > 299) {
		size_t n;
		const char *b = rag_http_body(req, &n);
		char msg[400], tries[64] = "", *own;
		int attempts = rag_http_attempts(req);
		if (!(b = rag_without_key(b, &n, r->key, &own))) {
			nomem(err);
			goto out;
		}
		if (attempts > 1)
			snprintf(tries, sizeof tries, " (after %d attempts)", attempts);
		rag_error_set(err, RAG_EIO, NULL, 0, "%s: HTTP status %ld%s: %s", r->shown_url,
		              status, tries, rag_chat_error_message(b, n, msg, sizeof msg));
		free(own);
		goto out;
	}
	if (!r->co.stream) {
		size_t n;
		char *own;
		const char *b = rag_http_body(req, &n);
		if (!(b = rag_without_key(b, &n, r->key, &own))) {
			nomem(err);
			goto out;
		}
		k = r->provider == RAG_CHAT_OPENAI ? rag_chat_openai_body(&st->a, b, n, err)
		                                   : rag_chat_ollama_body(&st->a, b, n, err);
		free(own);
		if (k < 0) {
			rag_error_prefix(err, "%s: ", r->shown_url);
			goto out;
		}
		rc = 0;
		goto out;
	}
	/* a last event without its blank line, a last line without its newline */
	if (r->provider == RAG_CHAT_OPENAI && rag_sse_pending(&st->sse) &&
	    rag_sse_feed(&st->sse, "\n\n", 2, on_event, st, &st->err) < 0)
		st->failed = 1;
	if (r->provider == RAG_CHAT_OLLAMA && st->line.len > 0)
		ollama_line(st, st->line.data, st->line.len);
	if (st->failed) {
		stream_failed(r, st, err);
		goto out;
	}
	if (!st->a.done) {
		rag_error_set(
		    err, RAG_EIO, NULL, 0,
		    "%s: the stream stopped before the answer was finished (%s)", r->shown_url,
		    r->provider == RAG_CHAT_OPENAI ? "no data: [DONE]" : "no \"done\": true");
		goto out;
	}
	rc = 0;
out:
	rag_http_req_free(req);
	return rc;
}

/* ---- answers ---- */

/* The source numbered n of a prompt record, or NULL. */
static const json_t *source_n(const json_t *sources, long n)
{
	size_t i;
	const json_t *s;

	json_array_foreach(sources, i, s)
	{
		const json_t *v = json_object_get(s, "n");
		if (json_is_integer(v) && json_integer_value(v) == n)
			return s;
	}
	return NULL;
}

/* "[n] source:line_start-line_end" (or the id) of a source, for --format text. */
static int add_where(rag_buf *b, const json_t *s)
{
	const json_t *src = json_object_get(s, "source"), *id = json_object_get(s, "id");
	const json_t *ls = json_object_get(s, "line_start"), *le = json_object_get(s, "line_end");

	if (json_is_string(src)) {
		if (rag_buf_adds(b, json_string_value(src)) < 0)
			return -1;
		if (json_is_integer(ls) &&
		    rag_buf_addf(b, ":%lld", (long long)json_integer_value(ls)) < 0)
			return -1;
		if (json_is_integer(ls) && json_is_integer(le) &&
		    json_integer_value(le) != json_integer_value(ls) &&
		    rag_buf_addf(b, "-%lld", (long long)json_integer_value(le)) < 0)
			return -1;
		return 0;
	}
	if (json_is_string(id))
		return rag_buf_adds(b, json_string_value(id));
	if (id)
		return rag_json_dump(b, id, 0);
	return rag_buf_adds(b, "(no source or id)");
}

/*
 * The fields of a prompt record that the answer record does not pass on:
 * what was read to answer, and what the answer record writes itself.
 */
static const char *const not_passed[] = {
    "query", "qid",   "messages",      "sources",           "answer", "json", "citations",
    "model", "usage", "finish_reason", "unknown_citations", NULL,
};

static int passed_on(const char *key)
{
	for (size_t i = 0; not_passed[i]; i++)
		if (!strcmp(key, not_passed[i]))
			return 0;
	return 1;
}

/*
 * Writes the answer record (or its text form) of the prompt record rec
 * with the answer a.  0, or -1 with err set.
 */
static int put_answer(run_t *r, const json_t *rec, const rag_chat_answer *a, rag_error *err)
{
	const json_t *sources = json_object_get(rec, "sources"), *qid = json_object_get(rec, "qid");
	const char *text = a->text.data ? a->text.data : "";
	long marks[MAX_MARKERS];
	size_t nm = rag_chat_citations(text, a->text.len, marks, MAX_MARKERS), i, unknown = 0;
	json_t *parsed = NULL;
	rag_buf *b;
	int ok = 1;

	if (r->co.json) {
		rag_error perr;
		if (!(parsed = rag_json_parse(text, a->text.len, &perr)) ||
		    !json_is_object(parsed)) {
			json_decref(parsed);
			return rag_error_set(err, RAG_EDATA, NULL, 0,
			                     "the answer is not the JSON object --json asked for%s",
			                     strcmp(a->finish_reason, "length")
			                         ? ""
			                         : " (it was cut at the token limit)");
		}
	}
	for (i = 0; i < nm; i++)
		unknown += source_n(sources, marks[i]) == NULL;
	if (!(b = rag_writer_begin(r->w))) {
		json_decref(parsed);
		return nomem(err);
	}
	if (r->text) {
		int any = 0;
		if (r->answered > 0)
			ok = ok && rag_buf_addc(b, '\n') == 0;
		ok = ok && rag_buf_add(b, text, a->text.len) == 0;
		for (i = 0; i < nm && ok; i++) {
			const json_t *s = source_n(sources, marks[i]);
			if (!s)
				continue;
			ok = rag_buf_adds(b, any ? "\n" : "\n\nSources:\n") == 0 &&
			     rag_buf_addf(b, "[%ld] ", marks[i]) == 0 && add_where(b, s) == 0;
			any = 1;
		}
		for (i = 0; i < nm && ok && unknown; i++)
			if (!source_n(sources, marks[i])) {
				ok = rag_buf_adds(b, any ? "\n" : "\n\nSources:\n") == 0 &&
				     rag_buf_addf(b, "[%ld] (no such source)", marks[i]) == 0;
				any = 1;
			}
		if (ok && !strcmp(a->finish_reason, "length"))
			ok = rag_buf_adds(b, "\n(the answer was cut at the token limit)") == 0;
		goto end;
	}
	ok = rag_buf_adds(b, "{\"query\":") == 0 &&
	     rag_json_dump(b, json_object_get(rec, "query"), 0) == 0;
	if (ok && qid && !json_is_null(qid))
		ok = rag_buf_adds(b, ",\"qid\":") == 0 && rag_json_dump(b, qid, 0) == 0;
	ok = ok && rag_buf_adds(b, ",\"answer\":") == 0 &&
	     rag_json_add_string(b, text, a->text.len) == 0;
	if (ok && parsed)
		ok = rag_buf_adds(b, ",\"json\":") == 0 && rag_json_dump(b, parsed, 0) == 0;
	ok = ok && rag_buf_adds(b, ",\"citations\":[") == 0;
	for (i = 0; i < nm && ok; i++) {
		const json_t *s = source_n(sources, marks[i]), *v;
		const char *key;
		int first = 1;
		if (!s)
			continue;
		ok = rag_buf_adds(b, b->data[b->len - 1] == '[' ? "{" : ",{") == 0;
		/* the source as the prompt numbered it, without its text */
		json_object_foreach((json_t *)s, key, v)
		{
			if (!ok)
				break;
			if (!strcmp(key, "text"))
				continue;
			ok = (first || rag_buf_addc(b, ',') == 0) &&
			     rag_json_add_string(b, key, strlen(key)) == 0 &&
			     rag_buf_addc(b, ':') == 0 && rag_json_dump(b, v, 0) == 0;
			first = 0;
		}
		ok = ok && rag_buf_addc(b, '}') == 0;
	}
	ok = ok && rag_buf_addc(b, ']') == 0;
	if (ok && unknown) {
		int first = 1;
		ok = rag_buf_adds(b, ",\"unknown_citations\":[") == 0;
		for (i = 0; i < nm && ok; i++)
			if (!source_n(sources, marks[i])) {
				ok = rag_buf_addf(b, "%s%ld", first ? "" : ",", marks[i]) == 0;
				first = 0;
			}
		ok = ok && rag_buf_addc(b, ']') == 0;
	}
	ok = ok && rag_buf_adds(b, ",\"model\":") == 0 &&
	     rag_json_add_string(b, r->model, strlen(r->model)) == 0;
	if (ok && a->prompt_tokens < 0 && a->completion_tokens < 0)
		ok = rag_buf_adds(b, ",\"usage\":null") == 0;
	else if (ok) {
		long pt = a->prompt_tokens, ct = a->completion_tokens;
		ok = rag_buf_adds(b, ",\"usage\":{\"prompt_tokens\":") == 0 &&
		     (pt < 0 ? rag_buf_adds(b, "null") : rag_buf_addf(b, "%ld", pt)) == 0 &&
		     rag_buf_adds(b, ",\"completion_tokens\":") == 0 &&
		     (ct < 0 ? rag_buf_adds(b, "null") : rag_buf_addf(b, "%ld", ct)) == 0 &&
		     rag_buf_addf(b, ",\"total_tokens\":%ld}",
		                  (pt < 0 ? 0 : pt) + (ct < 0 ? 0 : ct)) == 0;
	}
	ok = ok && rag_buf_adds(b, ",\"finish_reason\":") == 0 &&
	     (a->finish_reason[0]
	          ? rag_json_add_string(b, a->finish_reason, strlen(a->finish_reason))
	          : rag_buf_adds(b, "null")) == 0;
	/* the prompt record's other fields travel on, as every record's do */
	{
		const char *key;
		json_t *v;
		json_object_foreach((json_t *)rec, key, v)
		{
			if (!ok)
				break;
			if (passed_on(key))
				ok = rag_buf_addc(b, ',') == 0 &&
				     rag_json_add_string(b, key, strlen(key)) == 0 &&
				     rag_buf_addc(b, ':') == 0 && rag_json_dump(b, v, 0) == 0;
		}
	}
	ok = ok && rag_buf_addc(b, '}') == 0;
end:
	json_decref(parsed);
	if (!ok) {
		rag_writer_cancel(r->w);
		return nomem(err);
	}
	if (rag_writer_end(r->w, err) < 0 || rag_writer_flush(r->w, err) < 0) {
		r->write_failed = 1;
		return -1;
	}
	r->answered++;
	return 0;
}

/* The extractive answer of rec.  0, or -1 with err set. */
static int extractive(const json_t *rec, const char *question, size_t qlen, rag_chat_answer *a,
                      rag_error *err)
{
	const json_t *sources = json_object_get(rec, "sources"), *s;
	rag_extract_source *src = NULL;
	rag_extract_opts eo = {NULL, 0};
	size_t i, n = json_array_size(sources);
	long k;

	if (n && !(src = calloc(n, sizeof *src)))
		return nomem(err);
	json_array_foreach(sources, i, s)
	{
		const json_t *t = json_object_get(s, "text");
		if (!json_is_string(t)) {
			free(src);
			return rag_error_set(
			    err, RAG_EDATA, NULL, 0,
			    "source %zu has no \"text\" to quote (builtin:extractive "
			    "needs the sources as rag-prompt writes them)",
			    i + 1);
		}
		src[i].n = (size_t)json_integer_value(json_object_get(s, "n"));
		src[i].text = json_string_value(t);
		src[i].len = json_string_length(t);
	}
	k = rag_extract_answer(question, qlen, src, n, &eo, &a->text, NULL, err);
	free(src);
	if (k < 0)
		return -1;
	snprintf(a->finish_reason, sizeof a->finish_reason, "stop");
	a->done = 1;
	return 0;
}

/* Writes what --dry-run shows for rec: the request, without the key.  0, or -1 with err set. */
static int dry_run(run_t *r, const json_t *rec, const rag_buf *body, rag_error *err)
{
	const json_t *qid = json_object_get(rec, "qid");
	rag_buf *b = rag_writer_begin(r->w);
	int ok;

	if (!b)
		return nomem(err);
	ok = rag_buf_adds(b, "{\"query\":") == 0 &&
	     rag_json_dump(b, json_object_get(rec, "query"), 0) == 0;
	if (ok && qid && !json_is_null(qid))
		ok = rag_buf_adds(b, ",\"qid\":") == 0 && rag_json_dump(b, qid, 0) == 0;
	ok = ok && rag_buf_adds(b, ",\"model\":") == 0 &&
	     rag_json_add_string(b, r->model, strlen(r->model)) == 0;
	if (ok && r->provider == 0)
		ok = rag_buf_adds(b, ",\"url\":null") == 0;
	else if (ok)
		ok = rag_buf_adds(b, ",\"url\":") == 0 &&
		     rag_json_add_string(b, r->shown_url, strlen(r->shown_url)) == 0 &&
		     rag_buf_adds(b, ",\"headers\":{\"Content-Type\":\"application/json\"") == 0 &&
		     (!r->auth || rag_buf_adds(b, ",\"Authorization\":\"Bearer (hidden)\"") == 0) &&
		     rag_buf_addc(b, '}') == 0;
	ok = ok && rag_buf_adds(b, ",\"body\":") == 0 &&
	     rag_buf_add(b, body->data, body->len) == 0 && rag_buf_addc(b, '}') == 0;
	if (!ok) {
		rag_writer_cancel(r->w);
		return nomem(err);
	}
	if (rag_writer_end(r->w, err) < 0 || rag_writer_flush(r->w, err) < 0) {
		r->write_failed = 1;
		return -1;
	}
	return 0;
}

/*
 * Answers the prompt record rec.  0, or -1 with err set (the answer
 * record is then not written).
 */
static int answer(run_t *r, const json_t *rec, rag_error *err)
{
	const json_t *q = json_object_get(rec, "query"), *msgs = json_object_get(rec, "messages");
	const json_t *sources = json_object_get(rec, "sources");
	stream_t st;
	rag_buf body;
	int rc = -1;
	size_t i;
	const json_t *m;

	if (!json_is_string(q))
		return rag_error_set(err, RAG_EDATA, NULL, 0,
		                     "a prompt record needs \"query\", a string");
	if (!json_is_array(sources))
		return rag_error_set(err, RAG_EDATA, NULL, 0,
		                     "a prompt record needs \"sources\", an array");
	json_array_foreach(sources, i, m)
	{
		if (!json_is_object(m) || !json_is_integer(json_object_get(m, "n")) ||
		    json_integer_value(json_object_get(m, "n")) < 1)
			return rag_error_set(err, RAG_EDATA, NULL, 0,
			                     "source %zu is not an object with a number \"n\" of 1 "
			                     "or more",
			                     i + 1);
	}
	if (r->provider != 0 || r->dry_run) {
		if (!json_is_array(msgs) || json_array_size(msgs) == 0)
			return rag_error_set(
			    err, RAG_EDATA, NULL, 0,
			    "a prompt record needs \"messages\", a non-empty array");
		json_array_foreach(msgs, i, m)
		{
			if (!json_is_object(m) || !json_is_string(json_object_get(m, "role")) ||
			    !json_is_string(json_object_get(m, "content")))
				return rag_error_set(
				    err, RAG_EDATA, NULL, 0,
				    "message %zu is not an object with \"role\" and "
				    "\"content\" strings",
				    i + 1);
		}
	}
	memset(&st, 0, sizeof st);
	st.r = r;
	rag_chat_answer_init(&st.a);
	rag_sse_init(&st.sse);
	rag_buf_init(&st.line, RAG_SSE_LINE_MAX);
	rag_buf_init(&body, 0);
	/* the request: what a model is sent, or what builtin:extractive would read */
	if (r->provider != 0) {
		if (rag_chat_request(r->provider, msgs, &r->co, &body, err) < 0)
			goto out;
	} else if (r->dry_run &&
	           (rag_buf_adds(&body, "{\"question\":") < 0 || rag_json_dump(&body, q, 0) < 0 ||
	            rag_buf_adds(&body, ",\"messages\":") < 0 ||
	            rag_json_dump(&body, msgs, 0) < 0 || rag_buf_addc(&body, '}') < 0)) {
		nomem(err);
		goto out;
	}
	if (r->dry_run) {
		rc = dry_run(r, rec, &body, err);
		goto out;
	}
	if (r->provider == 0) {
		rc = extractive(rec, json_string_value(q), json_string_length(q), &st.a, err);
		if (rc == 0)
			on_piece(st.a.text.data, st.a.text.len, &st);
	} else {
		rc = call_model(r, &body, &st, err);
	}
	/* the pieces shown end their line, whatever became of the answer */
	if (st.shown)
		fputc('\n', stderr);
	if (rc < 0)
		goto out;
	if (!strcmp(st.a.finish_reason, "length"))
		fprintf(stderr,
		        "%s: warning: the answer to %s was cut at the token limit "
		        "(finish_reason \"length\")\n",
		        cmd_prog, rag_quote(0, json_string_value(q)));
	rc = put_answer(r, rec, &st.a, err);
out:
	rag_chat_answer_free(&st.a);
	rag_sse_free(&st.sse);
	rag_buf_free(&st.line);
	rag_buf_free(&body);
	return rc;
}

/* ---- -s: search and prompt here ---- */

/* The store's model embeds queries for vector and hybrid search.  0, or -1 with err set. */
static int query_vector(run_t *r, const rag_query *q, rag_error *err)
{
	const rag_store_settings *st = rag_store_settings_of(r->s);

	if (q->vector) {
		/* vectors of two models do not measure the same thing */
		if (q->model && *st->model && strcmp(q->model, st->model) != 0)
			return rag_error_set(
			    err, RAG_EDATA, NULL, 0,
			    "the question's vector is of model %s; the store holds "
			    "vectors of %s",
			    rag_quote(0, q->model), rag_quote(1, st->model));
		r->so.vector = q->vector;
		r->so.dim = q->dim;
		return 0;
	}
	if (!r->emb)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
		                     "the store's vectors name no model: give the question its "
		                     "\"vector\", or use --mode lexical");
	if (rag_embedder_embed(r->emb, q->text, q->len, r->qvec, st->dim, err) < 0)
		return rag_error_prefix(
		    err, "embedding the question with %s: ", rag_quote(0, st->model));
	r->so.vector = r->qvec;
	r->so.dim = st->dim;
	return 0;
}

/*
 * Searches the store for q and makes its prompt record in *rec.  0, or -1
 * with err set (RAG_EDATA when nothing was found: no prompt to answer).
 */
static int search_prompt(run_t *r, const rag_query *q, json_t **rec, rag_error *err)
{
	const rag_hit *hits;
	size_t n, i;
	rag_error warn;

	*rec = NULL;
	r->so.vector = NULL;
	r->so.dim = 0;
	if (r->so.mode != RAG_MODE_LEXICAL && query_vector(r, q, err) < 0)
		return -1;
	if (rag_store_search(r->s, q->text, q->len, &r->so, &hits, &n, err) < 0) {
		/* the options were checked at the start: what is left is this question's */
		if (err->code == RAG_EUSAGE)
			err->code = RAG_EDATA;
		return -1;
	}
	if (n == 0)
		return rag_error_set(err, RAG_EDATA, NULL, 0,
		                     "nothing in the store matches the question");
	rag_prompt_reset(r->p);
	for (i = 0; i < n; i++) {
		json_t *h;
		int k;
		rag_buf_truncate(&r->hit, 0);
		if (rag_hit_format(&r->hit, hits[i].json, hits[i].json_len, &hits[i], i + 1, q,
		                   NULL, &r->members, err) < 0)
			return -1;
		if (!(h = rag_json_parse_members(r->hit.data, r->hit.len, &r->members, err)))
			return -1;
		k = rag_prompt_add(r->p, h, r->hit.data, r->hit.len, &r->members, NULL, 0, err);
		json_decref(h);
		if (k < 0)
			return -1;
	}
	rag_buf_truncate(&r->prompt, 0);
	if (rag_prompt_build(r->p, &r->prompt, &warn, err) < 0)
		return -1;
	if (warn.code != RAG_OK) {
		rag_error_prefix(&warn, "warning: ");
		cmd_report(&warn);
	}
	if (!(*rec = rag_json_parse(r->prompt.data, r->prompt.len, err)))
		return -1;
	return 0;
}

/* Opens the store and makes the prompt builder.  0, or the exit status after a complaint. */
static int open_store(run_t *r)
{
	const rag_store_settings *st;
	rag_error err;

	if (r->filter_expr &&
	    !(r->so.filter = rag_filter_compile(r->filter_expr, r->params.v, r->params.n, &err))) {
		if (err.code != RAG_EUSAGE) {
			cmd_report(&err);
			return EXIT_FAILURE;
		}
		cmd_report_expr(r->filter_expr, &err);
		return EXIT_USAGE;
	}
	if (!(r->s = rag_store_open(r->store, RAG_STORE_READ, NULL, 0, &err))) {
		cmd_report(&err);
		return cmd_status(&err);
	}
	st = rag_store_settings_of(r->s);
	if (!r->mode_given)
		r->so.mode = st->dim ? RAG_MODE_HYBRID : RAG_MODE_LEXICAL;
	if (r->so.mode != RAG_MODE_LEXICAL && !st->dim) {
		cmd_say("%s: the store has no vectors: use --mode lexical", r->store);
		return EXIT_USAGE;
	}
	/* the store's model, made now: a bad setting or key stops the run before any question */
	if (r->so.mode != RAG_MODE_LEXICAL && *st->model) {
		if (!(r->emb = rag_embedder_configured(st->model, st->dim, &err))) {
			cmd_report(&err);
			return err.code == RAG_ENOMEM ? EXIT_FAILURE : EXIT_USAGE;
		}
		if (!(r->qvec = malloc(st->dim * sizeof *r->qvec))) {
			cmd_say("out of memory");
			return EXIT_FAILURE;
		}
	}
	return 0;
}

/* ---- the run ---- */

/*
 * What to do after a question failed: report it and go on with the next
 * (1), or stop (0: the output is gone, or memory ran out).
 */
static int go_on(run_t *r, const rag_error *err, int *failures)
{
	if (err->code == RAG_EPIPE)
		return 0;
	cmd_report(err);
	(*failures)++;
	return !r->write_failed && err->code != RAG_ENOMEM && err->code != RAG_EUSAGE;
}

/*
 * Names the question that err is about as its source (where the error
 * was found, a file of the store, goes into the message).
 */
static void place(rag_error *err, const char *source, long line)
{
	if (err->source[0]) {
		char was[RAG_ERROR_SOURCE_MAX + 32];
		if (err->line > 0)
			snprintf(was, sizeof was, "%s:%ld", err->source, err->line);
		else
			snprintf(was, sizeof was, "%s", err->source);
		rag_error_prefix(err, "%s: ", was);
	}
	snprintf(err->source, sizeof err->source, "%s", source);
	err->line = line;
	err->column = 0;
}

/* Questions for -s: the arguments, or the lines of standard input.  Returns the exit status. */
static int ask_store(run_t *r, int nq, char **questions)
{
	rag_reader *rd = NULL;
	rag_query q;
	rag_error err;
	int failures = 0, i = 0, status;

	if ((status = open_store(r)) != 0)
		return status;
	memset(&q, 0, sizeof q);
	if (nq == 0 && !(rd = rag_reader_new(0, "<stdin>", 0))) {
		cmd_say("out of memory");
		return EXIT_FAILURE;
	}
	for (;;) {
		json_t *rec = NULL;
		int k;
		if (rd) {
			const char *line;
			size_t len;
			k = rag_reader_next_line(rd, &line, &len, &err);
			if (k == 0)
				break;
			if (k > 0 && (k = rag_query_parse(&q, line, len, rag_reader_name(rd),
			                                  rag_reader_lineno(rd), &err)) == 0)
				continue; /* a blank line */
		} else {
			if (i >= nq)
				break;
			q.text = questions[i];
			q.len = strlen(questions[i]);
			i++;
			k = 1;
		}
		if (k > 0 && (search_prompt(r, &q, &rec, &err) < 0 || answer(r, rec, &err) < 0)) {
			k = -1;
			/* a failure names its question: its line, or its place among the arguments
			 */
			if (err.code != RAG_EPIPE && !r->write_failed) {
				char where[32];
				snprintf(where, sizeof where, "question %d", i);
				place(&err, rd ? rag_reader_name(rd) : where,
				      rd ? rag_reader_lineno(rd) : 0);
			}
		}
		json_decref(rec);
		if (k < 0 && !go_on(r, &err, &failures)) {
			if (err.code == RAG_EPIPE)
				failures = 0; /* the reader went away: not a failure */
			break;
		}
	}
	rag_query_clear(&q);
	rag_reader_free(rd);
	return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Prompt records from path.  0, or -1 when the run must stop; *failures counts questions lost. */
static int ask_file(run_t *r, const char *path, int *failures, rag_error *err)
{
	rag_reader *rd = rag_reader_open(path, 0, err);
	int rc = 0;

	if (!rd)
		return go_on(r, err, failures) ? 0 : -1;
	for (;;) {
		json_t *rec = NULL;
		int k = rag_reader_next(rd, &rec, err);
		if (k == 0)
			break;
		if (k > 0 && answer(r, rec, err) < 0) {
			k = -1;
			/* a question's failure names the record it came from */
			if (!err->source[0]) {
				snprintf(err->source, sizeof err->source, "%s",
				         rag_reader_name(rd));
				err->line = rag_reader_lineno(rd);
			}
		}
		json_decref(rec);
		if (k < 0 && !go_on(r, err, failures)) {
			rc = -1;
			break;
		}
	}
	rag_reader_free(rd);
	return rc;
}

int main(int argc, char **argv)
{
	run_t r;
	rag_error err;
	rag_config *cfg = NULL;
	const char *template_path = NULL;
	int opt, status = EXIT_USAGE, i, stream_opt = -1, model_given = 0, retries_given = 0,
	         timeout_given = 0, failures = 0, search_given = 0;

	cmd_init("rag-ask");
	memset(&r, 0, sizeof r);
	rag_http_opts_default(&r.ho);
	r.ho.jobs = 1;
	r.ho.timeout_ms = 300000;
	r.so.k = 10;
	r.so.mode = RAG_MODE_LEXICAL;
	r.so.rrf_k = 60;
	r.so.alpha = 0.5;
	r.po.max_tokens = RAG_PROMPT_DEFAULT_MAX_TOKENS;
	rag_buf_init(&r.hit, 0);
	rag_buf_init(&r.prompt, 0);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":m:s:k:p:n:t:", options, NULL)) != -1) {
		char why[256];
		size_t n;
		switch (opt) {
		case 'm':
			r.model = optarg;
			model_given = 1;
			break;
		case OPT_TEMPERATURE: {
			char *end;
			double d;
			errno = 0;
			d = strtod(optarg, &end);
			if (!*optarg || *end || errno || !(d >= 0 && d <= 2)) {
				status =
				    cmd_usage_error("--temperature needs a number from 0 to 2, "
				                    "not %s",
				                    rag_quote(0, optarg));
				goto out;
			}
			r.co.temperature = d;
			r.co.has_temperature = 1;
			break;
		}
		case OPT_MAX_TOKENS:
			if (count_in("--max-tokens", optarg, 1, 100000000, &n, why, sizeof why) <
			    0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			r.co.max_tokens = (long)n;
			break;
		case OPT_SEED: {
			char *end;
			long long v;
			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (!*optarg || *end || errno) {
				status = cmd_usage_error("--seed needs a whole number, not %s",
				                         rag_quote(0, optarg));
				goto out;
			}
			r.co.seed = v;
			r.co.has_seed = 1;
			break;
		}
		case OPT_JSON:
			r.co.json = 1;
			break;
		case OPT_STREAM:
			stream_opt = 1;
			break;
		case OPT_NO_STREAM:
			stream_opt = 0;
			break;
		case OPT_DRY_RUN:
			r.dry_run = 1;
			break;
		case 's':
			r.store = optarg;
			break;
		case 'k':
			if (cmd_count("-k", optarg, 1, &r.so.k, why, sizeof why) < 0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			search_given = 1;
			break;
		case OPT_MODE:
			if (!strcmp(optarg, "lexical"))
				r.so.mode = RAG_MODE_LEXICAL;
			else if (!strcmp(optarg, "vector"))
				r.so.mode = RAG_MODE_VECTOR;
			else if (!strcmp(optarg, "hybrid"))
				r.so.mode = RAG_MODE_HYBRID;
			else {
				status = cmd_usage_error("unknown mode %s (use lexical, vector or "
				                         "hybrid)",
				                         rag_quote(0, optarg));
				goto out;
			}
			r.mode_given = 1;
			break;
		case OPT_FILTER:
			r.filter_expr = optarg;
			break;
		case 'p':
			if (rag_filter_params_add(&r.params, optarg, &err) < 0) {
				if (err.code == RAG_EUSAGE)
					status = cmd_usage_error("%s", err.text);
				else
					cmd_report(&err), status = EXIT_FAILURE;
				goto out;
			}
			break;
		case 'n':
			if (cmd_count("--prompt-tokens", optarg, 0, &r.po.max_tokens, why,
			              sizeof why) < 0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			search_given = 1;
			break;
		case 't':
			template_path = optarg;
			break;
		case OPT_SYSTEM:
			if (rag_utf8_valid_prefix(optarg, strlen(optarg)) < strlen(optarg)) {
				status = cmd_usage_error("--system is not valid UTF-8");
				goto out;
			}
			r.po.system = optarg;
			break;
		case OPT_RETRIES:
			if (count_in("--retries", optarg, 0, 100, &n, why, sizeof why) < 0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			r.ho.retries = (int)n;
			retries_given = 1;
			break;
		case OPT_TIMEOUT:
		case OPT_CONNECT_TIMEOUT:
			if (seconds_in(
			        opt == OPT_TIMEOUT ? "--timeout" : "--connect-timeout", optarg,
			        opt == OPT_TIMEOUT ? &r.ho.timeout_ms : &r.ho.connect_timeout_ms,
			        why, sizeof why) < 0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			timeout_given |= opt == OPT_TIMEOUT ? 1 : 2;
			break;
		case OPT_FORMAT:
			if ((status = cmd_format(optarg, &r.text)) != 0)
				goto out;
			status = EXIT_USAGE;
			break;
		case OPT_HELP:
			status = cmd_print(usage);
			goto out;
		case OPT_VERSION:
			status = cmd_version();
			goto out;
		default:
			status = cmd_bad_option(opt, argv);
			goto out;
		}
	}
	if (!r.store && (r.filter_expr || r.params.n || template_path || r.po.system ||
	                 r.mode_given || search_given)) {
		status =
		    cmd_usage_error("-k, --mode, --filter, --param, --prompt-tokens, --template "
		                    "and --system need -s STORE (else the prompts are made "
		                    "already)");
		goto out;
	}
	if (r.dry_run && r.text) {
		status = cmd_usage_error("--dry-run writes NDJSON only");
		goto out;
	}
	if (r.store)
		for (i = optind; i < argc; i++)
			if (rag_utf8_valid_prefix(argv[i], strlen(argv[i])) < strlen(argv[i])) {
				status = cmd_usage_error("question %d is not valid UTF-8",
				                         i - optind + 1);
				goto out;
			}
	/* the model: the option, the environment, the configuration file, the default */
	if (!model_given && getenv("RAG_CHAT_MODEL") && *getenv("RAG_CHAT_MODEL")) {
		r.model = getenv("RAG_CHAT_MODEL");
		model_given = 1;
	}
	if (!(cfg = rag_config_load(&err))) {
		cmd_report(&err);
		status = EXIT_USAGE;
		goto out;
	}
	if ((status = apply_config(&r, cfg, model_given, retries_given, timeout_given)) != 0)
		goto out;
	if (!r.model)
		r.model = DEFAULT_MODEL;
	if ((status = setup_model(&r, cfg)) != 0)
		goto out;
	/* stream unless told not to; show the pieces on a terminal, or when told */
	r.co.stream = stream_opt != 0;
	r.show = stream_opt == 1 || (stream_opt < 0 && isatty(STDERR_FILENO));
	if (r.text && r.show && isatty(STDOUT_FILENO))
		r.show = stream_opt == 1; /* the answer is about to be printed whole anyway */
	if (r.provider && !r.dry_run && !(r.http = rag_http_new(&r.ho, &err))) {
		cmd_report(&err);
		status = EXIT_FAILURE;
		goto out;
	}
	/* the template is checked before any question */
	if (template_path && !(r.tmpl = rag_template_read(template_path, &err))) {
		cmd_report(&err);
		status = cmd_status(&err);
		goto out;
	}
	r.po.tmpl = r.tmpl;
	if (r.store && !(r.p = rag_prompt_new(&r.po, &err))) {
		cmd_report(&err);
		status = EXIT_FAILURE;
		goto out;
	}
	if (!(r.w = rag_writer_new(STDOUT_FILENO))) {
		cmd_say("out of memory");
		status = EXIT_FAILURE;
		goto out;
	}
	if (r.store) {
		status = ask_store(&r, argc - optind, argv + optind);
	} else {
		int stop = 0;
		if (optind >= argc)
			stop = ask_file(&r, "-", &failures, &err) < 0;
		for (i = optind; i < argc && !stop; i++)
			stop = ask_file(&r, argv[i], &failures, &err) < 0;
		/* the reader of the output went away: no failure of ours */
		status = stop && err.code == RAG_EPIPE ? EXIT_SUCCESS
		         : failures                    ? EXIT_FAILURE
		                                       : EXIT_SUCCESS;
	}
	if (rag_writer_close(r.w, &err) < 0 && err.code != RAG_EPIPE) {
		if (!r.write_failed)
			cmd_report(&err);
		status = EXIT_FAILURE;
	}
	r.w = NULL;
out:
	rag_writer_close(r.w, NULL);
	rag_config_free(cfg);
	rag_http_free(r.http);
	free(r.url);
	free(r.shown_url);
	if (r.auth) {
		/* the key does not outlive its use */
		volatile char *p = r.auth;
		while (*p)
			*p++ = 0;
		free(r.auth);
	}
	rag_store_close(r.s);
	rag_prompt_free(r.p);
	rag_template_free(r.tmpl);
	rag_embedder_free(r.emb);
	free(r.qvec);
	rag_json_members_free(&r.members);
	rag_filter_free(r.so.filter);
	rag_filter_params_free(&r.params);
	rag_buf_free(&r.hit);
	rag_buf_free(&r.prompt);
	return status;
}
