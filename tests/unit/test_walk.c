/* test_walk.c - unit tests for lib/walk.c. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "test.h"
#include "walk.h"

/* The temporary directory the tests build their trees in. */
static char root[512];

/* Builds root + "/" + rel into a static buffer (one of two slots). */
static const char *at(int slot, const char *rel)
{
	static char bufs[2][1024];

	snprintf(bufs[slot], sizeof bufs[slot], "%s/%s", root, rel);
	return bufs[slot];
}

static void make_dir(const char *rel)
{
	if (mkdir(at(0, rel), 0755) < 0)
		fprintf(stderr, "mkdir %s: %s\n", at(0, rel), strerror(errno));
}

static void make_file(const char *rel, const char *text)
{
	FILE *f = fopen(at(0, rel), "w");

	if (!f) {
		fprintf(stderr, "create %s: %s\n", at(0, rel), strerror(errno));
		return;
	}
	fputs(text, f);
	fclose(f);
}

static void make_link(const char *target, const char *rel)
{
	if (symlink(target, at(0, rel)) < 0)
		fprintf(stderr, "symlink %s: %s\n", at(0, rel), strerror(errno));
}

/* Drops the root prefix from a path, for readable expectations. */
static const char *short_name(const char *p)
{
	size_t n = strlen(root);

	if (strncmp(p, root, n) == 0 && p[n] == '/')
		return p + n + 1;
	return p;
}

/*
 * Runs a walk to its end and describes what it returned, one event a
 * line: "F0 path" or "F1 path" for files (with from_dir), "W source" for
 * warnings, "E source" or "E source:line" for errors.
 */
static char events[8192];

static const char *drain(rag_walk *w)
{
	const char *path;
	rag_error err;
	size_t o = 0;
	int from_dir, r;

	events[0] = '\0';
	while ((r = rag_walk_next(w, &path, &from_dir, &err)) != RAG_WALK_END) {
		if (o >= sizeof events - 1)
			break;
		if (r == RAG_WALK_FILE)
			o += (size_t)snprintf(events + o, sizeof events - o,
					      "F%d %s\n", from_dir,
					      short_name(path));
		else if (r == RAG_WALK_WARN)
			o += (size_t)snprintf(events + o, sizeof events - o,
					      "W %s\n", short_name(err.source));
		else if (err.line > 0)
			o += (size_t)snprintf(events + o, sizeof events - o,
					      "E %s:%ld\n",
					      short_name(err.source), err.line);
		else
			o += (size_t)snprintf(events + o, sizeof events - o,
					      "E %s\n", short_name(err.source));
	}
	return events;
}

/* Walks the arguments with the given options. */
static const char *walk_args(const char *const *include,
			     const char *const *exclude, int hidden,
			     const char *a1, const char *a2)
{
	rag_walk_opts o = {include, exclude, hidden};
	rag_walk *w = rag_walk_new(&o);

	if (!w)
		return "(no memory)";
	if (a1)
		rag_walk_add(w, a1);
	if (a2)
		rag_walk_add(w, a2);
	drain(w);
	rag_walk_free(w);
	return events;
}

/*
 * The tree:
 *   tree/a.md  tree/b.txt  tree/.hidden.md  tree/.hdir/x.md
 *   tree/dangling -> nowhere
 *   tree/fifo (a FIFO, skipped inside directories)
 *   tree/skip/f.md
 *   tree/sub/c.md  tree/sub/d.txt  tree/sub/deep/e.md
 *   tree/sub/loop -> ..
 *   tree/z-out.md -> ../outside.md
 *   outside.md
 */
static void build_tree(void)
{
	make_dir("tree");
	make_file("tree/a.md", "a\n");
	make_file("tree/b.txt", "b\n");
	make_file("tree/.hidden.md", "h\n");
	make_dir("tree/.hdir");
	make_file("tree/.hdir/x.md", "x\n");
	make_link("nowhere", "tree/dangling");
	if (mkfifo(at(0, "tree/fifo"), 0644) < 0)
		fprintf(stderr, "mkfifo: %s\n", strerror(errno));
	make_dir("tree/skip");
	make_file("tree/skip/f.md", "f\n");
	make_dir("tree/sub");
	make_file("tree/sub/c.md", "c\n");
	make_file("tree/sub/d.txt", "d\n");
	make_dir("tree/sub/deep");
	make_file("tree/sub/deep/e.md", "e\n");
	make_link("..", "tree/sub/loop");
	make_file("outside.md", "o\n");
	make_link("../outside.md", "tree/z-out.md");
	make_dir("empty");
}

