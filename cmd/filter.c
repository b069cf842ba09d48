/*
 * rag-filter - pass on the records that match a filter expression.
 *
 * Options and I/O only: lib/filter.c compiles and evaluates expressions,
 * lib/ndjson.c reads and writes the records.
 */
#include "config.h"

#include <getopt.h>
#include <unistd.h>

#include "cmd.h"
#include "ndjson.h"

static const char usage[] =
	"Usage: rag-filter [OPTION]... EXPR [FILE]...\n"
	"Write the NDJSON records of the FILEs (standard input when there are none,\n"
	"or for -) that match the filter expression EXPR, unchanged, byte for byte.\n"
	"EXPR is a Milvus boolean expression, for example\n"
	"  'year >= 2020 and source in [\"arxiv\", \"acl\"] and not title like \"%draft%\"'\n"
	"rag-filter(1) describes the language.\n"
	"\n"
	"  -v, --invert-match      write the records that do not match\n"
	"  -c, --count             write only the number of records written otherwise\n"
	"  -p, --param NAME=VALUE  the value of {NAME} in EXPR: JSON (2020, \"x\", [1, 2],\n"
	"                          true) or else the text as a string; repeatable\n"
	"      --skip-bad          report bad records and unreadable files and go on\n"
	"                          without them (the exit status is still 2)\n"
	"      --help              show this help and exit\n"
	"      --version           show the version and exit\n"
	"\n"
	"Exit status: 0 some record was written (or counted), 1 none was, 2 an\n"
	"error (a bad expression, a bad record, a file that cannot be read).\n";

enum { OPT_SKIP_BAD = 256, OPT_HELP, OPT_VERSION };

static const struct option options[] = {
	{"invert-match", no_argument, NULL, 'v'},
	{"count", no_argument, NULL, 'c'},
	{"param", required_argument, NULL, 'p'},
	{"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

#define EXIT_NONE 1  /* nothing matched */
#define EXIT_ERROR 2 /* as grep */

typedef struct {
	rag_filter *f;
	rag_writer *w;
	int invert, count, skip_bad;
	int write_failed; /* the writer failed: it would say so again */
	unsigned long long written, skipped;
} run_t;

/* Filters one input.  0, or -1 with err set. */
static int one_input(run_t *r, const char *path, rag_error *err)
{
	rag_reader *rd = rag_reader_open(path, 0, err);
	int rc = 0;

	if (!rd) {
		/* With --skip-bad, a file that cannot be read is left out like a bad record. */
		if (r->skip_bad && err->code != RAG_ENOMEM) {
			cmd_report(err);
			r->skipped++;
			return 0;
		}
		return -1;
	}
	{
		/* only what the expression reads is built */
		int whole;
		const char *const *fields = rag_filter_fields(r->f, &whole);
		if (!whole)
			rag_reader_keep(rd, fields);
	}
	for (;;) {
		json_t *rec = NULL;
		const char *line;
		size_t len;
		int k = rag_reader_next(rd, &rec, err);
		if (k == 0)
			break;
		if (k < 0) {
			if (r->skip_bad && err->code == RAG_EDATA) {
				cmd_report(err);
				r->skipped++;
				continue;
			}
			if (r->skip_bad && err->code == RAG_EIO) {
				/* the rest of a file that cannot be read is left out */
				cmd_report(err);
				r->skipped++;
				break;
			}
			rc = -1;
			break;
		}
		k = rag_filter_match(r->f, rec, err);
		json_decref(rec);
		if (k < 0) {
			/* a regex resource limit: about this record */
			err->line = rag_reader_lineno(rd);
			snprintf(err->source, sizeof err->source, "%s", rag_reader_name(rd));
			if (r->skip_bad) {
				cmd_report(err);
				r->skipped++;
				continue;
			}
			rc = -1;
			break;
		}
		if (k == r->invert)
			continue;
		r->written++;
		if (r->count)
			continue;
		line = rag_reader_line(rd, &len);
		if (rag_writer_put_raw(r->w, line, len, err) < 0) {
			r->write_failed = 1;
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
	rag_filter_params params = {NULL, 0};
	const char *expr;
	int opt, status = EXIT_ERROR, i;

	cmd_init("rag-filter");
	memset(&r, 0, sizeof r);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":vcp:", options, NULL)) != -1) {
		switch (opt) {
		case 'v': r.invert = 1; break;
		case 'c': r.count = 1; break;
		case 'p':
			if (rag_filter_params_add(&params, optarg, &err) < 0) {
				if (err.code == RAG_EUSAGE)
					cmd_usage_error("%s", err.text);
				else
					cmd_report(&err);
				goto out;
			}
			break;
		case OPT_SKIP_BAD: r.skip_bad = 1; break;
		case OPT_HELP: status = cmd_print(usage) ? EXIT_ERROR : EXIT_SUCCESS; goto out;
		case OPT_VERSION: status = cmd_version() ? EXIT_ERROR : EXIT_SUCCESS; goto out;
		default:
			cmd_bad_option(opt, argv);
			goto out;
		}
	}
	if (optind >= argc) {
		cmd_usage_error("no filter expression given");
		goto out;
	}
	expr = argv[optind++];
	if (!(r.f = rag_filter_compile(expr, params.v, params.n, &err))) {
		cmd_report_expr(expr, &err);
		goto out;
	}
	if (!(r.w = rag_writer_new(STDOUT_FILENO))) {
		cmd_say("out of memory");
		goto out;
	}
	if (optind >= argc) {
		if (one_input(&r, "-", &err) < 0)
			goto failed;
	}
	for (i = optind; i < argc; i++)
		if (one_input(&r, argv[i], &err) < 0)
			goto failed;
	if (r.count) {
		rag_buf *b = rag_writer_begin(r.w);
		if (!b || rag_buf_addf(b, "%llu", r.written) < 0) {
			rag_writer_cancel(r.w);
			cmd_say("out of memory");
			goto out;
		}
		if (rag_writer_end(r.w, &err) < 0) {
			r.write_failed = 1;
			goto failed;
		}
	}
	if (rag_writer_close(r.w, &err) < 0) {
		r.w = NULL;
		goto failed;
	}
	r.w = NULL;
	if (r.skipped)
		cmd_say("left out %llu bad input%s (--skip-bad)", r.skipped, r.skipped == 1 ? "" : "s");
	status = r.skipped ? EXIT_ERROR : r.written ? EXIT_SUCCESS : EXIT_NONE;
	goto out;
failed:
	if (err.code != RAG_EPIPE)
		cmd_report(&err);
	status = err.code == RAG_EPIPE ? (r.written ? EXIT_SUCCESS : EXIT_NONE) : EXIT_ERROR;
out:
	cmd_output_close(r.w, r.write_failed);
	rag_filter_free(r.f);
	rag_filter_params_free(&params);
	return status;
}
