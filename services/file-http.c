/*
 * file-http: the file service's HTTP/1.1 request parser (RFC 9112's
 * message syntax, RFC 9110's fields), its dates and ranges, and the paths
 * both framings name.
 *
 * Strict where the RFCs say a server must be, because every leniency here
 * is a way to smuggle a request past a proxy that reads it differently: a
 * request line is METHOD SP target SP HTTP/d.d; a field name is a token
 * directly followed by its colon; no obs-fold; no control byte in a value;
 * one Host in HTTP/1.1; one Content-Length, all digits; never a
 * Transfer-Encoding with it; no request body at all (a static file server
 * has no use for one, and cannot frame what follows it).  Lenient where
 * they allow it: a bare LF ends a line, empty lines before the request
 * line are skipped.
 *
 * Nothing here allocates or keeps state: it reads a buffer and says what
 * it found, so the fuzz harness (fuzz/file-http.c) can drive it alone.
 */
#include "file.h"

#include <string.h>
#include <strings.h>

static bool
is_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' && strchr(extra, c) != NULL);
}

/* A field value byte: VCHAR, obs-text, SP, HTAB. */
static bool
is_vbyte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The line at p (up to end): its length without CR LF, and where the next
 * begins; false if there is no LF. */
static bool
next_line(const char *p, const char *end, size_t *len, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	if (nl == NULL)
		return false;
	*next = nl + 1;
	*len = (size_t)(nl - p);
	if (*len > 0 && p[*len - 1] == '\r')
		(*len)--;
	return true;
}

ssize_t
http_head_end(const char *buf, size_t len, size_t line_max, size_t head_max)
{
	const char *p = buf, *end = buf + len, *next;
	size_t ll;
	bool first = true;

	while (p < end) {
		if (!next_line(p, end, &ll, &next)) {
			/* A partial line: already too long? */
			if (first && (size_t)(end - p) > line_max)
				return -414;
			break;
		}
		if (first && ll > line_max)
			return -414;
		if ((size_t)(next - buf) > head_max)
			return -431;
		p = next;
		if (ll == 0 && !first)
			return p - buf;		/* the blank line */
		if (ll > 0)
			first = false;
	}
	if (len > head_max)
		return -431;
	return 0;
}

bool
http_line_is_http(const char *line, size_t len)
{
	const char *sp1, *sp2;
	size_t i;

	if ((sp1 = memchr(line, ' ', len)) == NULL || sp1 == line)
		return false;
	for (i = 0; line + i < sp1; i++)
		if (!is_tchar((unsigned char)line[i]))
			return false;
	for (sp2 = line + len; sp2 > sp1 && sp2[-1] != ' '; sp2--)
		;
	/* Two spaces at least, the last word HTTP/... */
	return sp2 - 1 > sp1 && line + len - sp2 >= 5 &&
	    memcmp(sp2, "HTTP/", 5) == 0;
}

/* ---- dates ---- */

static const char wkdays[7][4] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue",
	"Wed" };	/* day 0, 1970-01-01, was a Thursday */
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Days since 1970-01-01 of a proleptic Gregorian date, and back
 * (Howard Hinnant's days_from_civil and civil_from_days): no tables, no
 * time zone, no locale, unlike gmtime_r/strftime/timegm. */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void
put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
}

void
http_date(int64_t t, char *out)
{
	int64_t days = (t >= 0 ? t : t - 86399) / 86400, y;
	int64_t secs = t - days * 86400;
	unsigned m, d;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		y = y < 0 ? 0 : 9999;
	memcpy(out, wkdays[((days % 7) + 7) % 7], 3);
	memcpy(out + 3, ", ", 2);
	put2(out + 5, d);
	out[7] = ' ';
	memcpy(out + 8, months[m - 1], 3);
	out[11] = ' ';
	put2(out + 12, (unsigned)(y / 100));
	put2(out + 14, (unsigned)(y % 100));
	out[16] = ' ';
	put2(out + 17, (unsigned)(secs / 3600));
	out[19] = ':';
	put2(out + 20, (unsigned)(secs / 60 % 60));
	out[22] = ':';
	put2(out + 23, (unsigned)(secs % 60));
	memcpy(out + 25, " GMT", 5);	/* with the NUL */
}

/* n digits at *p (advanced), or -1. */
static int
digits(const char **p, const char *end, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*p >= end || **p < '0' || **p > '9')
			return -1;
		v = v * 10 + (*(*p)++ - '0');
	}
	return v;
}