static void test_order(void)
{
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "tree"), NULL),
		  "F1 tree/a.md\n"
		  "F1 tree/b.txt\n"
		  "E tree/dangling\n"
		  "F1 tree/skip/f.md\n"
		  "F1 tree/sub/c.md\n"
		  "F1 tree/sub/d.txt\n"
		  "F1 tree/sub/deep/e.md\n"
		  "W tree/sub/loop\n"
		  "F1 tree/z-out.md\n");
	/* An empty directory gives nothing. */
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "empty"), NULL), "");
}

static void test_hidden(void)
{
	CHECK_STR(walk_args(NULL, (const char *const[]){"dangling", "loop",
							 NULL},
			    1, at(1, "tree"), NULL),
		  "F1 tree/.hdir/x.md\n"
		  "F1 tree/.hidden.md\n"
		  "F1 tree/a.md\n"
		  "F1 tree/b.txt\n"
		  "F1 tree/skip/f.md\n"
		  "F1 tree/sub/c.md\n"
		  "F1 tree/sub/d.txt\n"
		  "F1 tree/sub/deep/e.md\n"
		  "F1 tree/z-out.md\n");
	/* A hidden argument is walked: only names inside are filtered. */
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "tree/.hdir"), NULL),
		  "F1 tree/.hdir/x.md\n");
}

static void test_globs(void)
{
	static const char *const md[] = {"*.md", NULL};
	static const char *const sub_md[] = {"sub/*.md", NULL};
	static const char *const quiet[] = {"dangling", "loop", NULL};
	static const char *const txt[] = {"*.txt", "dangling", "loop", NULL};
	static const char *const dirs[] = {"skip", "sub/deep", "dangling",
					   "loop", NULL};
	static const char *const slash[] = {"*/*.md", "dangling", "loop",
					    NULL};

	/* Include without "/": the file name; directories still walked. */
	CHECK_STR(walk_args(md, NULL, 0, at(1, "tree"), NULL),
		  "F1 tree/a.md\n"
		  "E tree/dangling\n"
		  "F1 tree/skip/f.md\n"
		  "F1 tree/sub/c.md\n"
		  "F1 tree/sub/deep/e.md\n"
		  "W tree/sub/loop\n"
		  "F1 tree/z-out.md\n");
	/* Include with "/": the relative path, "*" not crossing "/". */
	CHECK_STR(walk_args(sub_md, quiet, 0, at(1, "tree"), NULL),
		  "F1 tree/sub/c.md\n");
	/* Exclude without "/" drops files anywhere. */
	CHECK_STR(walk_args(NULL, txt, 0, at(1, "tree"), NULL),
		  "F1 tree/a.md\n"
		  "F1 tree/skip/f.md\n"
		  "F1 tree/sub/c.md\n"
		  "F1 tree/sub/deep/e.md\n"
		  "F1 tree/z-out.md\n");
	/* Exclude prunes directories, by name and by relative path. */
	CHECK_STR(walk_args(NULL, dirs, 0, at(1, "tree"), NULL),
		  "F1 tree/a.md\n"
		  "F1 tree/b.txt\n"
		  "F1 tree/sub/c.md\n"
		  "F1 tree/sub/d.txt\n"
		  "F1 tree/z-out.md\n");
	/* Exclude with "/" matches one level only. */
	CHECK_STR(walk_args(NULL, slash, 0, at(1, "tree"), NULL),
		  "F1 tree/a.md\n"
		  "F1 tree/b.txt\n"
		  "F1 tree/sub/d.txt\n"
		  "F1 tree/sub/deep/e.md\n"
		  "F1 tree/z-out.md\n");
	/* Both: include then exclude. */
	CHECK_STR(walk_args(md, (const char *const[]){"c.md", "dangling",
						       "loop", NULL},
			    0, at(1, "tree/sub"), NULL),
		  "F1 tree/sub/deep/e.md\n");
	/* Relative paths are relative to the argument, not the cwd. */
	CHECK_STR(walk_args((const char *const[]){"deep/*", NULL}, quiet, 0,
			    at(1, "tree/sub"), NULL),
		  "F1 tree/sub/deep/e.md\n");
}

