/* test_html.c - the HTML text extractor (lib/html.c). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "offmap.h"
#include "utf8.h"

#include "test.h"

static rag_doc doc;

/* Extracts s into the shared doc; the text, or NULL on failure. */
static const char *extract(const char *s)
{
	rag_error err;

	rag_error_clear(&err);
	rag_doc_reset(&doc);
	if (rag_html_extract(&doc, s, strlen(s), &err) < 0)
		return NULL;
	return doc.text;
}

/* Whether the text of s is want. */
#define CHECK_HTML(s, want) CHECK_STR(extract(s), want)

/* The heading path of section i as compact JSON. */
static char *section_path(size_t i)
{
	return json_dumps(doc.sections[i].headings, JSON_COMPACT);
}

#define CHECK_SECTION(i, want_start, want_path)                               \
	do {                                                                  \
		char *p_ = section_path(i);                                   \
		CHECK_EQ(doc.sections[i].start, want_start);                  \
		CHECK_STR(p_, want_path);                                     \
		free(p_);                                                     \
	} while (0)

/* The text offset of the first occurrence of word, or -1. */
static long offset_of(const char *word)
{
	const char *p = strstr(doc.text, word);

	return p ? (long)(p - doc.text) : -1;
}

static void test_tags_stripped(void)
{
	CHECK_HTML("", "");
	CHECK_HTML("plain text", "plain text");
	CHECK_HTML("<div><span>Hello</span>, <b>world</b>!</div>", "Hello, world!");
	CHECK_HTML("<a href=\"x\">link</a> and <img src=\"y.png\"> more",
		   "link and more");
	CHECK_HTML("in<span>line</span>", "inline");
	CHECK_HTML("</p></div>stray<//>", "stray");
	CHECK_EQ(doc.title == NULL, 1);
}

static void test_dropped_elements(void)
{
	CHECK_HTML("<p>a</p><script>var x = '<p>no</p>';</script>"
		   "<style>p { color: red }</style><p>b</p>",
		   "a\n\nb");
	/* Only the matching end tag ends a raw-text element. */
	CHECK_HTML("<script>a</scriptx>b</style></script>c", "c");
	CHECK_HTML("<style>x</STYLE >y", "y");
	CHECK_HTML("x<script>never closed <p>hidden</p>", "x");
	CHECK_HTML("a<noscript><p>no</p></noscript>b", "ab");
	CHECK_HTML("a<template><p>t</p></template>b", "ab");
	CHECK_HTML("a<svg><text>s</text><svg/><g></g></svg>b", "ab");
	CHECK_HTML("a<math><mi>x</mi></math>b", "ab");
	CHECK_HTML("a<iframe><p>f</p></iframe>b", "ab");
	CHECK_HTML("a<object><p>o</p></object><canvas>c</canvas>b", "ab");
	/* An unclosed <svg> ends at the next HTML block. */
	CHECK_HTML("<svg><text>s</text><p>after</p>", "after");
	CHECK_HTML("a<svg/>b", "ab");
}

static void test_named_entities(void)
{
	CHECK_HTML("&lt;&gt;&amp;&quot;&apos;", "<>&\"'");
	CHECK_HTML("caf&eacute; &Eacute;t&eacute; &szlig;&yuml;&Yuml;",
		   "caf\xc3\xa9 \xc3\x89t\xc3\xa9 \xc3\x9f\xc3\xbf\xc5\xb8");
	CHECK_HTML("&ndash;&mdash;&lsquo;&rsquo;&ldquo;&rdquo;",
		   "\xe2\x80\x93\xe2\x80\x94\xe2\x80\x98\xe2\x80\x99"
		   "\xe2\x80\x9c\xe2\x80\x9d");
	CHECK_HTML("&hellip;&euro;&trade;&bull;&copy;&reg;",
		   "\xe2\x80\xa6\xe2\x82\xac\xe2\x84\xa2\xe2\x80\xa2"
		   "\xc2\xa9\xc2\xae");
	CHECK_HTML("&Alpha;&alpha;&Omega;&omega;&thetasym;",
		   "\xce\x91\xce\xb1\xce\xa9\xcf\x89\xcf\x91");
	/* Case matters. */
	CHECK_HTML("&AMP;", "&AMP;");
	/* Unknown names leave the '&' alone. */
	CHECK_HTML("&bogus; & &; &amp", "&bogus; & &; &");
	CHECK_HTML("AT&T", "AT&T");
}

