/*
 * rag-prompt - turn the hits of each query into a prompt for a chat model.
 *
 * Options and I/O only: lib/prompt.c merges, numbers, budgets and renders;
 * lib/ndjson.c reads the hits and writes the prompts.
 */
#include "config.h"

#include <getopt.h>
#include <unistd.h>

#include "cmd.h"
#include "prompt.h"

static const char usage[] =
    "Usage: rag-prompt [OPTION]... [FILE]...\n"
    "Read hit records (NDJSON, as rag-search writes them) from the FILEs\n"
    "(standard input when there are none, or for -) and write, for each run of\n"
    "hits of the same query, one prompt record: {\"query\", \"qid\", \"messages\":\n"
    "[system, user], \"sources\": [...]}.  Hits of a document that overlap or\n"
    "touch are merged, duplicates dropped, and the passages numbered [1]..[n]\n"
    "by rank, as many as the token budget holds.\n"
    "\n"
    "  -n, --max-tokens=N      the budget of the whole prompt (system and user\n"
    "                          messages), at one token per 4 bytes, rounded up\n"
    "                          (default: 3000; 0 for no limit)\n"
    "  -t, --template=FILE     the user message's template: {{question}},\n"
    "                          {{context}}, {{#sources}}...{{/sources}} with\n"
    "                          {{n}}, {{text}}, {{source}}, ... (see rag-prompt(1))\n"
    "  -s, --system=TEXT       the system message (default: answer only from the\n"
    "                          sources and cite them as [n])\n"
    "      --format=FORMAT     ndjson (default) or text: the prompt to read or to\n"
    "                          pipe into another program\n"
    "      --help              show this help and exit\n"
    "      --version           show the version and exit\n"
    "\n"
    "Exit status: 0 success, 1 an error in the input or while running, 2 a usage\n"
    "error (a bad option or template).\n";

enum { OPT_FORMAT = 256, OPT_HELP, OPT_VERSION };

static const struct option options[] = {
    {"max-tokens", required_argument, NULL, 'n'},
    {"template", required_argument, NULL, 't'},
    {"system", required_argument, NULL, 's'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

typedef struct {
	rag_prompt *p;
	rag_writer *w;
	int text;
	unsigned long long written;
	int write_failed;
} run_t;

/* Writes the prompt of the group and empties it.  0, or -1 with err set. */
static int emit(run_t *r, rag_error *err)
{
	rag_buf *b = rag_writer_begin(r->w);
	rag_error warn;

	if (!b)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	/* in text, a blank line between prompts */
	if (r->text && r->written > 0 && rag_buf_addc(b, '\n') < 0) {
		rag_writer_cancel(r->w);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	}
	if (rag_prompt_build(r->p, b, &warn, err) < 0) {
		rag_writer_cancel(r->w);
		return -1;
	}
	if (warn.code != RAG_OK) {
		rag_error_prefix(&warn, "warning: ");
		cmd_report(&warn);
	}
	rag_prompt_reset(r->p);
	if (rag_writer_end(r->w, err) < 0) {
		r->write_failed = 1;
		return -1;
	}
	r->written++;
	return 0;
}

/* Reads one input, writing the prompts of the groups it completes.  0, or -1 with err set. */
static int one_input(run_t *r, const char *path, rag_error *err)
{
	rag_reader *rd = rag_reader_open(path, 0, err);
	int rc = 0;

	if (!rd)
		return -1;
	for (;;) {
		json_t *rec = NULL;
		const char *line;
		size_t len;
		int k = rag_reader_next(rd, &rec, err);
		if (k == 0)
			break;
		if (k < 0) {
			rc = -1;
			break;
		}
		line = rag_reader_line(rd, &len);
		k = rag_prompt_add(r->p, rec, line, len, rag_reader_members(rd),
		                   rag_reader_name(rd), rag_reader_lineno(rd), err);
		if (k == 0) {
			/* the first hit of the next query: the group before is whole */
			if (emit(r, err) < 0) {
				json_decref(rec);
				rc = -1;
				break;
			}
			/* a prompt goes out before the program waits for more input */
			if (!rag_reader_ready(rd) && rag_writer_flush(r->w, err) < 0) {
				r->write_failed = 1;
				json_decref(rec);
				rc = -1;
				break;
			}
			k = rag_prompt_add(r->p, rec, line, len, rag_reader_members(rd),
			                   rag_reader_name(rd), rag_reader_lineno(rd), err);
		}
		json_decref(rec);
		if (k < 0) {
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
	rag_prompt_opts o;
	rag_template *tmpl = NULL;
	const char *template_path = NULL;
	int opt, status = EXIT_USAGE, i;

	cmd_init("rag-prompt");
	memset(&r, 0, sizeof r);
	memset(&o, 0, sizeof o);
	o.max_tokens = RAG_PROMPT_DEFAULT_MAX_TOKENS;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":n:t:s:", options, NULL)) != -1) {
		char why[256];
		switch (opt) {
		case 'n':
			if (cmd_count("--max-tokens", optarg, 0, &o.max_tokens, why, sizeof why) <
			    0) {
				status = cmd_usage_error("%s", why);
				goto out;
			}
			break;
		case 't':
			template_path = optarg;
			break;
		case 's':
			if (rag_utf8_valid_prefix(optarg, strlen(optarg)) < strlen(optarg)) {
				status = cmd_usage_error("--system is not valid UTF-8");
				goto out;
			}
			o.system = optarg;
			break;
		case OPT_FORMAT: {
			int text = 0;
			if ((status = cmd_format(optarg, &text)) != 0)
				goto out;
			o.format = text ? RAG_PROMPT_TEXT : RAG_PROMPT_NDJSON;
			break;
		}
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
	/* the template is checked before any input is read */
	if (template_path && !(tmpl = rag_template_read(template_path, &err))) {
		cmd_report(&err);
		status = cmd_status(&err);
		goto out;
	}
	o.tmpl = tmpl;
	r.text = o.format == RAG_PROMPT_TEXT;
	if (!(r.p = rag_prompt_new(&o, &err))) {
		cmd_report(&err);
		status = EXIT_FAILURE;
		goto out;
	}
	if (!(r.w = rag_writer_new(STDOUT_FILENO))) {
		cmd_say("out of memory");
		status = EXIT_FAILURE;
		goto out;
	}
	status = EXIT_FAILURE;
	if (optind >= argc) {
		if (one_input(&r, "-", &err) < 0)
			goto failed;
	}
	for (i = optind; i < argc; i++)
		if (one_input(&r, argv[i], &err) < 0)
			goto failed;
	if (rag_prompt_count(r.p) > 0 && emit(&r, &err) < 0)
		goto failed;
	if (rag_writer_close(r.w, &err) < 0) {
		r.w = NULL;
		goto failed;
	}
	r.w = NULL;
	status = EXIT_SUCCESS;
	goto out;
failed:
	if (err.code != RAG_EPIPE)
		cmd_report(&err);
	status = err.code == RAG_EPIPE ? EXIT_SUCCESS : cmd_status(&err);
out:
	cmd_output_close(r.w, r.write_failed || status != EXIT_SUCCESS);
	rag_prompt_free(r.p);
	rag_template_free(tmpl);
	return status;
}
