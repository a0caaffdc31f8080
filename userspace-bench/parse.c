// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define ERR(...) snprintf(err, errlen, __VA_ARGS__)

/* strict unsigned decimal prefix: digits only, no sign, no spaces */
static int parse_digits(const char *s, const char **end, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned int d = (unsigned int)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -2;
		v = v * 10 + d;
	}
	*end = p;
	*out = v;
	return 0;
}

int parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	const char *p;
	uint64_t v;
	unsigned int shift = 0;
	int r;

	if (!s || !*s) {
		ERR("empty size");
		return -1;
	}
	r = parse_digits(s, &p, &v);
	if (r == -2) {
		ERR("size '%s' is too large", s);
		return -1;
	}
	if (r) {
		ERR("size '%s' must start with a decimal number (e.g. 64M)", s);
		return -1;
	}
	switch (*p) {
	case 'k':
	case 'K':
		shift = 10;
		p++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		p++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		p++;
		break;
	case 't':
	case 'T':
		shift = 40;
		p++;
		break;
	}
	if (shift && (!strcmp(p, "B") || !strcmp(p, "iB")))
		p += strlen(p);
	if (*p) {
		ERR("size '%s': bad suffix '%s' (use K, M, G or T)", s, p);
		return -1;
	}
	if (shift && v > (UINT64_MAX >> shift)) {
		ERR("size '%s' is too large", s);
		return -1;
	}
	*out = v << shift;
	return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	      char *err, size_t errlen)
{
	const char *p;
	uint64_t v;
	int r;

	if (!s || !*s) {
		ERR("empty number");
		return -1;
	}
	r = parse_digits(s, &p, &v);
	if (r == -2 || (!r && !*p && v > max)) {
		ERR("'%s' is out of range [%llu, %llu]", s,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	if (r || *p) {
		ERR("'%s' is not an unsigned decimal integer", s);
		return -1;
	}
	if (v < min) {
		ERR("'%s' is out of range [%llu, %llu]", s,
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int parse_frac(const char *s, double *out, char *err, size_t errlen)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s)) {
		ERR("empty fraction");
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || !(v > 0.0 && v <= 1.0)) {
		ERR("fraction '%s' must be a number in (0, 1]", s);
		return -1;
	}
	*out = v;
	return 0;
}

static const char *const who_names[] = { "child", "parent", "both" };
static const char *const pattern_names[] = { "seq", "rev", "rand", "stride" };
static const char *const odf_names[] = { "off", "on", "sysctl" };
static const char *const child_names[] = { "exit", "exec", "write" };

const char *who_name(enum who w)
{
	return who_names[w];
}

const char *pattern_name(enum pattern p)
{
	return pattern_names[p];
}

const char *odf_name(enum odf_mode m)
{
	return odf_names[m];
}

const char *child_name(enum child_action c)
{
	return child_names[c];
}

int odf_prctl_arg(enum odf_mode m)
{
	return m == ODF_OFF ? 2 : m == ODF_ON ? 1 : 0;
}

int parse_odf(const char *s, enum odf_mode *out, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (s && !strcmp(s, odf_names[i])) {
			*out = (enum odf_mode)i;
			return 0;
		}
	}
	ERR("bad --odf '%s' (off|on|sysctl)", s ? s : "");
	return -1;
}

int parse_child(const char *s, enum child_action *out, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (s && !strcmp(s, child_names[i])) {
			*out = (enum child_action)i;
			return 0;
		}
	}
	ERR("bad --child '%s' (exit|exec|write)", s ? s : "");
	return -1;
}

int parse_who(const char *s, enum who *out, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		if (s && !strcmp(s, who_names[i])) {
			*out = (enum who)i;
			return 0;
		}
	}
	ERR("bad --who '%s' (child|parent|both)", s ? s : "");
	return -1;
}

int parse_pattern(const char *s, enum pattern *out, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < 4; i++) {
		if (s && !strcmp(s, pattern_names[i])) {
			*out = (enum pattern)i;
			return 0;
		}
	}
	ERR("bad --pattern '%s' (seq|rev|rand|stride)", s ? s : "");
	return -1;
}

int parse_kind(const char *s, struct kind *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum kind_type type;
	} fixed[] = {
		{ "4k", KIND_4K },
		{ "thp", KIND_THP },
		{ "hugetlb-2m", KIND_HUGETLB_2M },
		{ "hugetlb-1g", KIND_HUGETLB_1G },
		{ "zero", KIND_ZERO },
		{ "file", KIND_FILE },
	};
	unsigned int i;
	uint64_t kb;
	const char *p;

	memset(out, 0, sizeof(*out));
	if (!s)
		s = "";
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!strcmp(s, fixed[i].name)) {
			out->type = fixed[i].type;
			snprintf(out->name, sizeof(out->name), "%s", s);
			return 0;
		}
	}
	if (!strncmp(s, "mthp-", 5)) {
		if (parse_digits(s + 5, &p, &kb) || strcmp(p, "k") || kb < 8 ||
		    kb > (1u << 20) || (kb & (kb - 1))) {
			ERR("bad --page '%s': mTHP kinds are mthp-<N>k with N a power of two >= 8 (e.g. mthp-64k)",
			    s);
			return -1;
		}
		out->type = KIND_MTHP;
		out->mthp_size = kb << 10;
		snprintf(out->name, sizeof(out->name), "mthp-%lluk",
			 (unsigned long long)kb);
		return 0;
	}
	ERR("bad --page '%s' (4k|thp|mthp-<N>k|hugetlb-2m|hugetlb-1g|zero|file; --list shows what this kernel offers)",
	    s);
	return -1;
}

void format_size(uint64_t v, char *buf, size_t len)
{
	static const char suffix[] = "KMGT";
	int i;

	for (i = 3; i >= 0; i--) {
		uint64_t unit = 1ull << (10 * (i + 1));

		if (v && v % unit == 0) {
			snprintf(buf, len, "%llu%c",
				 (unsigned long long)(v / unit), suffix[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}
