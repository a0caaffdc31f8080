/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal strict JSON parser for the host tests (RFC 8259 subset: no
 * \u escapes beyond ASCII are decoded, which cowbench never emits).
 */
#ifndef COWBENCH_MINIJSON_H
#define COWBENCH_MINIJSON_H

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype t;
	bool b;
	double num;
	char *str;
	size_t n;
	char **keys; /* J_OBJ */
	struct jval **items; /* J_ARR, J_OBJ */
};

struct jparser {
	const char *p;
	const char *err;
};

static struct jval *j_value(struct jparser *jp, int depth);

static void j_ws(struct jparser *jp)
{
	while (*jp->p == ' ' || *jp->p == '\t' || *jp->p == '\n' ||
	       *jp->p == '\r')
		jp->p++;
}

static struct jval *j_new(enum jtype t)
{
	struct jval *v = calloc(1, sizeof(*v));

	v->t = t;
	return v;
}

static void json_free(struct jval *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->n; i++) {
		if (v->keys)
			free(v->keys[i]);
		json_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->str);
	free(v);
}

static char *j_string(struct jparser *jp)
{
	size_t cap = 16, n = 0;
	char *s;

	if (*jp->p != '"') {
		jp->err = "expected string";
		return NULL;
	}
	jp->p++;
	s = malloc(cap);
	while (*jp->p != '"') {
		char c = *jp->p;

		if (!c || (unsigned char)c < 0x20) {
			jp->err = "bad character in string";
			free(s);
			return NULL;
		}
		if (c == '\\') {
			jp->p++;
			switch (*jp->p) {
			case '"':
				c = '"';
				break;
			case '\\':
				c = '\\';
				break;
			case '/':
				c = '/';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				if (!isxdigit((unsigned char)jp->p[1]) ||
				    !isxdigit((unsigned char)jp->p[2]) ||
				    !isxdigit((unsigned char)jp->p[3]) ||
				    !isxdigit((unsigned char)jp->p[4])) {
					jp->err = "bad \\u escape";
					free(s);
					return NULL;
				}
				c = (char)strtol((char[]){ jp->p[3], jp->p[4],
							   0 },
						 NULL, 16);
				jp->p += 4;
				break;
			default:
				jp->err = "bad escape";
				free(s);
				return NULL;
			}
		}
		if (n + 2 > cap)
			s = realloc(s, cap *= 2);
		s[n++] = c;
		jp->p++;
	}
	jp->p++;
	s[n] = 0;
	return s;
}

static struct jval *j_number(struct jparser *jp)
{
	const char *p = jp->p;
	struct jval *v;
	char *end;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (isdigit((unsigned char)*p))
		while (isdigit((unsigned char)*p))
			p++;
	else
		goto bad;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	v = j_new(J_NUM);
	v->num = strtod(jp->p, &end);
	jp->p = p;
	return v;
bad:
	jp->err = "bad number";
	return NULL;
}

static struct jval *j_container(struct jparser *jp, bool obj, int depth)
{
	struct jval *v = j_new(obj ? J_OBJ : J_ARR), *item;
	char *key = NULL;

	jp->p++;
	j_ws(jp);
	if (*jp->p == (obj ? '}' : ']')) {
		jp->p++;
		return v;
	}
	for (;;) {
		j_ws(jp);
		if (obj) {
			key = j_string(jp);
			if (!key)
				goto fail;
			j_ws(jp);
			if (*jp->p != ':') {
				jp->err = "expected ':'";
				goto fail;
			}
			jp->p++;
		}
		item = j_value(jp, depth + 1);
		if (!item)
			goto fail;
		v->items = realloc(v->items, (v->n + 1) * sizeof(*v->items));
		if (obj) {
			v->keys =
				realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
			v->keys[v->n] = key;
			key = NULL;
		}
		v->items[v->n++] = item;
		j_ws(jp);
		if (*jp->p == ',') {
			jp->p++;
			continue;
		}
		if (*jp->p == (obj ? '}' : ']')) {
			jp->p++;
			return v;
		}
		jp->err = "expected ',' or end of container";
		goto fail;
	}
fail:
	free(key);
	json_free(v);
	return NULL;
}

static struct jval *j_value(struct jparser *jp, int depth)
{
	struct jval *v;

	if (depth > 64) {
		jp->err = "too deep";
		return NULL;
	}
	j_ws(jp);
	switch (*jp->p) {
	case '{':
		return j_container(jp, true, depth);
	case '[':
		return j_container(jp, false, depth);
	case '"':
		v = j_new(J_STR);
		v->str = j_string(jp);
		if (!v->str) {
			free(v);
			return NULL;
		}
		return v;
	case 't':
	case 'f':
	case 'n':
		if (!strncmp(jp->p, "true", 4) || !strncmp(jp->p, "false", 5)) {
			v = j_new(J_BOOL);
			v->b = *jp->p == 't';
			jp->p += v->b ? 4 : 5;
			return v;
		}
		if (!strncmp(jp->p, "null", 4)) {
			jp->p += 4;
			return j_new(J_NULL);
		}
		jp->err = "bad literal";
		return NULL;
	default:
		return j_number(jp);
	}
}

/* parse exactly one JSON value spanning the whole of s */
static struct jval *json_parse(const char *s, const char **err)
{
	struct jparser jp = { .p = s, .err = NULL };
	struct jval *v = j_value(&jp, 0);

	if (v) {
		j_ws(&jp);
		if (*jp.p) {
			jp.err = "trailing characters";
			json_free(v);
			v = NULL;
		}
	}
	if (err)
		*err = jp.err;
	return v;
}

static const struct jval *jget(const struct jval *o, const char *key)
{
	size_t i;

	if (!o || o->t != J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (!strcmp(o->keys[i], key))
			return o->items[i];
	return NULL;
}

/* The number under @k of object @o, or -1 when it is missing or not a number. */
static inline double jnum(const struct jval *o, const char *k)
{
	const struct jval *v = jget(o, k);

	return v && v->t == J_NUM ? v->num : -1;
}

/* The string under @k of object @o, or "" when it is missing or not a string. */
static inline const char *jstr(const struct jval *o, const char *k)
{
	const struct jval *v = jget(o, k);

	return v && v->t == J_STR ? v->str : "";
}

#endif
