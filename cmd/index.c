/*
 * rag-index - add, update and delete the records of a store.
 *
 * Options and I/O only: records are turned into store records by
 * lib/record.c, and the store (lib/store.c) does the rest.
 */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <unistd.h>

#include "analyze.h"
#include "cmd.h"
#include "record.h"
#include "store.h"

static const char usage[] =
	"Usage: rag-index [OPTION]... STORE [FILE]...\n"
	"Add NDJSON records to the store STORE (a directory, created when it does\n"
	"not exist), replacing those with the same id and skipping those that are\n"
	"unchanged.  With no FILE, or when FILE is -, standard input is read.\n"
	"\n"
	"Records:\n"
	"      --id-field=NAME     the field that holds a record's id (default: id)\n"
	"      --text-field=NAME   the field whose text is indexed (default: text)\n"
	"      --doc-field=NAME    the field that names a record's document\n"
	"                          (default: doc)\n"
	"      --batch=N           commit every N records (default: 100000)\n"
	"      --replace-docs      delete the records of each document in the input\n"
	"                          that the input no longer has; the records of a\n"
	"                          document must come one after another\n"
	"      --delete            the input is ids to delete, one a line, or NDJSON\n"
	"                          records with the id field\n"
	"      --skip-bad          report bad records and go on without them\n"
	"\n"
	"Store:\n"
	"      --compact           rewrite the store without deleted records after the\n"
	"                          input (with no FILE, only compact)\n"
	"      --check             verify every file of the store, and do nothing else\n"
	"      --no-wait           fail at once when another rag-index is writing to\n"
	"                          the store, instead of waiting for it\n"
	"      --analyzer=NAME     when creating the store: english (default),\n"
	"                          lucene, simple or none\n"
	"      --k1=X              when creating the store: BM25's k1 (default: 0.9)\n"
	"      --b=X               when creating the store: BM25's b (default: 0.4)\n"
	"      --index-field=PATH  index the values of a field for rag-search --filter\n"
	"                          (a name, a.b, a[\"b\"] or a[0]; repeatable); the\n"
	"                          store keeps it from then on\n"
	"\n"
	"Vectors (records with a \"vector\", as rag-embed writes them):\n"
	"      --metric=NAME       when creating the store: cosine (default), ip or l2\n"
	"      --hnsw-m=N          when creating the store: graph links a node keeps\n"
	"                          (twice as many on the lowest level; default: 16)\n"
	"      --hnsw-ef-construction=N  when creating the store: candidates kept\n"
	"                          while linking a node (default: 200)\n"
	"      --quantize=HOW      when creating the store: compact copies of the\n"
	"                          vectors to walk the graphs on: none (default),\n"
	"                          f16 or int8 (re-ranked with the full vectors)\n"
	"      --lexical-ok        when creating the store: records without a vector\n"
	"                          are welcome beside those with one\n"
	"      --threads=N         threads that build the graphs (default: 1)\n"
	"\n"
	"Messages:\n"
	"      --stats             write the counts and the store's size as one JSON\n"
	"                          object on standard output at the end\n"
	"  -q, --quiet             no summary and no progress line\n"
	"      --progress          show progress even when standard error is not a\n"
	"                          terminal\n"
	"      --no-progress       never show progress\n"
	"      --help              show this help and exit\n"
	"      --version           show the version and exit\n"
	"\n"
	"Exit status: 0 success, 1 an error in the input, the store or while running\n"
	"(changes since the last commit are dropped), 2 a usage error.\n";

enum {
	OPT_ID_FIELD = 256,
	OPT_TEXT_FIELD,
	OPT_DOC_FIELD,
	OPT_BATCH,
	OPT_REPLACE_DOCS,
	OPT_DELETE,
	OPT_SKIP_BAD,
	OPT_COMPACT,
	OPT_CHECK,
	OPT_NO_WAIT,
	OPT_ANALYZER,
	OPT_K1,
	OPT_B,
	OPT_INDEX_FIELD,
	OPT_METRIC,
	OPT_HNSW_M,
	OPT_HNSW_EFC,
	OPT_LEXICAL_OK,
	OPT_QUANTIZE,
	OPT_THREADS,
	OPT_STATS,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_HELP,
	OPT_VERSION
};