static void test_numeric_entities(void)
{
	CHECK_HTML("&#65;&#x42;&#X43;&#0068;", "ABCD");
	CHECK_HTML("&#x1F600;", "\xf0\x9f\x98\x80");
	/* Zero, surrogates and values past U+10FFFF become U+FFFD. */
	CHECK_HTML("&#0;&#xD800;&#x110000;&#99999999999999;",
		   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	/* 0x80-0x9F are Windows-1252. */
	CHECK_HTML("&#128;&#150;&#x9F;",
		   "\xe2\x82\xac\xe2\x80\x93\xc5\xb8");
	/* No digits: no reference. */
	CHECK_HTML("&#; &#x; &#xg;", "&#; &#x; &#xg;");
	/* A missing ';' is forgiven, as browsers do. */
	CHECK_HTML("&#65 &#x42", "A B");
}

static void test_legacy_entities(void)
{
	CHECK_HTML("&amp &lt, &gt. &quot!", "& <, >. \"!");
	CHECK_HTML("a&nbsp b", "a b");
	/* Only when followed by something that is not a letter or digit. */
	CHECK_HTML("&ampx &lt3 &copy", "&ampx &lt3 &copy");
	CHECK_HTML("x&amp<b>y</b>", "x&y");
	CHECK_HTML("end &amp", "end &");
}

static void test_whitespace(void)
{
	CHECK_HTML("  a \n\t b  ", "a b");
	CHECK_HTML("a&nbsp;&nbsp; b\xc2\xa0\xc2\xa0" "c", "a b c");
	CHECK_HTML("a&#32;&#10;b", "a b");
	CHECK_HTML("<p>  a  </p>  <p> b </p>", "a\n\nb");
	CHECK_HTML("a <b> b </b> c", "a b c");
	CHECK_HTML("<span> </span>x", "x");
}

static void test_paragraphs(void)
{
	CHECK_HTML("<p>a</p><p>b</p>", "a\n\nb");
	CHECK_HTML("<div><p>a</p></div>\n\n<div><div>b</div></div>", "a\n\nb");
	CHECK_HTML("<h1>T</h1>text<h2>U</h2><p>more</p>", "T\n\ntext\n\nU\n\nmore");
	CHECK_HTML("<ul><li>one<li>two</li></ul>after", "one\ntwo\n\nafter");
	CHECK_HTML("<dl><dt>term<dd>def</dl>", "term\ndef");
	CHECK_HTML("<select><option>x<option>y</select>", "x\ny");
	CHECK_HTML("a<hr>b", "a\n\nb");
	CHECK_HTML("<section><article>x</article></section>", "x");
	CHECK_HTML("<blockquote>q</blockquote>t", "q\n\nt");
}

static void test_br(void)
{
	CHECK_HTML("a<br>b", "a\nb");
	CHECK_HTML("a<BR/>b<br />c", "a\nb\nc");
	CHECK_HTML("a <br> b", "a\nb");
	CHECK_HTML("a<br><br><br><br>b", "a\n\nb");
	CHECK_HTML("<br>a<br>", "a");
	CHECK_HTML("a</br>b", "a\nb");
}

static void test_table(void)
{
	/* Cells are kept apart by " | ", rows by a line break. */
	CHECK_HTML("<table><tr><th>h1</th><th>h2</th></tr>"
		   "<tr><td>1</td><td> </td><td>3</td></tr></table>after",
		   "h1 | h2\n1 | 3\n\nafter");
	CHECK_HTML("<table><tr><td>a<td>b<tr><td>c</table>", "a | b\nc");
	CHECK_HTML("<table><tr><td><p>x</p></td><td><p>y</p></td></tr></table>",
		   "x\n\ny");
}

static void test_pre(void)
{
	/* A heading inside <pre> is text of the block, not a section. */
	CHECK_HTML("<pre>code\n<h2>Not a section</h2></pre>", "code\n\nNot a section");
	CHECK_EQ(doc.nsections, 0);

	const char *want = "  a  b\n\n c &lt; <d>";

	CHECK_HTML("<p>x</p><pre>\n  a  b\n\n c &amp;lt; &lt;d&gt;</pre><p>y</p>",
		   "x\n\n  a  b\n\n c &lt; <d>\n\ny");
	CHECK_EQ(doc.atoms.n, 1);
	if (doc.atoms.n == 1) {
		/* Atoms are trimmed of white space at their ends. */
		CHECK_EQ(doc.atoms.v[0].start, 5);
		CHECK_EQ(doc.atoms.v[0].end, 3 + strlen(want));
	}
	/* Empty pre: no atom. */
	CHECK_HTML("a<pre></pre>b", "a\n\nb");
	CHECK_EQ(doc.atoms.n, 0);
	/* Two of them, sorted; an unclosed one ends at the end. */
	CHECK_HTML("<pre>one</pre>mid<PRE>two  three", "one\n\nmid\n\ntwo  three");
	CHECK_EQ(doc.atoms.n, 2);
	if (doc.atoms.n == 2) {
		CHECK_EQ(doc.atoms.v[0].start, 0);
		CHECK_EQ(doc.atoms.v[0].end, 3);
		CHECK_EQ(doc.atoms.v[1].start, 10);
		CHECK_EQ(doc.atoms.v[1].end, 20);
	}
	/* Nested: one atom. */
	CHECK_HTML("<pre>a<pre>b</pre>c</pre>", "a\n\nb\n\nc");
	CHECK_EQ(doc.atoms.n, 1);
	/* CRLF becomes LF. */
	CHECK_HTML("<pre>\r\na\r\nb\rc</pre>", "a\nb\nc");
	/* A textarea keeps its white space too, but is no atom. */
	CHECK_HTML("<textarea>\n a  <b>\n</textarea>", " a  <b>\n");
	CHECK_EQ(doc.atoms.n, 0);
}

static void test_headings(void)
{
	CHECK_HTML("<h1>A</h1><p>x</p><h2>B</h2><p>y</p><h2>C</h2>"
		   "<h3>D</h3><p>z</p><h1>E</h1>",
		   "A\n\nx\n\nB\n\ny\n\nC\n\nD\n\nz\n\nE");
	CHECK_EQ(doc.nsections, 5);
	if (doc.nsections == 5) {
		CHECK_SECTION(0, offset_of("A"), "[\"A\"]");
		CHECK_SECTION(1, offset_of("B"), "[\"A\",\"B\"]");
		CHECK_SECTION(2, offset_of("C"), "[\"A\",\"C\"]");
		CHECK_SECTION(3, offset_of("D"), "[\"A\",\"C\",\"D\"]");
		CHECK_SECTION(4, offset_of("E"), "[\"E\"]");
	}

	/* Inner tags, entities and white space; empty headings skipped. */
	CHECK_HTML("intro<H2 id=\"s\">  Foo <em>&amp;</em>\n bar </H2>"
		   "<h3> </h3><h3>Sub</h3>",
		   "intro\n\nFoo & bar\n\nSub");
	CHECK_EQ(doc.nsections, 2);
	if (doc.nsections == 2) {
		CHECK_SECTION(0, 7, "[\"Foo & bar\"]");
		CHECK_SECTION(1, offset_of("Sub"), "[\"Foo & bar\",\"Sub\"]");
	}

	/* Skipped levels, and an unclosed heading at the end. */
	CHECK_HTML("<h3>c</h3><h1>a</h1><h4>d</h4><h2>b", "c\n\na\n\nd\n\nb");
	CHECK_EQ(doc.nsections, 4);
	if (doc.nsections == 4) {
		CHECK_SECTION(0, 0, "[\"c\"]");
		CHECK_SECTION(1, 3, "[\"a\"]");
		CHECK_SECTION(2, 6, "[\"a\",\"d\"]");
		CHECK_SECTION(3, 9, "[\"a\",\"b\"]");
	}

	/* A heading left open ends at the next block boundary. */
	CHECK_HTML("<h1>Title<p>para</p>", "Title\n\npara");
	CHECK_EQ(doc.nsections, 1);
	if (doc.nsections == 1)
		CHECK_SECTION(0, 0, "[\"Title\"]");

	/* Headings inside dropped content are not sections. */
	CHECK_HTML("<object><h1>no</h1></object><template><h2>no</h2></template>"
		   "<svg><text><h3>no</h3></text></svg>x",
		   "no\n\nx");
	CHECK_EQ(doc.nsections, 1); /* <h3> ends the unclosed <svg> */
	CHECK_HTML("<object><h1>no</h1></object><template><h2>no</h2></template>x",
		   "x");
	CHECK_EQ(doc.nsections, 0);
}

static void test_title(void)
{
	CHECK_HTML("<html><head><title>The  &amp;\n Title&#33; </title>"
		   "<meta charset=utf-8></head><body>Body</body></html>",
		   "Body");
	CHECK(doc.title && json_is_string(doc.title));
	if (doc.title)
		CHECK_STR(json_string_value(doc.title), "The & Title!");
	/* Tags are text inside a title. */
	CHECK_HTML("<title>a <b> c</title>x", "x");
	if (doc.title)
		CHECK_STR(json_string_value(doc.title), "a <b> c");
	/* An unclosed <head> ends where the body starts. */
	CHECK_HTML("<head><title>T</title><link rel=x><p>Body", "Body");
	CHECK(doc.title != NULL);
	CHECK_HTML("<head><title>T</title>Body text", "Body text");
	/* The first title counts; an empty one is none; svg titles are not. */
	CHECK_HTML("<title> </title><title>One</title><title>Two</title>x", "x");
	if (doc.title)
		CHECK_STR(json_string_value(doc.title), "One");
	CHECK_HTML("<svg><title>icon</title></svg>x", "x");
	CHECK(doc.title == NULL);
}

static void test_comments(void)
{
	CHECK_HTML("a<!-- <p>x</p> -->b", "ab");
	CHECK_HTML("a<!---->b<!-->c<!--->d", "abcd");
	CHECK_HTML("a<!-- x --!>b", "ab");
	CHECK_HTML("a<!-- unterminated <p>b</p>", "a");
	CHECK_HTML("<!DOCTYPE html><?xml version=\"1.0\"?>a<!bogus>b", "ab");
	CHECK_HTML("a<![CDATA[x<y &amp; z]]>b", "ax<y &amp; zb");
	CHECK_HTML("a<![CDATA[unterminated", "aunterminated");
	CHECK_HTML("a</ bogus>b", "ab");
}

static void test_attributes(void)
{
	CHECK_HTML("<a title=\"x>y\" href='a>b'>link</a>", "link");
	CHECK_HTML("<p class=x id = \"y\" hidden data-a=>a</p>", "a");
	CHECK_HTML("<p a=\"1\"b='2'c=3 / >z</p>", "z");
	CHECK_HTML("<p\nclass=\"a\"\n>t</p>", "t");
}

static void test_uppercase(void)
{
	CHECK_HTML("<P CLASS=x>a</P><SCRIPT>x</SCRIPT><Br>b", "a\n\nb");
	CHECK_HTML("<DiV>a</dIv><StYlE>s</sTyLe><PRE>  c</PRE>", "a\n\n  c");
	CHECK_HTML("<H1>T</H1>", "T");
	CHECK_EQ(doc.nsections, 1);
}

static void test_malformed(void)
{
	CHECK_HTML("a < b", "a < b");
	CHECK_HTML("a<3 and 1<2", "a<3 and 1<2");
	CHECK_HTML("x<", "x<");
	CHECK_HTML("x</", "x</");
	CHECK_HTML("<", "<");
	CHECK_HTML("a<b", "a");
	CHECK_HTML("<p>text <b class=\"x", "text");
	/* A quote never closed: the tag ends at its first '>'. */
	CHECK_HTML("a<i title=\"x>b", "ab");
	CHECK_HTML("a<!", "a");
	CHECK_HTML("a<?", "a");
	CHECK_HTML("a\xc3\xa9<\xc3\xa9", "a\xc3\xa9<\xc3\xa9");
	CHECK_HTML("</p>x</div></body>", "x");
}

/* A NUL in the text becomes U+FFFD, so the text stays a C string. */
static void test_nul(void)
{
	static const char src[] = "<p>a\0b</p>";
	rag_error err;

	rag_doc_reset(&doc);
	CHECK_EQ(rag_html_extract(&doc, src, sizeof src - 1, &err), 0);
	CHECK_MEM(doc.text, doc.len, "a\xef\xbf\xbd" "b");
	CHECK_EQ(rag_offmap_lookup(&doc.map, 1), 4);
	CHECK_EQ(rag_offmap_lookup(&doc.map, 4), 5);
	CHECK_EQ(rag_offmap_lookup(&doc.map, 5), 6);
}

/* The extracted text of a piece of source, in a doc of its own. */
static int extract_equals(const char *s, size_t n, const char *want,
			  size_t wlen)
{
	rag_doc d2;
	rag_error err;
	int ok;

	rag_doc_init(&d2);
	ok = rag_html_extract(&d2, s, n, &err) == 0 && d2.len == wlen &&
	     memcmp(d2.text, want, wlen) == 0;
	rag_doc_free(&d2);
	return ok;
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' ||
	       c == '\v';
}

static void test_offset_map(void)
{
	const char *src =
		"<!DOCTYPE html>\n<html><head><title>Sample</title></head><body>\n"
		"<h1>Intro  duction</h1>\n"
		"<p>The quick brown fox &amp; friends jump over  the lazy "
		"dog.</p>\n"
		"<p>Caf&eacute; cr&egrave;me &#8212; 100&#37; tasty&nbsp;&nbsp;"
		"food.</p>\n"
		"<ul><li>one</li>\n<li>two &lt;three&gt;</li></ul>\n"
		"<pre>\nint main() {\n    return 0;\n}\n</pre>\n"
		"<table><tr><td>cell1</td><td>cell2</td></tr></table>\n"
		"<p>na\xc3\xafve <b>bold</b> <!-- c -->and, \xe2\x82\xac 5</p>\n"
		"</body></html>\n";
	size_t n = strlen(src), i, s, e, prev, words = 0;
	const char *t = extract(src);

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(strstr(t, "Intro duction\n\nThe quick brown fox & friends") != NULL);
	CHECK(strstr(t, "one\ntwo <three>\n\nint main() {\n    return 0;\n}\n\n"
			"cell1 | cell2") != NULL);

	/* Lookups never go back and stay within the source. */
	prev = 0;
	for (i = 0; i <= doc.len; i++) {
		size_t o = rag_offmap_lookup(&doc.map, i);
		CHECK(o >= prev);
		CHECK(o <= n);
		prev = o;
	}

	/* Every word maps back to the source that made it. */
	for (s = 0; s < doc.len; s = e) {
		size_t a, b;
		while (s < doc.len && is_space(t[s]))
			s++;
		if (s >= doc.len)
			break;
		for (e = s; e < doc.len && !is_space(t[e]); e++)
			;
		if (e - s == 1 && t[s] == '|')
			continue; /* the cell separator has no source */
		a = rag_offmap_lookup(&doc.map, s);
		b = rag_offmap_lookup(&doc.map, e);
		CHECK(a <= b && b <= n);
		if (!(a <= b && b <= n))
			continue;
		words++;
		if (memchr(src + a, '&', b - a)) {
			if (!extract_equals(src + a, b - a, t + s, e - s)) {
				CHECK(!"the source of a word with references");
				fprintf(stderr, "  word \"%.*s\" source \"%.*s\"\n",
					(int)(e - s), t + s, (int)(b - a),
					src + a);
			}
		} else if (b - a != e - s || memcmp(src + a, t + s, e - s) != 0) {
			CHECK(!"the source of a word");
			fprintf(stderr, "  word \"%.*s\" source \"%.*s\"\n",
				(int)(e - s), t + s, (int)(b - a), src + a);
		}
	}
	CHECK(words > 30);

	/* The whole text: from its first character to its last. */
	CHECK(strncmp(src + rag_offmap_lookup(&doc.map, 0), "Intro", 5) == 0);
	CHECK_EQ(rag_offmap_lookup(&doc.map, doc.len),
		 strstr(src, "5</p>") + 1 - src);

	/* A span across a paragraph break covers both ends' sources. */
	s = (size_t)offset_of("dog.");
	e = (size_t)offset_of("Caf") + 3;
	CHECK_EQ(rag_offmap_lookup(&doc.map, s), strstr(src, "dog.") - src);
	CHECK_EQ(rag_offmap_lookup(&doc.map, e), strstr(src, "Caf") + 3 - src);
}

/* Reusing a doc whose buffers already hold something. */
static void test_reuse(void)
{
	CHECK_HTML("<p>a long first document with <pre>code</pre></p>"
		   "<h1>h</h1>",
		   "a long first document with\n\ncode\n\nh");
	CHECK_HTML("<p>b</p>", "b");
	CHECK_EQ(doc.len, 1);
	CHECK_EQ(doc.atoms.n, 0);
	CHECK_EQ(doc.nsections, 0);
	CHECK_EQ(rag_offmap_lookup(&doc.map, 0), 3);
	CHECK_EQ(rag_offmap_lookup(&doc.map, 1), 4);
}

static uint32_t rnd_state = 12345;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static int has_space_trouble(const char *t, size_t len)
{
	if (len && (is_space(t[0]) || is_space(t[len - 1])))
		return 1;
	return strstr(t, "\n\n\n") || strstr(t, "  ") || strstr(t, " \n") ||
	       strstr(t, "\n ");
}

static void test_random(void)
{
	static const char *const frags[] = {
		"<", ">", "p", "</", "&amp;", "&#x41;", "<!--", "-->",
		"<script>", "</script>", " ", "\n", "a", "\xc3\xa9", "<pre>",
		"</pre>", "<h2>", "</h2>", "\"", "'",
	};
	size_t nfrags = sizeof frags / sizeof frags[0];
	char src[1024];
	int iter, bad = 0;

	for (iter = 0; iter < 2000 && bad < 5; iter++) {
		size_t n = 0, i, k = rnd() % 80, prev;
		rag_error err;
		int ok = 1;

		while (k--) {
			const char *f = frags[rnd() % nfrags];
			size_t fl = strlen(f);
			if (n + fl >= sizeof src)
				break;
			memcpy(src + n, f, fl);
			n += fl;
		}
		src[n] = '\0';
		rag_doc_reset(&doc);
		if (rag_html_extract(&doc, src, n, &err) < 0) {
			ok = 0;
			goto done;
		}
		if (rag_utf8_valid_prefix(doc.text, doc.len) != doc.len ||
		    doc.text[doc.len] != '\0' || doc.src != src ||
		    doc.src_len != n)
			ok = 0;
		for (i = 0; i < doc.atoms.n; i++) {
			const rag_span *a = &doc.atoms.v[i];
			if (a->start >= a->end || a->end > doc.len ||
			    (i && a->start < doc.atoms.v[i - 1].end))
				ok = 0;
		}
		for (i = 0; i < doc.nsections; i++) {
			const rag_section *sec = &doc.sections[i];
			if (sec->start >= doc.len ||
			    (i && sec->start < doc.sections[i - 1].start) ||
			    !json_is_array(sec->headings) ||
			    json_array_size(sec->headings) == 0)
				ok = 0;
		}
		prev = 0;
		for (i = 0; i <= doc.len; i++) {
			size_t o = rag_offmap_lookup(&doc.map, i);
			if (o < prev || o > n)
				ok = 0;
			prev = o;
		}
		/* Without verbatim text, white space is always tidy. */
		if (!strstr(src, "<pre") && has_space_trouble(doc.text, doc.len))
			ok = 0;
done:
		if (!ok) {
			bad++;
			CHECK(!"random document");
			fprintf(stderr, "  source \"%s\"\n  text \"%s\"\n", src,
				doc.text);
		}
	}
	CHECK(bad == 0);
}

int main(void)
{
	rag_doc_init(&doc);
	RUN(test_tags_stripped);
	RUN(test_dropped_elements);
	RUN(test_named_entities);
	RUN(test_numeric_entities);
	RUN(test_legacy_entities);
	RUN(test_whitespace);
	RUN(test_paragraphs);
	RUN(test_br);
	RUN(test_table);
	RUN(test_pre);
	RUN(test_headings);
	RUN(test_title);
	RUN(test_comments);
	RUN(test_attributes);
	RUN(test_uppercase);
	RUN(test_malformed);
	RUN(test_nul);
	RUN(test_offset_map);
	RUN(test_reuse);
	RUN(test_random);
	rag_doc_free(&doc);
	return test_summary();
}