static void test_file_args(void)
{
	static const char *const md[] = {"*.md", NULL};
	static const char *const all[] = {"*", NULL};

	/* Globs do not apply to file arguments; the type does not matter. */
	CHECK_STR(walk_args(md, all, 0, at(1, "tree/b.txt"), at(0, "tree/fifo")),
		  "F0 tree/b.txt\n"
		  "F0 tree/fifo\n");
	/* A link to a file outside, named as an argument. */
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "tree/z-out.md"), "-"),
		  "F0 tree/z-out.md\n"
		  "F0 -\n");
	/* "-" is taken as it is, even where a file "-" could exist. */
	CHECK_STR(walk_args(NULL, NULL, 0, "-", NULL), "F0 -\n");
}

static void test_missing(void)
{
	rag_walk *w = rag_walk_new(NULL);
	const char *path = "x";
	rag_error err;
	int from_dir = 7;

	CHECK(w != NULL);
	if (!w)
		return;
	CHECK_EQ(rag_walk_add(w, at(1, "missing.md")), 0);
	CHECK_EQ(rag_walk_add(w, at(1, "tree/a.md")), 0);
	CHECK_EQ(rag_walk_add(w, ""), 0);
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_ERROR);
	CHECK(path == NULL);
	CHECK_STR(err.source, at(1, "missing.md"));
	CHECK_EQ(err.code, RAG_EIO);
	CHECK_STR(err.text, strerror(ENOENT));
	/* The walk goes on with the next argument. */
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_FILE);
	CHECK_STR(path, at(1, "tree/a.md"));
	CHECK_EQ(from_dir, 0);
	/* An empty argument is an error of its own. */
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_ERROR);
	CHECK(strstr(err.text, "zero-length") != NULL);
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_END);
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_END);
	rag_walk_free(w);

	/* A dangling link gives an error naming it; the walk goes on. */
	w = rag_walk_new(NULL);
	CHECK(w != NULL);
	if (!w)
		return;
	rag_walk_add(w, at(1, "tree"));
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_FILE);
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_FILE);
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_ERROR);
	CHECK_STR(err.source, at(1, "tree/dangling"));
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_FILE);
	CHECK_STR(path, at(1, "tree/skip/f.md"));
	CHECK_EQ(from_dir, 1);
	/* Freeing in the middle of a walk releases everything. */
	rag_walk_free(w);
	rag_walk_free(NULL);
}

static void test_loop(void)
{
	rag_walk *w = rag_walk_new(NULL);
	const char *path;
	rag_error err;
	int from_dir, r, warns = 0, files = 0;

	CHECK(w != NULL);
	if (!w)
		return;
	rag_walk_add(w, at(1, "tree"));
	while ((r = rag_walk_next(w, &path, &from_dir, &err)) != RAG_WALK_END) {
		if (r == RAG_WALK_WARN) {
			warns++;
			CHECK_STR(err.source, at(1, "tree/sub/loop"));
			CHECK_STR(err.text, "symbolic link loop, not followed");
		} else if (r == RAG_WALK_FILE) {
			files++;
		}
	}
	CHECK_EQ(warns, 1);
	CHECK_EQ(files, 7);
	rag_walk_free(w);
	/* A link to the directory argument itself, reached from below. */
	make_dir("self");
	make_dir("self/a");
	make_file("self/a/f", "f\n");
	make_link("..", "self/a/up");
	make_link(".", "self/here");
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "self"), NULL),
		  "F1 self/a/f\n"
		  "W self/a/up\n"
		  "W self/here\n");
	/* A link to a directory outside the walk is no loop. */
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "tree/sub/deep"),
			    at(0, "tree/sub/loop/skip")),
		  "F1 tree/sub/deep/e.md\n"
		  "F1 tree/sub/loop/skip/f.md\n");
	/* A link to a sibling directory is no loop: it is walked. */
	make_dir("sib");
	make_dir("sib/a");
	make_file("sib/a/f", "f\n");
	make_link("a", "sib/b");
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "sib"), NULL),
		  "F1 sib/a/f\n"
		  "F1 sib/b/f\n");
}