static const struct option options[] = {
	{"id-field", required_argument, NULL, OPT_ID_FIELD},
	{"text-field", required_argument, NULL, OPT_TEXT_FIELD},
	{"doc-field", required_argument, NULL, OPT_DOC_FIELD},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"replace-docs", no_argument, NULL, OPT_REPLACE_DOCS},
	{"delete", no_argument, NULL, OPT_DELETE},
	{"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
	{"compact", no_argument, NULL, OPT_COMPACT},
	{"check", no_argument, NULL, OPT_CHECK},
	{"no-wait", no_argument, NULL, OPT_NO_WAIT},
	{"analyzer", required_argument, NULL, OPT_ANALYZER},
	{"k1", required_argument, NULL, OPT_K1},
	{"b", required_argument, NULL, OPT_B},
	{"index-field", required_argument, NULL, OPT_INDEX_FIELD},
	{"metric", required_argument, NULL, OPT_METRIC},
	{"hnsw-m", required_argument, NULL, OPT_HNSW_M},
	{"hnsw-ef-construction", required_argument, NULL, OPT_HNSW_EFC},
	{"lexical-ok", no_argument, NULL, OPT_LEXICAL_OK},
	{"quantize", required_argument, NULL, OPT_QUANTIZE},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"stats", no_argument, NULL, OPT_STATS},
	{"quiet", no_argument, NULL, 'q'},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

typedef struct {
	/* options */
	const char *location;
	const char *id_field, *text_field, *doc_field;
	size_t batch;
	int replace_docs, deletes, skip_bad, compact, check, nowait, stats, quiet, progress;
	rag_store_settings want;
	unsigned set;
	/* the run */
	rag_store *s;
	rag_record_prep prep;
	rag_buf doc;  /* the document open under --replace-docs */
	int doc_open;
	size_t since; /* records since the last commit */
	long read, added, updated, unchanged, deleted, skipped;
	cmd_progress prog;
	double t0;
} run_t;

/* A number for --k1 or --b: finite, within [lo, hi].  0, or EXIT_USAGE. */
static int real_option(const char *name, const char *v, double lo, double hi, double *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (!*v || *end || errno || !isfinite(d))
		return cmd_usage_error("%s needs a number, not %s", name, rag_quote(0, v));
	if (d < lo || d > hi) {
		if (hi == HUGE_VAL)
			return cmd_usage_error("%s must be at least %g, not %s", name, lo, v);
		return cmd_usage_error("%s must be between %g and %g, not %s", name, lo, hi, v);
	}
	*out = d;
	return 0;
}

/* --index-field PATH: a field path, kept once however it is written.  0, or EXIT_USAGE. */
static int index_field_option(run_t *r, const char *path)
{
	rag_error err;
	rag_filter *f;
	rag_buf text;
	int rc = 0;

	if (!(f = rag_filter_path(path, &err))) {
		if (err.code != RAG_EUSAGE) {
			cmd_report(&err);
			return EXIT_FAILURE;
		}
		return cmd_usage_error("--index-field: %s", err.text);
	}
	rag_buf_init(&text, 0);
	if (rag_filter_path_text(f, &text) < 0) {
		rag_error_set(&err, RAG_ENOMEM, NULL, 0, "out of memory");
		cmd_report(&err);
		rc = EXIT_FAILURE;
		goto out;
	}
	for (unsigned i = 0; i < r->want.nfields; i++)
		if (strcmp(r->want.fields[i], text.data) == 0)
			goto out;
	if (text.len >= RAG_FIELD_NAME_MAX)
		rc = cmd_usage_error("--index-field: the path is longer than %d bytes",
				     RAG_FIELD_NAME_MAX - 1);
	else if (r->want.nfields == RAG_FIELDS_MAX)
		rc = cmd_usage_error("--index-field: at most %d fields", RAG_FIELDS_MAX);
	if (rc)
		goto out;
	snprintf(r->want.fields[r->want.nfields++], RAG_FIELD_NAME_MAX, "%s", text.data);
	r->set |= RAG_SET_FIELDS;
out:
	rag_buf_free(&text);
	rag_filter_free(f);
	return rc;
}

