/*
 * rag-search - find the records of a store that best match queries.
 *
 * Options and I/O only: queries are read and hits formatted by
 * lib/record.c; the store (lib/store.c) searches.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "embed.h"
#include "record.h"
#include "store.h"

static const char usage[] =
	"Usage: rag-search [OPTION]... STORE [QUERY]...\n"
	"Search the store STORE and write the best hits for each QUERY as NDJSON\n"
	"records, best first: the stored record with \"score\", \"rank\" and \"query\"\n"
	"(and \"qid\") added.  With no QUERY, queries are read from standard input,\n"
	"one a line: plain text, or NDJSON with \"query\" (or \"text\") and an id in\n"
	"\"qid\", \"id\" or \"_id\", and optionally the query's own \"vector\".\n"
	"\n"
	"Search:\n"
	"  -k N                    the number of hits for each query (default: 10)\n"
	"      --mode=MODE         how to search: lexical (BM25), vector (nearest\n"
	"                          neighbours of the query's vector: its own, or its\n"
	"                          text embedded with the store's model) or hybrid\n"
	"                          (both, fused; the default for a store with vectors)\n"
	"      --ef=N              candidates the graph search keeps: more finds more\n"
	"                          of the true nearest, slower (default: 100)\n"
	"      --exact             compare with every vector instead of walking the\n"
	"                          graph (exact; slow on a large store)\n"
	"      --fusion=HOW        hybrid: rrf (reciprocal rank fusion, the default) or\n"
	"                          weighted (normalised scores, --alpha for vectors)\n"
	"      --rrf-k=X           hybrid: the k of 1/(k + rank) (default: 60)\n"
	"      --alpha=X           weighted fusion: the vector list's weight, 0 to 1\n"
	"                          (default: 0.5)\n"
	"      --depth=N           hybrid: hits taken from each list before fusing\n"
	"                          (default: 100, or k when larger)\n"
	"      --exhaustive        score every candidate instead of skipping those\n"
	"                          that cannot make the top k (same results, slower;\n"
	"                          for checking)\n"
	"      --all               write every record of the store, and search nothing\n"
	"      --filter=EXPR       only records that match EXPR, a Milvus boolean\n"
	"                          expression (rag-filter(1)), can be hits: the best\n"
	"                          k of those; with --all, the records written\n"
	"  -p, --param=NAME=VALUE  the value of {NAME} in the filter (repeatable)\n"
	"\n"
	"Output:\n"
	"      --fields=LIST       keep only these stored fields (comma-separated);\n"
	"                          score, rank, query and qid are always written\n"
	"      --format=FORMAT     ndjson (default) or text, for reading at a terminal\n"
	"      --skip-bad          report bad query lines and go on without them\n"
	"      --help              show this help and exit\n"
	"      --version           show the version and exit\n"
	"\n"
	"Exit status: 0 success (with or without hits), 1 an error in the input,\n"
	"the store or while running, 2 a usage error.\n";

enum {
	OPT_FIELDS = 256,
	OPT_FORMAT,
	OPT_MODE,
	OPT_EXHAUSTIVE,
	OPT_EF,
	OPT_EXACT,
	OPT_FUSION,
	OPT_RRF_K,
	OPT_ALPHA,
	OPT_DEPTH,
	OPT_ALL,
	OPT_FILTER,
	OPT_SKIP_BAD,
	OPT_HELP,
	OPT_VERSION
};

static const struct option options[] = {
	{"fields", required_argument, NULL, OPT_FIELDS},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"mode", required_argument, NULL, OPT_MODE},
	{"exhaustive", no_argument, NULL, OPT_EXHAUSTIVE},
	{"ef", required_argument, NULL, OPT_EF},
	{"exact", no_argument, NULL, OPT_EXACT},
	{"fusion", required_argument, NULL, OPT_FUSION},
	{"rrf-k", required_argument, NULL, OPT_RRF_K},
	{"alpha", required_argument, NULL, OPT_ALPHA},
	{"depth", required_argument, NULL, OPT_DEPTH},
	{"all", no_argument, NULL, OPT_ALL},
	{"filter", required_argument, NULL, OPT_FILTER},
	{"param", required_argument, NULL, 'p'},
	{"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* The width of --format text. */
#define TEXT_WIDTH 80

