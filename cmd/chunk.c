/*
 * rag-chunk - split documents into chunk records.
 *
 * Options and I/O only: the walking, reading, splitting and record
 * writing are lib/walk.c and lib/chunk.c.
 */
#include "config.h"

#include <getopt.h>
#include <unistd.h>

#include "chunk.h"
#include "cmd.h"
#include "conf.h"
#include "walk.h"

static const char usage[] =
	"Usage: rag-chunk [OPTION]... [FILE|DIR]...\n"
	"Split documents into chunks, written as NDJSON records.\n"
	"Directories are read recursively; with no FILE, or when FILE is -,\n"
	"standard input is read.\n"
	"\n"
	"Input:\n"
	"  -j, --json              read NDJSON documents (done anyway for *.jsonl, *.ndjson)\n"
	"      --text-field=NAME   the text field of NDJSON documents (default: text)\n"
	"      --id-field=NAME     the id field of NDJSON documents (default: id)\n"
	"      --doc-id=ID         the document id of text read from standard input\n"
	"                          (default: -)\n"
	"  -f, --format=FORMAT     read documents as text, markdown or html\n"
	"                          (default: by file extension, text otherwise)\n"
	"      --loader=EXT=CMD    convert *.EXT files to text with the shell command CMD,\n"
	"                          in which {} stands for the file\n"
	"      --files0-from=FILE  read the names of the inputs, NUL-separated, from FILE\n"
	"      --include=GLOB      in directories, read only files that match GLOB\n"
	"      --exclude=GLOB      in directories, leave out files and directories\n"
	"                          that match GLOB\n"
	"      --hidden            in directories, read names that start with '.' too\n"
	"      --lossy             replace invalid UTF-8 with U+FFFD instead of failing\n"
	"      --skip-bad          leave out bad records and unreadable files, and\n"
	"                          report how many at the end\n"
	"\n"
	"Chunking:\n"
	"      --strategy=NAME     recursive (default), sentence or fixed\n"
	"  -s, --size=N            the largest chunk, in units (default: 1000)\n"
	"      --overlap=N         units a chunk may share with the one before\n"
	"                          (default: 100)\n"
	"  -u, --unit=UNIT         chars (default), words or tokens (an estimate)\n"
	"\n"
	"Messages:\n"
	"  -q, --quiet             no progress line and no summary\n"
	"  -v, --verbose           a summary at the end, and a line for each input\n"
	"                          left out\n"
	"      --progress          show progress even when standard error is not a\n"
	"                          terminal\n"
	"      --help              show this help and exit\n"
	"      --version           show the version and exit\n"
	"\n"
	"Settings can also come from the configuration file (see rag-chunk(1)).\n"
	"Exit status: 0 success, 1 an error in the input or while running,\n"
	"2 a usage error.\n";

enum {
	OPT_TEXT_FIELD = 256,
	OPT_ID_FIELD,
	OPT_DOC_ID,
	OPT_LOADER,
	OPT_FILES0,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_HIDDEN,
	OPT_LOSSY,
	OPT_SKIP_BAD,
	OPT_STRATEGY,
	OPT_OVERLAP,
	OPT_PROGRESS,
	OPT_HELP,
	OPT_VERSION
};

