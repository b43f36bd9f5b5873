/*
 * proto: requests and answers of protocols other than echo and nbytes.
 *
 * A request is a template: text with C-like escapes (\n, \r, \t, \0, \\,
 * \xHH) and the placeholders {conn} (the connection's number) and {req}
 * (the request's number on that connection, from 0), parsed once into
 * segments so that expanding one is a few memcpy()s; one without
 * placeholders is sent as it is.  --payload FILE is sent byte for byte,
 * without escapes or placeholders.
 *
 * An answer ends by a rule: the request echoed (the default), an exact
 * expected reply (a template too), a byte count, or a terminator.  A
 * terminator is matched with its failure function (Knuth-Morris-Pratt), so
 * it is found however the reply is split across reads.
 */
#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
unescape(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = 0;
	int h, l;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\') {
			switch (*++s) {
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case '0': c = '\0'; break;
			case '\\': c = '\\'; break;
			case '{': c = '{'; break;
			case 'x':
				if ((h = hexval(s[1])) < 0 ||
				    (l = hexval(s[2])) < 0)
					return -1;
				c = (unsigned char)(h << 4 | l);
				s += 2;
				break;
			default:
				return -1;
			}
		}
		if (n >= cap)
			return -1;
		out[n++] = c;
	}
	*len = n;
	return 0;
}

#define U64_DIGITS	20

/* Append text piece s[0..len) to t, unescaped if asked. */
static int
add_text(struct tmpl *t, const char *s, size_t len, bool escapes)
{
	char *piece;
	size_t n;
	int r = 0;

	if (len == 0)
		return 0;
	if (!escapes) {
		memcpy(t->text + t->len, s, len);
		n = len;
	} else {
		if ((piece = strndup(s, len)) == NULL)
			return -1;
		r = unescape(piece, t->text + t->len, len, &n);
		free(piece);
		if (r == -1)
			return -1;
	}
	t->seg[t->nseg].kind = SEG_TEXT;
	t->seg[t->nseg].off = t->len;
	t->seg[t->nseg++].len = n;
	t->len += n;
	t->maxlen += n;
	return 0;
}

int
tmpl_parse(struct tmpl *t, const char *s, size_t len, bool escapes,
    char *err, size_t errlen)
{
	size_t i, start = 0;

	memset(t, 0, sizeof(*t));
	/* Unescaping only shortens; at most one segment per byte, plus
	 * one. */
	t->text = malloc(len + 1);
	t->seg = calloc(len + 1, sizeof(*t->seg));
	if (t->text == NULL || t->seg == NULL) {
		snprintf(err, errlen, "%s", strerror(ENOMEM));
		return -1;
	}
	for (i = 0; escapes && i < len; i++) {
		int kind = -1;
		size_t plen = 0;

		if (s[i] == '\\' && i + 1 < len) {
			i++;	/* \{ is a brace, \\ a backslash */
			continue;
		}
		if (strncmp(s + i, "{conn}", 6) == 0)
			kind = SEG_CONN, plen = 6;
		else if (strncmp(s + i, "{req}", 5) == 0)
			kind = SEG_REQ, plen = 5;
		if (kind < 0)
			continue;
		if (add_text(t, s + start, i - start, escapes) == -1)
			goto bad;
		t->seg[t->nseg++].kind = kind;
		t->maxlen += U64_DIGITS;
		i += plen - 1;
		start = i + 1;
	}
	if (add_text(t, s + start, len - start, escapes) == -1)
		goto bad;
	t->fixed = true;
	for (i = 0; i < t->nseg; i++)
		if (t->seg[i].kind != SEG_TEXT)
			t->fixed = false;
	return 0;
bad:
	snprintf(err, errlen, "a bad escape (use \\n \\r \\t \\0 \\\\ "
	    "\\{ \\xHH)");
	return -1;
}

static size_t
put_u64(unsigned char *out, uint64_t v)
{
	char tmp[U64_DIGITS + 1];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	memcpy(out, tmp, (size_t)n);
	return (size_t)n;
}

size_t
tmpl_expand(const struct tmpl *t, uint64_t conn, uint64_t req,
    unsigned char *out)
{
	size_t i, n = 0;

	for (i = 0; i < t->nseg; i++) {
		const struct tseg *s = &t->seg[i];

		switch (s->kind) {
		case SEG_TEXT:
			memcpy(out + n, t->text + s->off, s->len);
			n += s->len;
			break;
		case SEG_CONN:
			n += put_u64(out + n, conn);
			break;
		default:
			n += put_u64(out + n, req);
			break;
		}
	}
	return n;
}

void
proto_prepare(struct proto *p)
{
	size_t i;
	unsigned k = 0;

	/* kmp[i]: the longest proper prefix of term[0..i] that is also its
	 * suffix. */
	if (p->termlen)
		p->kmp[0] = 0;
	for (i = 1; i < p->termlen; i++) {
		while (k > 0 && p->term[i] != p->term[k])
			k = p->kmp[k - 1];
		if (p->term[i] == p->term[k])
			k++;
		p->kmp[i] = k;
	}
}