static void test_slashes(void)
{
	char arg[1100];
	rag_walk *w;
	const char *path;
	rag_error err;
	int from_dir, r, cwd;

	snprintf(arg, sizeof arg, "%s/", at(1, "tree/sub/deep"));
	CHECK_STR(walk_args(NULL, NULL, 0, arg, NULL),
		  "F1 tree/sub/deep/e.md\n");
	snprintf(arg, sizeof arg, "%s/", at(1, "tree/sub/deep/e.md"));
	CHECK_STR(walk_args(NULL, NULL, 0, arg, NULL),
		  "E tree/sub/deep/e.md/\n");
	/* A relative argument stays relative. */
	cwd = open(".", O_RDONLY);
	if (cwd >= 0 && chdir(root) == 0) {
		CHECK_STR(walk_args(NULL, NULL, 0, "tree/sub/deep", "./sib/"),
			  "F1 tree/sub/deep/e.md\n"
			  "F1 ./sib/a/f\n"
			  "F1 ./sib/b/f\n");
		CHECK_EQ(fchdir(cwd), 0);
	}
	if (cwd >= 0)
		close(cwd);
	/* "/" gives "/name", never "//name"; look at the first event only. */
	w = rag_walk_new(NULL);
	if (!w)
		return;
	rag_walk_add(w, "/");
	r = rag_walk_next(w, &path, &from_dir, &err);
	CHECK(r != RAG_WALK_END);
	if (r == RAG_WALK_FILE)
		CHECK(path[0] == '/' && path[1] != '/' && path[1] != '\0');
	else if (r != RAG_WALK_END)
		CHECK(err.source[0] == '/' && err.source[1] != '/');
	rag_walk_free(w);
}

static void write_list(const char *rel, const char *data, size_t n)
{
	FILE *f = fopen(at(0, rel), "wb");

	if (!f)
		return;
	fwrite(data, 1, n, f);
	fclose(f);
}

static void test_list(void)
{
	char data[4096];
	size_t n = 0;
	rag_walk *w;
	rag_error err;
	int fd, saved;

	/* a.md, "", sub/deep, outside.md without a final NUL. */
	n += (size_t)snprintf(data + n, sizeof data - n, "%s", at(1, "tree/a.md")) + 1;
	data[n++] = '\0';
	n += (size_t)snprintf(data + n, sizeof data - n, "%s", at(1, "tree/sub/deep")) + 1;
	n += (size_t)snprintf(data + n, sizeof data - n, "%s", at(1, "outside.md"));
	write_list("list", data, n);
	write_list("list2", "", 0);
	write_list("list3", "\0", 1);

	w = rag_walk_new(NULL);
	CHECK(w != NULL);
	if (!w)
		return;
	rag_walk_add(w, at(1, "tree/b.txt"));
	CHECK_EQ(rag_walk_add_list(w, at(1, "list"), &err), 0);
	CHECK_EQ(rag_walk_add_list(w, at(1, "list2"), &err), 0);
	CHECK_EQ(rag_walk_add_list(w, at(1, "list3"), &err), 0);
	rag_walk_add(w, at(1, "tree/skip"));
	CHECK_STR(drain(w),
		  "F0 tree/b.txt\n"
		  "F0 tree/a.md\n"
		  "E list:2\n"
		  "F1 tree/sub/deep/e.md\n"
		  "F0 outside.md\n"
		  "E list3:1\n"
		  "F1 tree/skip/f.md\n");
	rag_walk_free(w);

	/* The error text of an empty name. */
	w = rag_walk_new(NULL);
	if (!w)
		return;
	rag_walk_add_list(w, at(1, "list3"), &err);
	CHECK_EQ(rag_walk_next(w, &(const char *){NULL}, NULL, &err),
		 RAG_WALK_ERROR);
	CHECK_STR(err.text, "invalid zero-length file name");
	CHECK_EQ(err.code, RAG_EDATA);
	CHECK_EQ(err.line, 1);
	rag_walk_free(w);

	/* A list that cannot be opened. */
	w = rag_walk_new(NULL);
	if (!w)
		return;
	CHECK_EQ(rag_walk_add_list(w, at(1, "no-list"), &err), -1);
	CHECK_STR(err.source, at(1, "no-list"));
	CHECK(strstr(err.text, strerror(ENOENT)) != NULL);
	/* A list that cannot be read (a directory). */
	if (rag_walk_add_list(w, at(1, "empty"), &err) == 0)
		CHECK_STR(drain(w), "E empty\n");
	rag_walk_free(w);

	/* A list on standard input, which stays open. */
	fd = open(at(1, "list"), O_RDONLY);
	saved = dup(0);
	CHECK(fd >= 0 && saved >= 0);
	if (fd < 0 || saved < 0 || dup2(fd, 0) < 0)
		return;
	close(fd);
	w = rag_walk_new(NULL);
	if (w) {
		CHECK_EQ(rag_walk_add_list(w, "-", &err), 0);
		CHECK_STR(drain(w),
			  "F0 tree/a.md\n"
			  "E <stdin>:2\n"
			  "F1 tree/sub/deep/e.md\n"
			  "F0 outside.md\n");
		rag_walk_free(w);
	}
	CHECK(fcntl(0, F_GETFD) != -1);
	clearerr(stdin);
	dup2(saved, 0);
	close(saved);
}