/* --analyzer NAME: one the library knows.  0, or EXIT_USAGE. */
static int analyzer_option(run_t *r, const char *name)
{
	const char *const *names = rag_analyzer_names();
	char list[256] = "";
	size_t i, n = 0;

	for (i = 0; names[i]; i++)
		if (!strcmp(names[i], name)) {
			snprintf(r->want.analyzer, sizeof r->want.analyzer, "%s", name);
			r->set |= RAG_SET_ANALYZER;
			return 0;
		}
	for (i = 0; names[i]; i++) {
		n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
				      i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
		if (n >= sizeof list)
			break;
	}
	return cmd_usage_error("unknown analyzer %s (use %s)", rag_quote(0, name), list);
}

static void progress(run_t *r)
{
	double secs;

	if (!cmd_progress_due(&r->prog))
		return;
	secs = cmd_now() - r->t0;
	cmd_progress_show(&r->prog, "%ld records, %.0f/s", r->read,
			  secs > 0 ? (double)r->read / secs : 0.0);
}

/* Reports an error; returns its exit status. */
static int report(run_t *r, const rag_error *err)
{
	cmd_progress_clear(&r->prog);
	cmd_report(err);
	return cmd_status(err);
}

/*
 * A bad record: with --skip-bad it is reported and counted, and the run
 * goes on (1); otherwise it stops the run (0).
 */
static int skippable(run_t *r, const rag_error *err)
{
	if (!r->skip_bad || err->code != RAG_EDATA)
		return 0;
	cmd_progress_clear(&r->prog);
	cmd_report(err);
	r->skipped++;
	return 1;
}

/* Commits when a batch is complete (and, under --replace-docs, no document is open). */
static int maybe_commit(run_t *r, rag_error *err)
{
	if ((r->since < r->batch && rag_store_pending_bytes(r->s) < RAG_STORE_BATCH_BYTES) ||
	    r->doc_open)
		return 0;
	r->since = 0;
	return rag_store_commit(r->s, err);
}

static int doc_end(run_t *r, rag_error *err)
{
	long n = 0;

	if (!r->doc_open)
		return 0;
	r->doc_open = 0;
	if (rag_store_doc_end(r->s, &n, err) < 0)
		return -1;
	r->deleted += n;
	return 0;
}

/* Under --replace-docs: ends and begins documents as the record's changes. */
static int follow_doc(run_t *r, const rag_store_record *rec, rag_error *err)
{
	if (r->doc_open && rec->doc && rec->doc_len == r->doc.len &&
	    memcmp(rec->doc, r->doc.data, rec->doc_len) == 0)
		return 0;
	if (doc_end(r, err) < 0 || maybe_commit(r, err) < 0)
		return -1;
	if (!rec->doc)
		return 0;
	r->doc.len = 0;
	if (rag_buf_add(&r->doc, rec->doc, rec->doc_len) < 0)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	if (rag_store_doc_begin(r->s, rec->doc, rec->doc_len, err) < 0)
		return -1;
	r->doc_open = 1;
	return 0;
}

static int add_one(run_t *r, const rag_store_record *rec, rag_error *err)
{
	int k;

	if (r->replace_docs && follow_doc(r, rec, err) < 0)
		return -1;
	k = rag_store_add(r->s, rec, err);
	if (k < 0)
		return -1;
	if (k == RAG_STORE_ADDED)
		r->added++;
	else if (k == RAG_STORE_UPDATED)
		r->updated++;
	else
		r->unchanged++;
	r->since++;
	return maybe_commit(r, err);
}