static int
month_of(const char **p, const char *end)
{
	int i;

	if (end - *p < 3)
		return -1;
	for (i = 0; i < 12; i++)
		if (memcmp(*p, months[i], 3) == 0) {
			*p += 3;
			return i + 1;
		}
	return -1;
}

static bool
lit(const char **p, const char *end, const char *s)
{
	size_t n = strlen(s);

	if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
		return false;
	*p += n;
	return true;
}

/* "HH:MM:SS" */
static int64_t
hms(const char **p, const char *end)
{
	int h, mi, s;

	if ((h = digits(p, end, 2)) < 0 || !lit(p, end, ":") ||
	    (mi = digits(p, end, 2)) < 0 || !lit(p, end, ":") ||
	    (s = digits(p, end, 2)) < 0 || h > 23 || mi > 59 || s > 60)
		return -1;
	return (int64_t)h * 3600 + mi * 60 + s;
}

int64_t
http_date_parse(const char *s, size_t len)
{
	const char *p = s, *end = s + len, *comma = memchr(s, ',', len);
	int64_t t;
	int d, m, y;

	if (comma != NULL && comma - s == 3) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
		p = comma + 1;
		if (!lit(&p, end, " ") || (d = digits(&p, end, 2)) < 0 ||
		    !lit(&p, end, " ") || (m = month_of(&p, end)) < 0 ||
		    !lit(&p, end, " ") || (y = digits(&p, end, 4)) < 0 ||
		    !lit(&p, end, " "))
			return -1;
	} else if (comma != NULL) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT; a two-digit year
		 * is the one in the past 50 years, say 1970 to 2069. */
		p = comma + 1;
		if (!lit(&p, end, " ") || (d = digits(&p, end, 2)) < 0 ||
		    !lit(&p, end, "-") || (m = month_of(&p, end)) < 0 ||
		    !lit(&p, end, "-") || (y = digits(&p, end, 2)) < 0 ||
		    !lit(&p, end, " "))
			return -1;
		y += y < 70 ? 2000 : 1900;
	} else {
		/* asctime: Sun Nov  6 08:49:37 1994 */
		p = s + 3;
		if (len < 24 || !lit(&p, end, " ") ||
		    (m = month_of(&p, end)) < 0 || !lit(&p, end, " "))
			return -1;
		if (*p == ' ')
			p++, d = digits(&p, end, 1);
		else
			d = digits(&p, end, 2);
		if (d < 0 || !lit(&p, end, " ") || (t = hms(&p, end)) < 0 ||
		    !lit(&p, end, " ") || (y = digits(&p, end, 4)) < 0 ||
		    p != end || d < 1 || d > 31)
			return -1;
		return days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + t;
	}
	if ((t = hms(&p, end)) < 0 || !lit(&p, end, " GMT") || p != end ||
	    d < 1 || d > 31)
		return -1;
	return days_from_civil(y, (unsigned)m, (unsigned)d) * 86400 + t;
}

/* ---- fields ---- */

static bool
name_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

/* All digits, not empty, no overflow. */
static bool
parse_u64(const char *s, size_t len, uint64_t *v)
{
	size_t i;

	*v = 0;
	if (len == 0 || len > 19)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

/* Connection: a comma list of tokens. */
static void
connection(struct http_req *r, const char *v, size_t len)
{
	size_t i = 0, start, n;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
			i++;
		n = i - start;
		if (name_is(v + start, n, "close"))
			r->close = true;
		else if (name_is(v + start, n, "keep-alive"))
			r->keep_alive = true;
	}
}

/* Range: bytes=A-B, bytes=A-, bytes=-N; anything else is no range. */
static void
range(struct http_req *r, const char *v, size_t len)
{
	const char *dash;
	uint64_t a, b;

	r->range = false;
	if (len < 7 || strncasecmp(v, "bytes=", 6) != 0)
		return;
	v += 6, len -= 6;
	if (memchr(v, ',', len) != NULL || (dash = memchr(v, '-', len)) == NULL)
		return;
	if (dash == v) {
		if (!parse_u64(v + 1, len - 1, &b))
			return;
		r->suffix = true;
		r->last = b;
	} else {
		if (!parse_u64(v, (size_t)(dash - v), &a))
			return;
		if (dash + 1 == v + len)
			b = UINT64_MAX;
		else if (!parse_u64(dash + 1, (size_t)(v + len - dash - 1), &b) ||
		    b < a)
			return;
		r->suffix = false;
		r->first = a;
		r->last = b;
	}
	r->range = true;
}