static void test_deep(void)
{
	char rel[1024] = "deep";
	size_t n = 4;
	rag_walk *w;
	const char *path;
	rag_error err;
	int from_dir, i, fd_before, fd_during = -1;

	make_dir(rel);
	for (i = 0; i < 150; i++) {
		memcpy(rel + n, "/d", 3);
		n += 2;
		make_dir(rel);
	}
	memcpy(rel + n, "/f", 3);
	make_file(rel, "f\n");
	fd_before = open("/dev/null", O_RDONLY);
	if (fd_before >= 0)
		close(fd_before);
	w = rag_walk_new(NULL);
	if (!w)
		return;
	rag_walk_add(w, at(1, "deep"));
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_FILE);
	CHECK_STR(path, at(1, rel));
	/* No directory stays open while deep in the walk. */
	fd_during = open("/dev/null", O_RDONLY);
	if (fd_during >= 0)
		close(fd_during);
	CHECK_EQ(fd_during, fd_before);
	CHECK_EQ(rag_walk_next(w, &path, &from_dir, &err), RAG_WALK_END);
	rag_walk_free(w);
}

static void test_denied(void)
{
	if (geteuid() == 0) {
		fprintf(stderr, "test_walk: running as root, "
				"skipping the permission test\n");
		return;
	}
	make_dir("deny");
	make_dir("deny/a");
	make_file("deny/a/f", "f\n");
	make_dir("deny/b");
	make_file("deny/c", "c\n");
	chmod(at(0, "deny/b"), 0);
	CHECK_STR(walk_args(NULL, NULL, 0, at(1, "deny"), NULL),
		  "F1 deny/a/f\n"
		  "E deny/b\n"
		  "F1 deny/c\n");
	chmod(at(0, "deny/b"), 0755);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(root, sizeof root, "%s/test_walk.XXXXXX", tmp);
	if (!mkdtemp(root)) {
		fprintf(stderr, "mkdtemp %s: %s\n", root, strerror(errno));
		return 1;
	}
	build_tree();
	RUN(test_order);
	RUN(test_hidden);
	RUN(test_globs);
	RUN(test_file_args);
	RUN(test_missing);
	RUN(test_loop);
	RUN(test_slashes);
	RUN(test_list);
	RUN(test_deep);
	RUN(test_denied);
	if (nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		fprintf(stderr, "cannot remove %s: %s\n", root, strerror(errno));
	return test_summary();
}