static const struct option options[] = {
	{"json", no_argument, NULL, 'j'},
	{"text-field", required_argument, NULL, OPT_TEXT_FIELD},
	{"id-field", required_argument, NULL, OPT_ID_FIELD},
	{"doc-id", required_argument, NULL, OPT_DOC_ID},
	{"format", required_argument, NULL, 'f'},
	{"loader", required_argument, NULL, OPT_LOADER},
	{"files0-from", required_argument, NULL, OPT_FILES0},
	{"include", required_argument, NULL, OPT_INCLUDE},
	{"exclude", required_argument, NULL, OPT_EXCLUDE},
	{"hidden", no_argument, NULL, OPT_HIDDEN},
	{"lossy", no_argument, NULL, OPT_LOSSY},
	{"skip-bad", no_argument, NULL, OPT_SKIP_BAD},
	{"strategy", required_argument, NULL, OPT_STRATEGY},
	{"size", required_argument, NULL, 's'},
	{"overlap", required_argument, NULL, OPT_OVERLAP},
	{"unit", required_argument, NULL, 'u'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* A setting as given: its text, and its line in the configuration file (0: an option). */
typedef struct {
	const char *v;
	long line;
} given;

/* The settings, from defaults, then the configuration file, then options. */
typedef struct {
	rag_chunk_opts o;
	given size, overlap, unit, strategy, format;
	const char *config;                   /* the configuration file's path */
	const char *files0;
	const char **include, **exclude;
	size_t ninclude, nexclude;
	rag_loader *loaders;
	size_t nloaders;
	int hidden, quiet, verbose, progress;
	cmd_progress prog;
} settings;

static int push_glob(const char ***v, size_t *n, const char *g)
{
	const char **p = realloc(*v, (*n + 2) * sizeof *p);

	if (!p)
		return -1;
	p[(*n)++] = g;
	p[*n] = NULL;
	*v = p;
	return 0;
}

static int add_loader(settings *s, const char *ext, const char *cmd, const char *spec,
		      rag_error *err)
{
	rag_loader *v = realloc(s->loaders, (s->nloaders + 1) * sizeof *v);

	if (!v)
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory");
	s->loaders = v;
	if ((spec ? rag_loader_parse(&v[s->nloaders], spec, err)
		  : rag_loader_set(&v[s->nloaders], ext, cmd, err)) < 0)
		return -1;
	s->nloaders++;
	return 0;
}

/* Takes the [chunk] and [loader] settings of the configuration file. */
static int apply_config(settings *s, const rag_config *cfg)
{
	const struct {
		const char *key;
		given *to;
	} keys[] = {
		{"chunk.size", &s->size},
		{"chunk.overlap", &s->overlap},
		{"chunk.unit", &s->unit},
		{"chunk.strategy", &s->strategy},
		{"chunk.format", &s->format},
	};
	size_t i, j;
	rag_error err;

	for (i = 0; i < rag_config_count(cfg); i++) {
		const char *k = rag_config_key(cfg, i), *v = rag_config_value(cfg, i);
		if (!strncmp(k, "loader.", 7)) {
			if (add_loader(s, k + 7, v, NULL, &err) < 0)
				goto bad;
			continue;
		}
		if (strncmp(k, "chunk.", 6))
			continue; /* another program's */
		for (j = 0; j < sizeof keys / sizeof keys[0]; j++)
			if (!strcmp(k, keys[j].key)) {
				*keys[j].to = (given){v, rag_config_line(cfg, i)};
				break;
			}
		if (j < sizeof keys / sizeof keys[0])
			continue;
		rag_error_set(&err, RAG_EUSAGE, NULL, 0, "unknown setting %s", rag_quote(0, k));
bad:
		err.line = rag_config_line(cfg, i);
		snprintf(err.source, sizeof err.source, "%s", rag_config_path(cfg));
		cmd_report(&err);
		return -1;
	}
	return 0;
}

static void notify(void *ctx, int kind, const rag_error *e)
{
	settings *s = ctx;

	if (!s->verbose || s->quiet)
		return;
	cmd_progress_clear(&s->prog);
	cmd_report(e);
}

static void progress(void *ctx, const rag_chunk_stats *st)
{
	settings *s = ctx;
	char b[32];

	if (cmd_progress_due(&s->prog))
		cmd_progress_show(&s->prog, "%ld files, %ld documents, %ld chunks, %s",
				  st->files, st->docs, st->chunks, cmd_bytes(st->bytes, b, sizeof b));
}

/*
 * A bad setting: from an option, a usage error; from the configuration
 * file, an error at its line.  Returns EXIT_USAGE.
 */
static int bad_setting(const settings *s, const given *g, const char *why)
{
	if (g->line > 0) {
		rag_error e;
		rag_error_set(&e, RAG_EUSAGE, s->config, g->line, "%s", why);
		cmd_report(&e);
		return EXIT_USAGE;
	}
	return cmd_usage_error("%s", why);
}

/* The name of a setting as the user gave it: "--size" or "chunk.size". */
static const char *setting_name(const given *g, const char *key)
{
	static char buf[2][32];
	static int slot;

	slot ^= 1;
	snprintf(buf[slot], sizeof buf[slot], "%s%s", g->line > 0 ? "chunk." : "--", key);
	return buf[slot];
}

/*
 * One of a set of named values (a unit, a strategy, a format): *out from
 * parse, or a complaint that lists the choices.  0, or EXIT_USAGE.
 */
static int choose(const settings *s, const given *g, int (*parse)(const char *),
		  const char *what, const char *choices, int *out)
{
	char why[256];

	if ((*out = parse(g->v)) >= 0)
		return 0;
	snprintf(why, sizeof why, "unknown %s %s (use %s)", what, rag_quote(0, g->v), choices);
	return bad_setting(s, g, why);
}

/* Turns the textual settings into chunker options.  0, or EXIT_USAGE. */
static int resolve(settings *s)
{
	rag_split_opts *so = &s->o.split;
	char why[256];
	int k;

	if (s->size.v && cmd_count(setting_name(&s->size, "size"), s->size.v, 1, &so->size,
				   why, sizeof why) < 0)
		return bad_setting(s, &s->size, why);
	if (s->overlap.v) {
		if (cmd_count(setting_name(&s->overlap, "overlap"), s->overlap.v, 0, &so->overlap,
			      why, sizeof why) < 0)
			return bad_setting(s, &s->overlap, why);
		if (so->overlap >= so->size) {
			snprintf(why, sizeof why, "%s (%zu) must be smaller than %s (%zu)",
				 setting_name(&s->overlap, "overlap"), so->overlap,
				 setting_name(&s->size, "size"), so->size);
			return bad_setting(s, &s->overlap, why);
		}
	} else {
		/* 100 units, or a tenth of the size when that is smaller. */
		so->overlap = so->size / 10 < 100 ? so->size / 10 : 100;
	}
	if (s->unit.v) {
		if (choose(s, &s->unit, rag_unit_parse, "unit", "chars, words or tokens", &k))
			return EXIT_USAGE;
		so->unit = (rag_unit)k;
	}
	if (s->strategy.v) {
		if (choose(s, &s->strategy, rag_strategy_parse, "strategy",
			   "recursive, sentence or fixed", &k))
			return EXIT_USAGE;
		so->strategy = (rag_strategy)k;
	}
	if (s->format.v) {
		if (choose(s, &s->format, rag_format_parse, "format", "text, markdown or html", &k))
			return EXIT_USAGE;
		s->o.format = (rag_format)k;
	}
	if (!*s->o.text_field || !*s->o.id_field)
		return cmd_usage_error("field names cannot be empty");
	if (!*s->o.stdin_id || rag_utf8_valid_prefix(s->o.stdin_id, strlen(s->o.stdin_id)) < strlen(s->o.stdin_id))
		return cmd_usage_error("--doc-id must be non-empty UTF-8");
	s->o.loaders = s->loaders;
	s->o.nloaders = s->nloaders;
	return 0;
}

/*
 * Handles an error about one input.  An input that cannot be read (a
 * missing file, a dangling link, a loader that fails) is reported and the
 * rest go on, as with cat(1); the exit status becomes 1.  Anything else
 * stops the run.  Returns 1 to go on, 0 to stop.
 */
static int input_failed(settings *s, rag_chunker *c, const rag_error *err, int *status)
{
	if (err->code == RAG_EPIPE)
		return 0;
	cmd_progress_clear(&s->prog);
	cmd_report(err);
	*status = cmd_status(err);
	return rag_chunker_input_error(c, err);
}

/* Chunks every input; returns the exit status. */
static int run(settings *s, rag_chunker *c, int argc, char **argv)
{
	rag_walk_opts wo = {s->include, s->exclude, s->hidden};
	rag_walk *w;
	rag_error err;
	const char *path;
	int from_dir, k, status = EXIT_SUCCESS;

	if (!s->files0 && argc == 0) {
		if (rag_chunker_file(c, "-", 0, &err) < 0)
			input_failed(s, c, &err, &status);
		return status;
	}
	w = rag_walk_new(&wo);
	if (!w) {
		cmd_say("out of memory");
		return EXIT_FAILURE;
	}
	for (int i = 0; i < argc; i++)
		if (rag_walk_add(w, argv[i]) < 0) {
			rag_walk_free(w);
			cmd_say("out of memory");
			return EXIT_FAILURE;
		}
	if (s->files0 && rag_walk_add_list(w, s->files0, &err) < 0) {
		rag_walk_free(w);
		input_failed(s, c, &err, &status);
		return status;
	}
	while ((k = rag_walk_next(w, &path, &from_dir, &err)) != RAG_WALK_END) {
		if (k == RAG_WALK_WARN) {
			cmd_progress_clear(&s->prog);
			cmd_report(&err);
			continue;
		}
		if (k == RAG_WALK_ERROR) {
			if (s->o.skip_bad && err.code != RAG_ENOMEM) {
				rag_chunker_skip(c, &err);
				continue;
			}
			if (err.code == RAG_ENOMEM || !input_failed(s, c, &err, &status))
				break;
			continue;
		}
		if (rag_chunker_file(c, path, from_dir, &err) < 0 && !input_failed(s, c, &err, &status))
			break;
	}
	if (k == RAG_WALK_ERROR && err.code == RAG_ENOMEM)
		input_failed(s, c, &err, &status);
	rag_walk_free(w);
	return status;
}

static void summary(settings *s, const rag_chunk_stats *st, double secs)
{
	char b[32];

	cmd_progress_clear(&s->prog);
	if (st->skipped)
		cmd_say("left out %ld bad input%s (--skip-bad)", st->skipped, st->skipped == 1 ? "" : "s");
	if (st->repairs)
		cmd_say("replaced %ld invalid UTF-8 sequence%s with U+FFFD (--lossy)", st->repairs,
			st->repairs == 1 ? "" : "s");
	if (s->verbose && !s->quiet) {
		char bin[64] = "";
		if (st->binary)
			snprintf(bin, sizeof bin, ", %ld binary file%s left out", st->binary,
				 st->binary == 1 ? "" : "s");
		cmd_say("%ld files, %ld documents, %ld chunks, %s in %.2f s%s", st->files, st->docs,
			st->chunks, cmd_bytes(st->bytes, b, sizeof b), secs, bin);
	}
}

int main(int argc, char **argv)
{
	settings s;
	rag_config *cfg;
	rag_writer *w = NULL;
	rag_chunker *c = NULL;
	rag_error err;
	double t0 = cmd_now();
	int opt, status;

	cmd_init("rag-chunk");
	memset(&s, 0, sizeof s);
	s.o.split.strategy = RAG_SPLIT_RECURSIVE;
	s.o.split.unit = RAG_UNIT_CHARS;
	s.o.split.size = 1000;
	s.o.text_field = "text";
	s.o.id_field = "id";
	s.o.stdin_id = "-";

	cfg = rag_config_load(&err);
	if (!cfg) {
		cmd_report(&err);
		return EXIT_USAGE;
	}
	s.config = rag_config_path(cfg);
	if (apply_config(&s, cfg) < 0) {
		status = EXIT_USAGE;
		goto out;
	}
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jf:s:u:qv", options, NULL)) != -1) {
		switch (opt) {
		case 'j': s.o.json = 1; break;
		case OPT_TEXT_FIELD: s.o.text_field = optarg; break;
		case OPT_ID_FIELD: s.o.id_field = optarg; break;
		case OPT_DOC_ID: s.o.stdin_id = optarg; break;
		case 'f': s.format = (given){optarg, 0}; break;
		case OPT_LOADER:
			if (add_loader(&s, NULL, NULL, optarg, &err) < 0) {
				status = err.code == RAG_EUSAGE ? cmd_usage_error("%s", err.text) : EXIT_FAILURE;
				goto out;
			}
			break;
		case OPT_FILES0: s.files0 = optarg; break;
		case OPT_INCLUDE:
		case OPT_EXCLUDE:
			if ((opt == OPT_INCLUDE ? push_glob(&s.include, &s.ninclude, optarg)
						: push_glob(&s.exclude, &s.nexclude, optarg)) < 0) {
				cmd_say("out of memory");
				status = EXIT_FAILURE;
				goto out;
			}
			break;
		case OPT_HIDDEN: s.hidden = 1; break;
		case OPT_LOSSY: s.o.lossy = 1; break;
		case OPT_SKIP_BAD: s.o.skip_bad = 1; break;
		case OPT_STRATEGY: s.strategy = (given){optarg, 0}; break;
		case 's': s.size = (given){optarg, 0}; break;
		case OPT_OVERLAP: s.overlap = (given){optarg, 0}; break;
		case 'u': s.unit = (given){optarg, 0}; break;
		case 'q': s.quiet = 1; break;
		case 'v': s.verbose = 1; break;
		case OPT_PROGRESS: s.progress = 1; break;
		case OPT_HELP: status = cmd_print(usage); goto out;
		case OPT_VERSION: status = cmd_version(); goto out;
		default: status = cmd_bad_option(opt, argv); goto out;
		}
	}
	if (s.files0 && optind < argc) {
		status = cmd_usage_error("file operands cannot be combined with --files0-from");
		goto out;
	}
	if ((status = resolve(&s)) != 0)
		goto out;
	s.prog.on = !s.quiet && (s.progress || isatty(2));
	s.o.notify = notify;
	s.o.progress = progress;
	s.o.notify_ctx = &s;

	w = rag_writer_new(1);
	c = w ? rag_chunker_new(&s.o, w, &err) : NULL;
	if (!c) {
		if (!w)
			rag_error_set(&err, RAG_ENOMEM, NULL, 0, "out of memory");
		cmd_report(&err);
		status = cmd_status(&err);
		goto out;
	}
	status = run(&s, c, argc - optind, argv + optind);
	if (rag_writer_close(w, &err) < 0 && status == EXIT_SUCCESS && err.code != RAG_EPIPE) {
		cmd_report(&err);
		status = EXIT_FAILURE;
	}
	w = NULL;
	summary(&s, rag_chunker_stats(c), cmd_now() - t0);
out:
	rag_chunker_free(c);
	rag_writer_close(w, NULL);
	for (size_t i = 0; i < s.nloaders; i++)
		rag_loader_clear(&s.loaders[i]);
	free(s.loaders);
	free(s.include);
	free(s.exclude);
	rag_config_free(cfg);
	return status;
}