typedef struct {
	rag_search_opts o;
	rag_fieldset fields;
	int have_fields, text, all, skip_bad, headings;
	rag_store *s;
	rag_writer *w;
	rag_json_members members;
	long blocks; /* queries answered, for --format text */
	const char *filter_expr;
	rag_filter_params params;
	int mode_given;
	rag_embedder *emb; /* the store's model, for queries without a vector */
	float *qvec;
} run_t;

/*
 * The store's model, to embed queries that bring no vector.  0, or -1
 * with err set.
 */
static int make_embedder(run_t *r, const rag_store_settings *st, rag_error *err)
{
	if (!(r->emb = rag_embedder_configured(st->model, st->dim, err)))
		return -1;
	if (!(r->qvec = malloc(st->dim * sizeof *r->qvec)))
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	return 0;
}

/*
 * The vector of query q for a vector or hybrid search: its own, or its
 * text embedded with the store's model.  0, or -1 with err set.
 */
static int query_vector(run_t *r, const rag_query *q, rag_error *err)
{
	const rag_store_settings *st = rag_store_settings_of(r->s);

	if (!st->dim)
		return 0; /* the store says it has no vectors */
	if (q->vector) {
		/* vectors of two models do not measure the same thing */
		if (q->model && *st->model && strcmp(q->model, st->model) != 0)
			return rag_error_set(err, RAG_EUSAGE, NULL, 0,
					     "the query's vector is of model %s; the store holds vectors of %s",
					     rag_quote(0, q->model), rag_quote(1, st->model));
		r->o.vector = q->vector;
		r->o.dim = q->dim;
		return 0;
	}
	if (!*st->model)
		return rag_error_set(err, RAG_EUSAGE, NULL, 0,
				     "the store's vectors name no model: give each query its \"vector\", or use --mode lexical");
	if (!r->emb && make_embedder(r, st, err) < 0)
		return -1;
	if (rag_embedder_embed(r->emb, q->text, q->len, r->qvec, st->dim, err) < 0)
		return rag_error_prefix(err, "embedding the query with %s: ",
					rag_quote(0, st->model));
	r->o.vector = r->qvec;
	r->o.dim = st->dim;
	return 0;
}

/*
 * Writes the hits of one query.  0, or -1 with err set (RAG_EPIPE when
 * the reader of the output went away).
 */
static int answer(run_t *r, const rag_query *q, rag_error *err)
{
	const rag_hit *hits;
	size_t n, i;
	rag_buf *b;

	r->o.vector = NULL;
	r->o.dim = 0;
	if (r->o.mode != RAG_MODE_LEXICAL && query_vector(r, q, err) < 0)
		return -1;
	if (rag_store_search(r->s, q->text, q->len, &r->o, &hits, &n, err) < 0)
		return -1;
	if (r->text && r->headings) {
		size_t start;
		b = rag_writer_begin(r->w);
		start = b->len;
		if ((r->blocks > 0 && rag_buf_addc(b, '\n') < 0) ||
		    rag_buf_adds(b, "query: ") < 0 || rag_buf_add(b, q->text, q->len) < 0 ||
		    (q->qid && rag_buf_addf(b, " (qid %.*s)", (int)q->qid_len, q->qid) < 0)) {
			rag_writer_cancel(r->w);
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		}
		/* A query is shown on one line. */
		for (i = start + (r->blocks > 0); i < b->len; i++)
			if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
				b->data[i] = ' ';
		if (rag_writer_end(r->w, err) < 0)
			return -1;
	}
	r->blocks++;
	if (r->text && n == 0) {
		b = rag_writer_begin(r->w);
		if (rag_buf_adds(b, "(no hits)") < 0) {
			rag_writer_cancel(r->w);
			return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
		}
		return rag_writer_end(r->w, err);
	}
	for (i = 0; i < n; i++) {
		const rag_hit *h = &hits[i];
		int rc;
		b = rag_writer_begin(r->w);
		if (r->text)
			rc = rag_hit_format_text(b, h->json, h->json_len, h->score, i + 1,
						 TEXT_WIDTH, err);
		else
			rc = rag_hit_format(b, h->json, h->json_len, h, i + 1, q,
					    r->have_fields ? &r->fields : NULL, &r->members, err);
		if (rc < 0) {
			rag_writer_cancel(r->w);
			return -1;
		}
		if (rag_writer_end(r->w, err) < 0)
			return -1;
	}
	return 0;
}