/* Host: uri-host [ ":" port ] -- reg-name, IPv4 or [IPv6]; a byte outside
 * those is a bad request. */
static bool
host_ok(const char *v, size_t len)
{
	static const char ok[] = "-._~!$&'()*+,;=:[]%";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c != '\0' && strchr(ok, c))))
			return false;
	}
	return true;
}

/* The request line: METHOD SP target SP HTTP/d.d.  0 or a status. */
static int
request_line(struct http_req *r, const char *p, size_t len)
{
	const char *end = p + len, *sp1, *sp2;
	size_t i;

	if ((sp1 = memchr(p, ' ', len)) == NULL || sp1 == p)
		return 400;
	for (i = 0; p + i < sp1; i++)
		if (!is_tchar((unsigned char)p[i]))
			return 400;
	if (sp1 - p == 3 && memcmp(p, "GET", 3) == 0)
		r->method = HTTP_GET;
	else if (sp1 - p == 4 && memcmp(p, "HEAD", 4) == 0)
		r->method = HTTP_HEAD;
	else
		r->method = HTTP_OTHER;
	r->target = sp1 + 1;
	if ((sp2 = memchr(r->target, ' ', (size_t)(end - r->target))) == NULL)
		return 400;
	r->target_len = (size_t)(sp2 - r->target);
	if (r->target_len == 0)
		return 400;
	for (i = 0; i < r->target_len; i++)
		if ((unsigned char)r->target[i] <= 0x20 ||
		    (unsigned char)r->target[i] >= 0x7f)
			return 400;
	p = sp2 + 1;
	if (end - p != 8 || memcmp(p, "HTTP/", 5) != 0 || p[5] < '0' ||
	    p[5] > '9' || p[6] != '.' || p[7] < '0' || p[7] > '9')
		return 400;
	if (p[5] != '1')
		return 505;
	r->minor = p[7] == '0' ? 0 : 1;	/* 1.2 and later speak 1.1 */
	return 0;
}

int
http_parse(const char *head, size_t len, struct http_req *r)
{
	const char *p = head, *end = head + len, *next, *colon, *v;
	size_t ll, vl, nfields = 0;
	uint64_t cl = 0;
	int st, hosts = 0, cls = 0, ranges = 0;
	bool te = false;

	memset(r, 0, sizeof(*r));
	r->ims = -1;
	r->if_range = -1;
	/* Empty lines before the request line are skipped (RFC 9112 2.2). */
	do
		if (!next_line(p, end, &ll, &next))
			return 400;
	while (ll == 0 && (p = next) < end);
	if (memchr(p, '\r', ll) != NULL)
		return 400;		/* a bare CR */
	if ((st = request_line(r, p, ll)) != 0)
		return st;
	for (p = next; p < end; p = next) {
		if (!next_line(p, end, &ll, &next))
			return 400;
		if (ll == 0)
			break;
		if (++nfields > HTTP_FIELDS_MAX)
			return 431;
		if (p[0] == ' ' || p[0] == '\t')
			return 400;	/* obs-fold */
		if ((colon = memchr(p, ':', ll)) == NULL || colon == p)
			return 400;
		for (v = p; v < colon; v++)
			if (!is_tchar((unsigned char)*v))
				return 400;	/* "Name :" included */
		for (v = colon + 1; v < p + ll && (*v == ' ' || *v == '\t');
		    v++)
			;
		vl = (size_t)(p + ll - v);
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		for (size_t i = 0; i < vl; i++)
			if (!is_vbyte((unsigned char)v[i]))
				return 400;	/* NUL, bare CR, DEL... */
		ll = (size_t)(colon - p);
		if (name_is(p, ll, "host")) {
			if (++hosts > 1 || !host_ok(v, vl))
				return 400;
		} else if (name_is(p, ll, "content-length")) {
			if (++cls > 1 || !parse_u64(v, vl, &cl))
				return 400;
		} else if (name_is(p, ll, "transfer-encoding")) {
			te = true;
		} else if (name_is(p, ll, "connection")) {
			connection(r, v, vl);
		} else if (name_is(p, ll, "if-modified-since")) {
			r->ims = http_date_parse(v, vl);
		} else if (name_is(p, ll, "if-range")) {
			r->if_range = http_date_parse(v, vl);
			if (r->if_range < 0)
				r->if_range = -2;
		} else if (name_is(p, ll, "range")) {
			ranges++;
			range(r, v, vl);
		}
	}
	if (te && (cls > 0 || r->minor == 0))
		return 400;	/* the smuggler's pair; TE is not 1.0's */
	if (r->method == HTTP_OTHER)
		return 405;
	if (te || cl > 0)
		return 400;	/* a body on GET or HEAD */
	if (r->minor == 1 && hosts == 0)
		return 400;
	if (ranges > 1)
		r->range = false;
	return 0;
}

