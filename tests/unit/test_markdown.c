/* Tests for lib/markdown.c: headings, their paths, fenced code. */
#include "config.h"

#include <stdlib.h>

#include "doc.h"
#include "test.h"

static const char *path_of(const rag_doc *d, size_t i)
{
	static char buf[512];
	size_t k, n = 0;

	buf[0] = '\0';
	for (k = 0; k < json_array_size(d->sections[i].headings); k++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", k ? " > " : "",
				      json_string_value(json_array_get(d->sections[i].headings, k)));
	return buf;
}

static void parse(rag_doc *d, const char *t)
{
	rag_error err;

	rag_doc_reset(d);
	rag_doc_set_text(d, t, strlen(t));
	CHECK_EQ(rag_markdown_parse(d, &err), 0);
}

static void headings(void)
{
	rag_doc d;
	const char *t = "intro\n# Top #\ntext\n## Sub A\nmore\n### Deep\nx\n## Sub B\n"
			"#nospace\n####### seven\n    # indented code\n\nSetext\n===\nLast\n---\n";

	rag_doc_init(&d);
	parse(&d, t);
	CHECK_EQ(d.nsections, 6);
	CHECK_STR(path_of(&d, 0), "Top");
	CHECK_EQ(d.sections[0].start, 6);
	CHECK_STR(path_of(&d, 1), "Top > Sub A");
	CHECK_STR(path_of(&d, 2), "Top > Sub A > Deep");
	CHECK_STR(path_of(&d, 3), "Top > Sub B");
	CHECK_STR(path_of(&d, 4), "Setext");
	CHECK_STR(path_of(&d, 5), "Setext > Last");
	CHECK_EQ(d.sections[5].start, strstr(t, "Last\n") - t);
	rag_doc_free(&d);
}

static void fences(void)
{
	rag_doc d;
	const char *t = "# A\n```sh\n# not a heading\n\n```\n~~~~\n``` still in\n~~~~~\nafter\n```\nunclosed\n# no";

	rag_doc_init(&d);
	parse(&d, t);
	CHECK_EQ(d.nsections, 1);
	CHECK_EQ(d.atoms.n, 3);
	CHECK_EQ(d.atoms.v[0].start, 4);
	CHECK_MEM(t + d.atoms.v[0].start, d.atoms.v[0].end - d.atoms.v[0].start, "```sh\n# not a heading\n\n```");
	CHECK_MEM(t + d.atoms.v[1].start, d.atoms.v[1].end - d.atoms.v[1].start, "~~~~\n``` still in\n~~~~~");
	/* An unclosed fence runs to the end. */
	CHECK_EQ(d.atoms.v[2].end, strlen(t));
	rag_doc_free(&d);
}

static void not_setext(void)
{
	rag_doc d;

	/* A list item or a quote over "---" is no setext heading. */
	rag_doc_init(&d);
	parse(&d, "- item\n---\n> quote\n===\n1. one\n---\n");
	CHECK_EQ(d.nsections, 0);
	parse(&d, "Para\ncontinued\n---\n");
	CHECK_EQ(d.nsections, 1);
	CHECK_STR(path_of(&d, 0), "Para continued");
	rag_doc_free(&d);
}

static void front_matter(void)
{
	rag_doc d;
	const char *t = "---\ntitle: x\n---\nbody\n";

	rag_doc_init(&d);
	parse(&d, t);
	CHECK_EQ(d.nsections, 0);
	CHECK_EQ(d.atoms.n, 1);
	CHECK_EQ(d.atoms.v[0].end, 16);
	rag_doc_free(&d);
}

int main(void)
{
	RUN(headings);
	RUN(fences);
	RUN(front_matter);
	RUN(not_setext);
	return test_summary();
}