/* Reports an error unless it is a closed output; returns the exit status. */
static int failed(const rag_error *err)
{
	if (err->code == RAG_EPIPE)
		return EXIT_SUCCESS;
	cmd_report(err);
	return cmd_status(err);
}

/* Queries from standard input; returns the exit status. */
static int from_stdin(run_t *r)
{
	rag_reader *rd = rag_reader_new(0, "<stdin>", 0);
	rag_query q;
	rag_error err;
	const char *line;
	size_t len;
	int k, status = EXIT_SUCCESS;

	if (!rd) {
		cmd_say("out of memory");
		return EXIT_FAILURE;
	}
	memset(&q, 0, sizeof q);
	while ((k = rag_reader_next_line(rd, &line, &len, &err)) != 0) {
		if (k > 0)
			k = rag_query_parse(&q, line, len, rag_reader_name(rd),
					    rag_reader_lineno(rd), &err);
		if (k == 0)
			continue;
		if (k < 0) {
			if (r->skip_bad && err.code == RAG_EDATA) {
				cmd_report(&err);
				continue;
			}
			status = failed(&err);
			break;
		}
		/* Answers go out as each query is answered, for a program that asks in turn. */
		if (answer(r, &q, &err) < 0 || rag_writer_flush(r->w, &err) < 0) {
			status = failed(&err);
			break;
		}
	}
	rag_query_clear(&q);
	rag_reader_free(rd);
	return status;
}

typedef struct {
	run_t *r;
	rag_error err;
} scan_ctx;

static int put_record(const char *json, size_t len, void *arg)
{
	scan_ctx *c = arg;
	run_t *r = c->r;

	if (r->o.filter) {
		int k = rag_filter_match_text(r->o.filter, json, len, &c->err);
		if (k <= 0)
			return k < 0 ? 1 : 0;
	}

	if (!r->have_fields)
		return rag_writer_put_raw(r->w, json, len, &c->err) < 0 ? 1 : 0;
	if (rag_hit_format(rag_writer_begin(r->w), json, len, NULL, 0, NULL, &r->fields, &r->members,
			   &c->err) < 0) {
		rag_writer_cancel(r->w);
		return 1;
	}
	return rag_writer_end(r->w, &c->err) < 0 ? 1 : 0;
}