int
http_range(const struct http_req *r, uint64_t size, uint64_t *off,
    uint64_t *len)
{
	if (!r->range)
		return 0;
	if (r->suffix) {
		if (r->last == 0 || size == 0)
			return -1;
		*len = r->last < size ? r->last : size;
		*off = size - *len;
		return 1;
	}
	if (r->first >= size)
		return -1;
	*off = r->first;
	*len = (r->last >= size ? size - 1 : r->last) - r->first + 1;
	return 1;
}

/* ---- paths ---- */

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

/* One segment [s, s + n) onto out at *o: PATH_OK or why not. */
static int
segment(const char *s, size_t n, bool dotfiles, char *out, size_t outlen,
    size_t *o)
{
	if (n == 0 || (n == 1 && s[0] == '.'))
		return PATH_OK;
	if (n == 2 && s[0] == '.' && s[1] == '.')
		return PATH_DOTDOT;
	if (s[0] == '.' && !dotfiles)
		return PATH_HIDDEN;
	if (*o + n + 2 > outlen)
		return PATH_LONG;
	if (*o > 0)
		out[(*o)++] = '/';
	memcpy(out + *o, s, n);
	*o += n;
	return PATH_OK;
}

int
file_path(const char *in, size_t len, bool decode, bool dotfiles,
    char *out, size_t outlen, bool *dir)
{
	char seg[256];
	size_t i, n = 0, o = 0;
	int c, h, l, st;

	*dir = len > 0 && in[len - 1] == '/';
	for (i = 0; i <= len; i++) {
		if (i == len || in[i] == '/') {
			if ((st = segment(seg, n, dotfiles, out, outlen, &o)) !=
			    PATH_OK)
				return st;
			n = 0;
			continue;
		}
		c = (unsigned char)in[i];
		if (decode && c == '%') {
			if (i + 2 >= len || (h = hexval(in[i + 1])) < 0 ||
			    (l = hexval(in[i + 2])) < 0)
				return PATH_BAD;
			c = h << 4 | l;
			i += 2;
			if (c == '/') {
				/* An encoded slash separates like a slash:
				 * "..%2f" is still a "..". */
				if ((st = segment(seg, n, dotfiles, out,
				    outlen, &o)) != PATH_OK)
					return st;
				n = 0;
				continue;
			}
		}
		if (c < 0x20 || c == 0x7f)
			return PATH_BAD;
		if (n == sizeof(seg))
			return PATH_LONG;	/* NAME_MAX is 255 */
		seg[n++] = (char)c;
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = '\0';
	return PATH_OK;
}

const char *
file_mime(const char *name)
{
	static const struct { const char *ext, *type; } types[] = {
		{ "html", "text/html; charset=utf-8" },
		{ "htm", "text/html; charset=utf-8" },
		{ "txt", "text/plain; charset=utf-8" },
		{ "md", "text/markdown; charset=utf-8" },
		{ "c", "text/plain; charset=utf-8" },
		{ "h", "text/plain; charset=utf-8" },
		{ "sh", "text/plain; charset=utf-8" },
		{ "css", "text/css; charset=utf-8" },
		{ "csv", "text/csv; charset=utf-8" },
		{ "js", "text/javascript; charset=utf-8" },
		{ "json", "application/json" },
		{ "xml", "application/xml" },
		{ "svg", "image/svg+xml" },
		{ "png", "image/png" },
		{ "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" },
		{ "gif", "image/gif" },
		{ "webp", "image/webp" },
		{ "ico", "image/vnd.microsoft.icon" },
		{ "pdf", "application/pdf" },
		{ "zip", "application/zip" },
		{ "gz", "application/gzip" },
		{ "tar", "application/x-tar" },
		{ "xz", "application/x-xz" },
		{ "wasm", "application/wasm" },
		{ "mp3", "audio/mpeg" },
		{ "ogg", "audio/ogg" },
		{ "mp4", "video/mp4" },
		{ "webm", "video/webm" },
		{ "woff", "font/woff" },
		{ "woff2", "font/woff2" },
	};
	const char *dot = strrchr(name, '.'), *slash = strrchr(name, '/');
	size_t i;

	if (dot != NULL && (slash == NULL || dot > slash))
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}