static int delete_one(run_t *r, const char *id, size_t len, rag_error *err)
{
	int k = rag_store_delete(r->s, id, len, err);

	if (k < 0)
		return -1;
	r->deleted += k;
	r->since++;
	return maybe_commit(r, err);
}

/* Reads one input into the store.  0, or -1 with err set (reported by the caller). */
static int one_input(run_t *r, const char *path, rag_error *err)
{
	rag_reader *rd = rag_reader_open(path, 0, err);
	rag_store_record rec;
	const char *id;
	size_t len;
	int k, rc = 0;

	if (!rd) {
		/* With --skip-bad, a file that cannot be read is left out like a bad record. */
		if (!r->skip_bad || err->code == RAG_ENOMEM)
			return -1;
		cmd_progress_clear(&r->prog);
		cmd_report(err);
		r->skipped++;
		return 0;
	}
	for (;;) {
		k = r->deletes ? rag_record_read_id(&r->prep, rd, &id, &len, err)
			      : rag_record_read(&r->prep, rd, &rec, err);
		if (k == 0)
			break;
		if (k < 0) {
			if (skippable(r, err))
				continue;
			rc = -1;
			break;
		}
		r->read++;
		if ((r->deletes ? delete_one(r, id, len, err) : add_one(r, &rec, err)) < 0) {
			/* A record the store refuses: name its place. */
			if (err->code == RAG_EDATA && !err->source[0]) {
				snprintf(err->source, sizeof err->source, "%s", rag_reader_name(rd));
				err->line = rag_reader_lineno(rd);
			}
			rc = -1;
			break;
		}
		progress(r);
	}
	rag_reader_free(rd);
	return rc;
}

