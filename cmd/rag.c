/*
 * rag - the front command: "rag NAME ARGS..." runs "rag-NAME ARGS...".
 *
 * rag-NAME is looked for first in the directory rag itself was run from
 * (so an uninstalled build tree works as a whole), then on PATH.
 * "rag help" lists the programs that can be found; "rag help NAME" shows
 * NAME's manual page.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "cmd.h"

static const struct {
	const char *name, *summary;
} known[] = {
	{"chunk", "split documents into chunk records"},
	{"embed", "add embedding vectors to records"},
	{"index", "add, update and delete records in a store"},
	{"search", "find the records that best match queries"},
	{"filter", "keep the records that match an expression"},
	{"prompt", "assemble retrieved chunks into a prompt"},
	{"ask", "answer a prompt with a chat model, citing sources"},
	{"eval", "score retrieval and answers against judgments"},
};

#define NKNOWN (sizeof known / sizeof known[0])

static const char usage_head[] =
	"Usage: rag [--help | --version] NAME [ARG]...\n"
	"       rag help [NAME]\n"
	"Run the ragkit program rag-NAME with the ARGs.\n";

/* The directory of this executable, or "" when it cannot be told. */
static void self_dir(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	char *slash;

	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		*slash = '\0';
	else
		buf[0] = '\0';
}

static int executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Finds rag-NAME: next to rag, then on PATH.  1 with buf filled, or 0. */
static int find_program(const char *name, char *buf, size_t size)
{
	char dir[PATH_MAX];
	const char *path = getenv("PATH"), *p;

	self_dir(dir, sizeof dir);
	if (dir[0] && (size_t)snprintf(buf, size, "%s/rag-%s", dir, name) < size && executable(buf))
		return 1;
	for (p = path; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if ((size_t)snprintf(buf, size, "%.*s/rag-%s", (int)n, n ? p : ".", name) < size &&
		    executable(buf))
			return 1;
		p = colon ? colon + 1 : NULL;
	}
	return 0;
}

static int valid_name(const char *name)
{
	if (!*name || *name == '-')
		return 0;
	for (; *name; name++)
		if (*name == '/' || (unsigned char)*name <= ' ')
			return 0;
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Other rag-* programs in dir, appended to *v (names without "rag-"). */
static void scan_dir(const char *dir, char ***v, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char full[PATH_MAX];
		char **grown;
		size_t i;
		if (strncmp(e->d_name, "rag-", 4) != 0 || !valid_name(e->d_name + 4))
			continue;
		if ((size_t)snprintf(full, sizeof full, "%s/%s", dir, e->d_name) >= sizeof full ||
		    !executable(full))
			continue;
		for (i = 0; i < NKNOWN; i++)
			if (!strcmp(known[i].name, e->d_name + 4))
				break;
		if (i < NKNOWN)
			continue;
		for (i = 0; i < *n; i++)
			if (!strcmp((*v)[i], e->d_name + 4))
				break;
		if (i < *n)
			continue;
		grown = realloc(*v, (*n + 1) * sizeof *grown);
		if (!grown)
			break;
		*v = grown;
		if (((*v)[*n] = strdup(e->d_name + 4)) != NULL)
			(*n)++;
	}
	closedir(d);
}

/* The usage text and the list of programs that can be found, to f. */
static int list_programs(FILE *f)
{
	char buf[PATH_MAX], dir[PATH_MAX];
	char **others = NULL;
	size_t nothers = 0, i;
	const char *path = getenv("PATH"), *p;
	int any = 0;

	fputs(usage_head, f);
	fputs("\nThe programs:\n", f);
	for (i = 0; i < NKNOWN; i++)
		if (find_program(known[i].name, buf, sizeof buf)) {
			fprintf(f, "   %-10s %s\n", known[i].name, known[i].summary);
			any = 1;
		}
	if (!any)
		fputs("   (none found next to rag or on PATH)\n", f);
	self_dir(dir, sizeof dir);
	if (dir[0])
		scan_dir(dir, &others, &nothers);
	for (p = path; p && *p;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n && n < sizeof dir) {
			memcpy(dir, p, n);
			dir[n] = '\0';
			scan_dir(dir, &others, &nothers);
		}
		p = colon ? colon + 1 : NULL;
	}
	if (nothers) {
		qsort(others, nothers, sizeof *others, cmp_str);
		fputs("\nOther rag- programs on PATH:\n", f);
		for (i = 0; i < nothers; i++)
			fprintf(f, "   %s\n", others[i]);
	}
	for (i = 0; i < nothers; i++)
		free(others[i]);
	free(others);
	fputs("\n'rag help NAME' shows the manual of rag-NAME; 'man 7 rag' the overview.\n", f);
	return 0;
}

/* Whether man(1) knows the page: "man -w PAGE" succeeds. */
static int man_knows(const char *page)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("man", "man", "-w", page, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * Shows the manual of rag-NAME: the installed page, else the page beside
 * the program in a build tree (man/rag-NAME.1), else its --help.
 */
static int help(const char *name)
{
	char page[64], prog[PATH_MAX], dir[PATH_MAX], file[PATH_MAX + 128];
	struct stat st;

	if (!name) {
		list_programs(stdout);
		return cmd_print("");
	}
	if (!valid_name(name) || strlen(name) > 40)
		return cmd_usage_error("%s is not a rag command name", rag_quote(0, name));
	snprintf(page, sizeof page, "rag-%s", name);
	if (man_knows(page))
		execlp("man", "man", page, (char *)NULL);
	self_dir(dir, sizeof dir);
	snprintf(file, sizeof file, "%s/man/%s.1", dir, page);
	if (dir[0] && stat(file, &st) == 0)
		execlp("man", "man", "-l", file, (char *)NULL);
	/* No manual: the program's own --help is the next best thing. */
	if (find_program(name, prog, sizeof prog)) {
		execl(prog, page, "--help", (char *)NULL);
		cmd_say("cannot run %s: %s", prog, strerror(errno));
		return EXIT_FAILURE;
	}
	cmd_say("no manual and no program for %s", rag_quote(0, name));
	return EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	char prog[PATH_MAX], name[64];

	cmd_init("rag");
	/* The programs rag runs get the default SIGPIPE, as from a shell. */
	signal(SIGPIPE, SIG_DFL);
	if (argc < 2) {
		list_programs(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return help(NULL);
	if (!strcmp(argv[1], "--version"))
		return cmd_version();
	if (!strcmp(argv[1], "help"))
		return help(argc > 2 ? argv[2] : NULL);
	if (argv[1][0] == '-')
		return cmd_usage_error("unknown option %s", rag_quote(0, argv[1]));
	if (!valid_name(argv[1]) || strlen(argv[1]) > 40 || !find_program(argv[1], prog, sizeof prog)) {
		cmd_say("%s is not a rag command; 'rag help' lists them", rag_quote(0, argv[1]));
		return EXIT_USAGE;
	}
	snprintf(name, sizeof name, "rag-%s", argv[1]);
	argv[1] = name;
	execv(prog, argv + 1);
	cmd_say("cannot run %s: %s", prog, strerror(errno));
	return EXIT_FAILURE;
}