static int run(run_t *r, const char *location, int nq, char **queries)
{
	rag_error err;
	rag_query q;
	int i, k;

	if (r->filter_expr &&
	    !(r->o.filter = rag_filter_compile(r->filter_expr, r->params.v, r->params.n, &err))) {
		if (err.code != RAG_EUSAGE)
			return failed(&err);
		cmd_report_expr(r->filter_expr, &err);
		return EXIT_USAGE;
	}
	r->s = rag_store_open(location, RAG_STORE_READ, NULL, 0, &err);
	if (!r->s)
		return failed(&err);
	if (!r->mode_given)
		r->o.mode = rag_store_settings_of(r->s)->dim ? RAG_MODE_HYBRID : RAG_MODE_LEXICAL;
	r->w = rag_writer_new(1);
	if (!r->w) {
		cmd_say("out of memory");
		return EXIT_FAILURE;
	}
	if (r->all) {
		scan_ctx c = {r, {0}};
		k = rag_store_scan(r->s, put_record, &c, &err);
		if (k > 0)
			return failed(&c.err);
		if (k < 0)
			return failed(&err);
		return EXIT_SUCCESS;
	}
	if (nq == 0)
		return from_stdin(r);
	memset(&q, 0, sizeof q);
	for (i = 0; i < nq; i++) {
		q.text = queries[i];
		q.len = strlen(queries[i]);
		if (answer(r, &q, &err) < 0)
			return failed(&err);
	}
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	run_t r;
	rag_error err;
	const char *location;
	int opt, status, i;

	cmd_init("rag-search");
	memset(&r, 0, sizeof r);
	r.o.k = 10;
	r.o.mode = RAG_MODE_LEXICAL;
	r.o.rrf_k = 60;
	r.o.alpha = 0.5;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":k:p:", options, NULL)) != -1) {
		char why[256];
		switch (opt) {
		case 'k':
			if (cmd_count("-k", optarg, 1, &r.o.k, why, sizeof why) < 0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			break;
		case OPT_FIELDS:
			rag_fieldset_clear(&r.fields);
			if (rag_fieldset_parse(&r.fields, optarg, &err) < 0) {
				status = err.code == RAG_EUSAGE ? cmd_usage_error("%s", err.text)
								: failed(&err);
				goto out;
			}
			r.have_fields = 1;
			break;
		case OPT_FORMAT:
			if ((status = cmd_format(optarg, &r.text)) != 0)
				goto out;
			break;
		case OPT_MODE:
			if (!strcmp(optarg, "lexical")) {
				r.o.mode = RAG_MODE_LEXICAL;
			} else if (!strcmp(optarg, "vector")) {
				r.o.mode = RAG_MODE_VECTOR;
			} else if (!strcmp(optarg, "hybrid")) {
				r.o.mode = RAG_MODE_HYBRID;
			} else {
				status = cmd_usage_error(
					"unknown mode %s (use lexical, vector or hybrid)",
					rag_quote(0, optarg));
				goto out;
			}
			r.mode_given = 1;
			break;
		case OPT_EF:
		case OPT_DEPTH:
			if (cmd_count(opt == OPT_EF ? "--ef" : "--depth", optarg, 1,
				      opt == OPT_EF ? &r.o.ef : &r.o.depth, why, sizeof why) < 0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			break;
		case OPT_EXACT: r.o.exact = 1; break;
		case OPT_FUSION:
			if (strcmp(optarg, "rrf") && strcmp(optarg, "weighted")) {
				status = cmd_usage_error("unknown fusion %s (use rrf or weighted)",
							 rag_quote(0, optarg));
				goto out;
			}
			r.o.fusion = strcmp(optarg, "rrf") ? RAG_FUSION_WEIGHTED : RAG_FUSION_RRF;
			break;
		case OPT_RRF_K:
		case OPT_ALPHA: {
			char *end;
			double d;
			errno = 0;
			d = strtod(optarg, &end);
			if (!*optarg || *end || errno || !isfinite(d) ||
			    (opt == OPT_RRF_K ? d < 0 : d < 0 || d > 1)) {
				status = cmd_usage_error(opt == OPT_RRF_K
								 ? "--rrf-k needs a number of at least 0, not %s"
								 : "--alpha needs a number from 0 to 1, not %s",
							 rag_quote(0, optarg));
				goto out;
			}
			if (opt == OPT_RRF_K)
				r.o.rrf_k = d;
			else
				r.o.alpha = d;
			break;
		}
		case OPT_EXHAUSTIVE: r.o.exhaustive = 1; break;
		case OPT_ALL: r.all = 1; break;
		case OPT_FILTER: r.filter_expr = optarg; break;
		case 'p':
			if (rag_filter_params_add(&r.params, optarg, &err) < 0) {
				status = err.code == RAG_EUSAGE ? cmd_usage_error("%s", err.text)
								: failed(&err);
				goto out;
			}
			break;
		case OPT_SKIP_BAD: r.skip_bad = 1; break;
		case OPT_HELP: status = cmd_print(usage); goto out;
		case OPT_VERSION: status = cmd_version(); goto out;
		default: status = cmd_bad_option(opt, argv); goto out;
		}
	}
	if (optind >= argc) {
		status = cmd_usage_error("no store given");
		goto out;
	}
	location = argv[optind++];
	if (r.all && optind < argc) {
		status = cmd_usage_error("--all cannot be combined with queries");
		goto out;
	}
	if (r.all && r.text) {
		status = cmd_usage_error("--all writes NDJSON only (--format text is for hits)");
		goto out;
	}
	for (i = optind; i < argc; i++)
		if (rag_utf8_valid_prefix(argv[i], strlen(argv[i])) < strlen(argv[i])) {
			status = cmd_usage_error("query %d is not valid UTF-8", i - optind + 1);
			goto out;
		}
	/* For people, each query's hits under a heading, unless there is just one query. */
	r.headings = argc - optind != 1;
	status = run(&r, location, argc - optind, argv + optind);
	if (rag_writer_close(r.w, &err) < 0 && status == EXIT_SUCCESS && err.code != RAG_EPIPE) {
		cmd_report(&err);
		status = EXIT_FAILURE;
	}
	r.w = NULL;
out:
	rag_writer_close(r.w, NULL);
	rag_store_close(r.s);
	rag_embedder_free(r.emb);
	free(r.qvec);
	rag_fieldset_clear(&r.fields);
	rag_json_members_free(&r.members);
	rag_filter_free(r.o.filter);
	rag_filter_params_free(&r.params);
	return status;
}