/* Writes --stats.  0, or -1 with err set. */
static int write_stats(run_t *r, const rag_store_stats *st, double secs, rag_error *err)
{
	rag_writer *w = rag_writer_new(1);
	rag_buf *b, loc;
	int rc;

	if (!w)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	rag_buf_init(&loc, 0);
	if (rag_utf8_repair(r->location, strlen(r->location), &loc, NULL, 0) < 0) {
		rag_writer_close(w, NULL);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	b = rag_writer_begin(w);
	rc = rag_buf_adds(b, "{\"store\":") < 0 ||
	     rag_json_add_string(b, loc.data ? loc.data : "", loc.len) < 0 ||
	     rag_buf_addf(b, ",\"added\":%ld,\"updated\":%ld,\"unchanged\":%ld,\"deleted\":%ld,"
			     "\"skipped\":%ld,\"records\":%llu,\"segments\":%llu,\"bytes\":%llu,"
			     "\"seconds\":",
			  r->added, r->updated, r->unchanged, r->deleted, r->skipped,
			  (unsigned long long)st->records, (unsigned long long)st->segments,
			  (unsigned long long)st->bytes) < 0 ||
	     rag_json_add_real(b, floor(secs * 1000 + 0.5) / 1000, 0) < 0 ||
	     rag_buf_addc(b, '}') < 0
		     ? -1
		     : 0;
	rag_buf_free(&loc);
	if (rc < 0) {
		rag_writer_cancel(w);
		rag_writer_close(w, NULL);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	if (rag_writer_end(w, err) < 0) {
		rag_writer_close(w, NULL);
		return -1;
	}
	return rag_writer_close(w, err);
}

static void summary(run_t *r, double secs)
{
	rag_error e;

	cmd_progress_clear(&r->prog);
	if (r->skipped)
		cmd_say("left out %ld bad record%s (--skip-bad)", r->skipped,
			r->skipped == 1 ? "" : "s");
	if (r->quiet)
		return;
	rag_error_set(&e, RAG_OK, r->location, 0,
		      "%ld added, %ld updated, %ld unchanged, %ld deleted, %.2f s", r->added,
		      r->updated, r->unchanged, r->deleted, secs);
	cmd_report(&e);
}

/* rag-index --check STORE */
static int check(run_t *r)
{
	rag_error e;
	uint64_t n = 0;
	char line[RAG_ERROR_SOURCE_MAX * 2 + RAG_ERROR_TEXT_MAX + 64];

	if (rag_store_check(r->location, &n, &e) < 0) {
		cmd_report(&e);
		/* Damage is a failure, whatever the class of the first problem found. */
		return EXIT_FAILURE;
	}
	if (r->quiet)
		return EXIT_SUCCESS;
	/* "STORE: ok, N records", the store's name escaped as in messages. */
	rag_error_set(&e, RAG_OK, r->location, 0, "ok, %llu record%s", (unsigned long long)n,
		      n == 1 ? "" : "s");
	rag_error_format(&e, NULL, line, sizeof line - 1);
	strcat(line, "\n");
	return cmd_print(line);
}

static int run(run_t *r, int nfiles, char **files)
{
	rag_error err;
	rag_store_stats st;
	int flags = RAG_STORE_WRITE, i;

	/* Only adding records creates a store. */
	if (!r->deletes && !(r->compact && nfiles == 0))
		flags |= RAG_STORE_CREATE;
	if (r->nowait)
		flags |= RAG_STORE_NOWAIT;
	r->s = rag_store_open(r->location, flags, &r->want, r->set, &err);
	if (!r->s)
		return report(r, &err);
	if (!(r->compact && nfiles == 0)) {
		if (nfiles == 0) {
			if (one_input(r, "-", &err) < 0)
				return report(r, &err);
		}
		for (i = 0; i < nfiles; i++)
			if (one_input(r, files[i], &err) < 0)
				return report(r, &err);
	}
	if (doc_end(r, &err) < 0 || rag_store_commit(r->s, &err) < 0)
		return report(r, &err);
	if (r->compact && rag_store_compact(r->s, &err) < 0)
		return report(r, &err);
	if (r->stats) {
		double secs = cmd_now() - r->t0;
		if (rag_store_stats_get(r->s, &st, &err) < 0)
			return report(r, &err);
		if (write_stats(r, &st, secs, &err) < 0 && err.code != RAG_EPIPE)
			return report(r, &err);
	}
	summary(r, cmd_now() - r->t0);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	run_t r;
	rag_error err;
	int opt, status;

	cmd_init("rag-index");
	memset(&r, 0, sizeof r);
	r.t0 = cmd_now();
	r.batch = 100000;
	r.progress = -1;
	rag_store_settings_default(&r.want);
	rag_buf_init(&r.doc, 0);

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":q", options, NULL)) != -1) {
		char why[256];
		switch (opt) {
		case OPT_ID_FIELD: r.id_field = optarg; break;
		case OPT_TEXT_FIELD: r.text_field = optarg; break;
		case OPT_DOC_FIELD: r.doc_field = optarg; break;
		case OPT_BATCH:
			if (cmd_count("--batch", optarg, 1, &r.batch, why, sizeof why) < 0)
				return cmd_usage_error("%s", why);
			break;
		case OPT_REPLACE_DOCS: r.replace_docs = 1; break;
		case OPT_DELETE: r.deletes = 1; break;
		case OPT_SKIP_BAD: r.skip_bad = 1; break;
		case OPT_COMPACT: r.compact = 1; break;
		case OPT_CHECK: r.check = 1; break;
		case OPT_NO_WAIT: r.nowait = 1; break;
		case OPT_ANALYZER:
			if (analyzer_option(&r, optarg))
				return EXIT_USAGE;
			break;
		case OPT_K1:
			if (real_option("--k1", optarg, 0, HUGE_VAL, &r.want.k1))
				return EXIT_USAGE;
			r.set |= RAG_SET_K1;
			break;
		case OPT_B:
			if (real_option("--b", optarg, 0, 1, &r.want.b))
				return EXIT_USAGE;
			r.set |= RAG_SET_B;
			break;
		case OPT_INDEX_FIELD:
			if ((status = index_field_option(&r, optarg)) != 0)
				return status;
			break;
		case OPT_METRIC:
			if ((r.want.metric = rag_metric_parse(optarg)) < 0)
				return cmd_usage_error("unknown metric %s (use cosine, ip or l2)",
						       rag_quote(0, optarg));
			r.set |= RAG_SET_METRIC;
			break;
		case OPT_HNSW_M:
		case OPT_HNSW_EFC:
		case OPT_THREADS: {
			size_t v, lo = opt == OPT_HNSW_M ? RAG_HNSW_M_MIN : 1;
			size_t hi = opt == OPT_HNSW_M	  ? RAG_HNSW_M_MAX
				    : opt == OPT_HNSW_EFC ? RAG_HNSW_EFC_MAX
							  : 1024;
			const char *name = opt == OPT_HNSW_M	 ? "--hnsw-m"
					   : opt == OPT_HNSW_EFC ? "--hnsw-ef-construction"
								 : "--threads";
			if (cmd_count(name, optarg, lo, &v, why, sizeof why) < 0)
				return cmd_usage_error("%s", why);
			if (v > hi)
				return cmd_usage_error("%s must be at most %zu, not %s", name, hi, optarg);
			if (opt == OPT_HNSW_M) {
				r.want.hnsw_m = (unsigned)v;
				r.set |= RAG_SET_HNSW_M;
			} else if (opt == OPT_HNSW_EFC) {
				r.want.hnsw_efc = (unsigned)v;
				r.set |= RAG_SET_HNSW_EFC;
			} else {
				r.want.threads = (unsigned)v;
			}
			break;
		}
		case OPT_QUANTIZE:
			if ((r.want.quant = rag_quant_parse(optarg)) < 0)
				return cmd_usage_error("unknown quantization %s (use none, f16 or int8)",
						       rag_quote(0, optarg));
			r.set |= RAG_SET_QUANT;
			break;
		case OPT_LEXICAL_OK:
			r.want.lexical_ok = 1;
			r.set |= RAG_SET_LEXICAL_OK;
			break;
		case OPT_STATS: r.stats = 1; break;
		case 'q': r.quiet = 1; break;
		case OPT_PROGRESS: r.progress = 1; break;
		case OPT_NO_PROGRESS: r.progress = 0; break;
		case OPT_HELP: return cmd_print(usage);
		case OPT_VERSION: return cmd_version();
		default: return cmd_bad_option(opt, argv);
		}
	}
	if (optind >= argc)
		return cmd_usage_error("no store given");
	r.location = argv[optind++];
	if (!*r.location)
		return cmd_usage_error("the store cannot be an empty name");
	if ((r.id_field && !*r.id_field) || (r.text_field && !*r.text_field) ||
	    (r.doc_field && !*r.doc_field))
		return cmd_usage_error("field names cannot be empty");
	if (r.check) {
		const char *other = optind < argc ? "FILE operands"
				    : r.deletes      ? "--delete"
				    : r.compact      ? "--compact"
				    : r.replace_docs ? "--replace-docs"
				    : r.stats        ? "--stats"
				    : r.set          ? "store settings"
							 : NULL;
		if (other)
			return cmd_usage_error("--check cannot be combined with %s", other);
		return check(&r);
	}
	if (r.deletes && r.replace_docs)
		return cmd_usage_error("--delete cannot be combined with --replace-docs");

	r.prog.on = !r.quiet && (r.progress == 1 || (r.progress == -1 && isatty(2)));
	if (rag_record_prep_init(&r.prep, r.id_field, r.text_field, r.doc_field, &err) < 0) {
		cmd_report(&err);
		return EXIT_FAILURE;
	}
	status = run(&r, argc - optind, argv + optind);
	cmd_progress_clear(&r.prog);
	rag_store_close(r.s); /* drops what was not committed after an error */
	rag_record_prep_clear(&r.prep);
	rag_buf_free(&r.doc);
	return status;
}
