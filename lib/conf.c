/* conf.c - the ragkit configuration file; see conf.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"

typedef struct {
	char *key, *value;
	long line;
} entry;

struct rag_config {
	char *path;
	entry *v;
	size_t n, cap;
};

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	*e = '\0';
	return s;
}

static int put(rag_config *c, const char *key, const char *value, long line)
{
	size_t i;
	entry *e;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i].key, key) == 0) {
			/* The last value wins, at its own place. */
			free(c->v[i].key);
			free(c->v[i].value);
			memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof *c->v);
			c->n--;
			break;
		}
	if (rag_array_reserve(&c->v, &c->cap, c->n + 1, sizeof *c->v) < 0)
		return -1;
	e = &c->v[c->n];
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = line;
	if (!e->key || !e->value) {
		free(e->key);
		free(e->value);
		return -1;
	}
	c->n++;
	return 0;
}

rag_config *rag_config_load_file(const char *path, int must_exist, rag_error *err)
{
	rag_config *c = calloc(1, sizeof *c);
	char section[128] = "", key[256];
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0;
	FILE *f;

	if (!c || !(c->path = strdup(path ? path : ""))) {
		free(c);
		return rag_error_set(err, RAG_ENOMEM, NULL, 0, "out of memory"), NULL;
	}
	if (!path)
		return c;
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT && !must_exist)
			return c;
		rag_error_sys(err, errno, path, "cannot read the configuration");
		rag_config_free(c);
		return NULL;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *s = trim(line), *eq, *k, *v;
		size_t n;
		lineno++;
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1] != '\0' || close == s + 1 || (size_t)(close - s) >= sizeof section) {
				rag_error_set(err, RAG_EUSAGE, path, lineno, "expected [section]");
				goto fail;
			}
			*close = '\0';
			snprintf(section, sizeof section, "%s", trim(s + 1));
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			rag_error_set(err, RAG_EUSAGE, path, lineno, "expected key = value");
			goto fail;
		}
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		if (!*k) {
			rag_error_set(err, RAG_EUSAGE, path, lineno, "expected key = value");
			goto fail;
		}
		n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		if (snprintf(key, sizeof key, "%s%s%s", section, *section ? "." : "", k) >= (int)sizeof key) {
			rag_error_set(err, RAG_EUSAGE, path, lineno, "key too long");
			goto fail;
		}
		if (put(c, key, v, lineno) < 0) {
			rag_error_set(err, RAG_ENOMEM, path, lineno, "out of memory");
			goto fail;
		}
	}
	if (ferror(f)) {
		rag_error_sys(err, errno, path, "cannot read the configuration");
		goto fail;
	}
	free(line);
	fclose(f);
	return c;
fail:
	free(line);
	fclose(f);
	rag_config_free(c);
	return NULL;
}

rag_config *rag_config_load(rag_error *err)
{
	const char *env = getenv("RAGKIT_CONFIG"), *xdg, *home;
	char path[4096];

	if (env && *env)
		return rag_config_load_file(env, 1, err);
	xdg = getenv("XDG_CONFIG_HOME");
	home = getenv("HOME");
	if (xdg && *xdg)
		snprintf(path, sizeof path, "%s/ragkit/config", xdg);
	else if (home && *home)
		snprintf(path, sizeof path, "%s/.config/ragkit/config", home);
	else
		return rag_config_load_file(NULL, 0, err);
	return rag_config_load_file(path, 0, err);
}

void rag_config_free(rag_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
	}
	free(c->v);
	free(c->path);
	free(c);
}

const char *rag_config_path(const rag_config *c)
{
	return c->path;
}

const char *rag_config_get(const rag_config *c, const char *key, long *line)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i].key, key) == 0) {
			if (line)
				*line = c->v[i].line;
			return c->v[i].value;
		}
	return NULL;
}

size_t rag_config_count(const rag_config *c)
{
	return c->n;
}

const char *rag_config_key(const rag_config *c, size_t i)
{
	return c->v[i].key;
}

const char *rag_config_value(const rag_config *c, size_t i)
{
	return c->v[i].value;
}

long rag_config_line(const rag_config *c, size_t i)
{
	return c->v[i].line;
}
