/*
 * metainfo: turns the bytes of a .torrent file into a struct metainfo that
 * the rest of pieces can trust without re-checking.
 *
 * The work happens in three passes over the decoded bencode tree: the
 * `info` dictionary (name, piece length, piece hashes, file layout), the
 * trackers and web seeds, and the free-text fields. Structural keys of the
 * wrong type are errors naming the key; purely descriptive keys of the
 * wrong type (comment, creation date, a non-string tracker entry) are
 * skipped, because refusing a torrent over its comment helps nobody.
 *
 * File names get the most care: every component is checked, the joined
 * path length is capped, and after the whole list is read, a sort by
 * components finds duplicates and files that are also directories. Error
 * messages quote the offending path with control characters and invalid
 * UTF-8 escaped, so a hostile name can neither break the one-line message
 * nor send escape sequences to the user's terminal.
 */
#include "metainfo.h"

#include "bencode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct parser {
	const uint8_t *base; /* start of the input, for error offsets */
	struct error *err;
};

/* A quoted, escaped excerpt of untrusted bytes for an error message. */
#define SHOW_MAX 64

struct show {
	char s[SHOW_MAX + 8]; /* room for a final escape and "..." */
	size_t len;
	int cut;
};

static long long
off(const struct parser *ps, const struct bencode *v)
{
	return v != NULL ? (long long)(v->raw - ps->base) : ERROR_NO_OFFSET;
}

static const char *
a_type(enum bencode_type t)
{
	switch (t) {
	case BENCODE_INT:
		return "an integer";
	case BENCODE_STR:
		return "a string";
	case BENCODE_LIST:
		return "a list";
	case BENCODE_DICT:
		return "a dictionary";
	}
	return "nothing";
}

/*
 * Length of a well-formed UTF-8 sequence at s, or 0. C1 controls (U+0080 to
 * U+009F) count as malformed: some terminals act on them.
 */
static size_t
utf8_seq(const uint8_t *s, size_t n)
{
	size_t len, i;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (s[0] == 0xc2 && s[1] < 0xa0)
		return 0;
	return len;
}

static void
show_raw(struct show *sh, const char *s, size_t n)
{
	if (sh->cut)
		return;
	if (n > SHOW_MAX - sh->len) {
		memcpy(sh->s + sh->len, "...", 3);
		sh->len += 3;
		sh->cut = 1;
	} else {
		memcpy(sh->s + sh->len, s, n);
		sh->len += n;
	}
	sh->s[sh->len] = '\0';
}

static void
show_bytes(struct show *sh, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, seq;
	char esc[4];

	while (i < n && !sh->cut) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
			show_raw(sh, (const char *)p + i, 1);
			i++;
		} else if (p[i] >= 0x80 && (seq = utf8_seq(p + i, n - i)) > 0) {
			show_raw(sh, (const char *)p + i, seq);
			i += seq;
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[p[i] >> 4];
			esc[3] = hex[p[i] & 15];
			show_raw(sh, esc, 4);
			i++;
		}
	}
}

static void
show_init(struct show *sh)
{
	sh->len = 0;
	sh->cut = 0;
	sh->s[0] = '\0';
}

/*
 * Why a component is unacceptable, or NULL. The reason reads after a
 * subject: "info.name \"..\" contains '..'".
 */
static const char *
component_problem(const uint8_t *p, size_t n, char *why, size_t whysz)
{
	size_t i;

	if (n == 0)
		return "contains an empty component";
	if (n == 1 && p[0] == '.')
		return "contains a '.' component";
	if (n == 2 && p[0] == '.' && p[1] == '.')
		return "contains '..'";
	if (n > METAINFO_MAX_COMPONENT)
		return "has a component longer than 255 bytes";
	for (i = 0; i < n; i++) {
		if (p[i] == '/')
			return "contains '/' inside a component";
		if (p[i] == '\\')
			return "contains '\\' inside a component";
		if (p[i] == 0)
			return "contains a NUL byte";
		if (p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(why, whysz, "contains control character 0x%02x", p[i]);
			return why;
		}
	}
	return NULL;
}

int
metainfo_check_component(const uint8_t *p, size_t n, struct error *err)
{
	char why[48];
	const char *problem;
	struct show sh;

	if ((problem = component_problem(p, n, why, sizeof why)) == NULL)
		return 0;
	show_init(&sh);
	show_bytes(&sh, p, n);
	return error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "path component \"%s\" %s", sh.s,
			 problem);
}

/* A copy of a bencode string as a C string (a NUL inside ends it early). */
static char *
dup_str(const struct bencode *s)
{
	char *c = malloc(s->u.str.len + 1);

	if (c == NULL)
		return NULL;
	if (s->u.str.len > 0)
		memcpy(c, s->u.str.p, s->u.str.len);
	c[s->u.str.len] = '\0';
	return c;
}

/*
 * Looks up a structural key: *out is NULL when absent (an error if required),
 * and a value of another type is an error naming ctx and key.
 */
static int
get(const struct parser *ps, const struct bencode *dict, const char *ctx, const char *key,
    enum bencode_type type, int required, struct bencode **out)
{
	struct bencode *v = bencode_dict_get(dict, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return error_set(ps->err, ERR_INVALID, off(ps, dict), "%s%s is missing",
					 ctx, key);
		return 0;
	}
	if (v->type != type)
		return error_set(ps->err, ERR_INVALID, off(ps, v), "%s%s is %s, expected %s", ctx,
				 key, a_type(v->type), a_type(type));
	*out = v;
	return 0;
}

/*
 * Fills f from the components name (may be NULL) followed by items (list
 * of strings), all already checked. The joined path and the components
 * array are two allocations.
 */
static int
file_build(struct metainfo_file *f, const struct bencode *name, const struct bencode *items,
	   size_t nitems, size_t joined_len)
{
	size_t ncomp = nitems + (name != NULL), i, k = 0, pos = 0;
	char *strings;

	f->path = malloc(joined_len + 1);
	f->components = malloc(ncomp * sizeof(char *) + joined_len + 1);
	if (f->path == NULL || f->components == NULL)
		return -ERR_NOMEM;
	f->ncomponents = ncomp;
	strings = (char *)(f->components + ncomp);
	for (i = 0; i < ncomp; i++) {
		const struct bencode *c = (name != NULL && i == 0) ? name : &items[k++];
		size_t n = c->u.str.len;

		if (i > 0)
			f->path[pos - 1] = '/';
		memcpy(f->path + pos, c->u.str.p, n);
		memcpy(strings + pos, c->u.str.p, n);
		f->path[pos + n] = '\0';
		strings[pos + n] = '\0';
		f->components[i] = strings + pos;
		pos += n + 1;
	}
	return 0;
}

/* Quotes "name/items..." for a message about file i's path. */
static void
show_path(struct show *sh, const struct bencode *name, const struct bencode *items, size_t n)
{
	size_t i;

	show_init(sh);
	if (name != NULL)
		show_bytes(sh, name->u.str.p, name->u.str.len);
	for (i = 0; i < n; i++) {
		if (name != NULL || i > 0)
			show_raw(sh, "/", 1);
		if (items[i].type == BENCODE_STR)
			show_bytes(sh, items[i].u.str.p, items[i].u.str.len);
	}
}

static int
parse_file(const struct parser *ps, struct metainfo *mi, const struct bencode *name,
	   const struct bencode *fd, size_t idx, uint64_t *total)
{
	struct bencode *len, *path, *attr;
	const struct bencode *items;
	const char *key = "path", *problem;
	char ctx[48], why[48];
	size_t n, i, joined;
	struct show sh;
	int rc;

	if (fd->type != BENCODE_DICT)
		return error_set(ps->err, ERR_INVALID, off(ps, fd),
				 "info.files[%zu] is %s, expected a dictionary", idx,
				 a_type(fd->type));
	snprintf(ctx, sizeof ctx, "info.files[%zu].", idx);
	if ((rc = get(ps, fd, ctx, "length", BENCODE_INT, 1, &len)) < 0)
		return rc;
	if (len->u.i < 0)
		return error_set(ps->err, ERR_INVALID, off(ps, len), "%slength is negative (%lld)",
				 ctx, (long long)len->u.i);
	if ((uint64_t)len->u.i > (uint64_t)INT64_MAX - *total)
		return error_set(ps->err, ERR_INVALID, off(ps, len),
				 "%slength makes the total length overflow 2^63 bytes", ctx);
	*total += (uint64_t)len->u.i;

	/* path.utf-8 wins when usable, as for name.utf-8. */
	if ((path = bencode_dict_get_type(fd, "path.utf-8", BENCODE_LIST)) != NULL)
		key = "path.utf-8";
	else if ((rc = get(ps, fd, ctx, "path", BENCODE_LIST, 1, &path)) < 0)
		return rc;
	items = path->u.list.items;
	n = path->u.list.n;
	if (n == 0)
		return error_set(ps->err, ERR_INVALID, off(ps, path), "%s%s is empty", ctx, key);
	joined = name->u.str.len;
	for (i = 0; i < n; i++) {
		if (items[i].type != BENCODE_STR)
			return error_set(ps->err, ERR_INVALID, off(ps, &items[i]),
					 "%s%s[%zu] is %s, expected a string", ctx, key, i,
					 a_type(items[i].type));
		/* Checked as we go, so a path of a million items fails early. */
		if (items[i].u.str.len >= METAINFO_MAX_PATH - joined) {
			show_path(&sh, name, items, i + 1);
			return error_set(ps->err, ERR_INVALID, off(ps, path),
					 "%s%s \"%s\" is longer than %u bytes", ctx, key, sh.s,
					 METAINFO_MAX_PATH);
		}
		joined += 1 + items[i].u.str.len;
	}
	for (i = 0; i < n; i++) {
		problem = NULL;
		if (i == 0 && (items[0].u.str.len == 0 || items[0].u.str.p[0] == '/'))
			problem = "is an absolute path";
		if (problem == NULL)
			problem = component_problem(items[i].u.str.p, items[i].u.str.len, why,
						    sizeof why);
		if (problem != NULL) {
			show_path(&sh, name, items, n);
			return error_set(ps->err, ERR_INVALID, off(ps, &items[i]), "%s%s \"%s\" %s",
					 ctx, key, sh.s, problem);
		}
	}

	mi->files[idx].length = (uint64_t)len->u.i;
	if ((attr = bencode_dict_get_type(fd, "attr", BENCODE_STR)) != NULL)
		mi->files[idx].pad = memchr(attr->u.str.p, 'p', attr->u.str.len) != NULL;
	if (file_build(&mi->files[idx], name, items, n, joined) < 0)
		return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	return 0;
}

/* Orders files by path, component by component, so a directory sorts just before its contents. */
static int
file_cmp(const void *a, const void *b)
{
	const struct metainfo_file *x = *(const struct metainfo_file *const *)a;
	const struct metainfo_file *y = *(const struct metainfo_file *const *)b;
	size_t i, n = x->ncomponents < y->ncomponents ? x->ncomponents : y->ncomponents;
	int c;

	for (i = 0; i < n; i++)
		if ((c = strcmp(x->components[i], y->components[i])) != 0)
			return c;
	return (x->ncomponents > y->ncomponents) - (x->ncomponents < y->ncomponents);
}

/* 1 if a's components are a leading part of b's (or equal). */
static int
file_prefix(const struct metainfo_file *a, const struct metainfo_file *b)
{
	size_t i;

	if (a->ncomponents > b->ncomponents)
		return 0;
	for (i = 0; i < a->ncomponents; i++)
		if (strcmp(a->components[i], b->components[i]) != 0)
			return 0;
	return 1;
}

/*
 * Refuses two files with one path, and a file whose path is a directory of
 * another. After sorting, if a is a prefix of c then every b between them
 * starts with a too, so comparing neighbours is enough. Padding files are
 * never written, so they take no part.
 */
static int
check_collisions(const struct parser *ps, struct metainfo *mi)
{
	const struct metainfo_file **v;
	size_t i, n = 0, ia, ib;
	struct show sa, sb;
	int rc = 0;

	if (mi->nfiles < 2)
		return 0;
	if ((v = malloc(mi->nfiles * sizeof *v)) == NULL)
		return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	for (i = 0; i < mi->nfiles; i++)
		if (!mi->files[i].pad)
			v[n++] = &mi->files[i];
	qsort(v, n, sizeof *v, file_cmp);
	for (i = 1; i < n; i++) {
		if (!file_prefix(v[i - 1], v[i]))
			continue;
		ia = (size_t)(v[i - 1] - mi->files);
		ib = (size_t)(v[i] - mi->files);
		show_init(&sa);
		show_bytes(&sa, (const uint8_t *)v[i - 1]->path, strlen(v[i - 1]->path));
		show_init(&sb);
		show_bytes(&sb, (const uint8_t *)v[i]->path, strlen(v[i]->path));
		/* A duplicate is reported at its second appearance, as a reader would. */
		if (v[i - 1]->ncomponents == v[i]->ncomponents)
			rc = error_set(
			    ps->err, ERR_INVALID, ERROR_NO_OFFSET,
			    "info.files[%zu].path \"%s\" is a duplicate of info.files[%zu]",
			    ia > ib ? ia : ib, sb.s, ia > ib ? ib : ia);
		else
			rc = error_set(ps->err, ERR_INVALID, ERROR_NO_OFFSET,
				       "info.files[%zu].path \"%s\" is a file but info.files[%zu] "
				       "\"%s\" uses it as a directory",
				       ia, sa.s, ib, sb.s);
		break;
	}
	free(v);
	return rc;
}

static int
parse_layout(const struct parser *ps, struct metainfo *mi, const struct bencode *info,
	     const struct bencode *name)
{
	struct bencode *len, *files;
	uint64_t total = 0;
	size_t i;
	int rc;

	if ((rc = get(ps, info, "info.", "files", BENCODE_LIST, 0, &files)) < 0 ||
	    (rc = get(ps, info, "info.", "length", BENCODE_INT, 0, &len)) < 0)
		return rc;
	if (files != NULL && len != NULL)
		return error_set(ps->err, ERR_INVALID, off(ps, info),
				 "info has both length and files");
	if (files == NULL && len == NULL)
		return error_set(ps->err, ERR_INVALID, off(ps, info),
				 "info has neither length nor files");

	if (len != NULL) {
		if (len->u.i < 0)
			return error_set(ps->err, ERR_INVALID, off(ps, len),
					 "info.length is negative (%lld)", (long long)len->u.i);
		if ((mi->files = calloc(1, sizeof *mi->files)) == NULL)
			return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		mi->nfiles = 1;
		mi->files[0].length = (uint64_t)len->u.i;
		if (file_build(&mi->files[0], name, NULL, 0, name->u.str.len) < 0)
			return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		mi->total_length = mi->files[0].length;
		return 0;
	}

	mi->multi_file = 1;
	if (files->u.list.n == 0)
		return error_set(ps->err, ERR_INVALID, off(ps, files), "info.files is empty");
	if (files->u.list.n > METAINFO_MAX_FILES)
		return error_set(ps->err, ERR_LIMIT, off(ps, files),
				 "info.files has %zu entries, more than the limit of %u",
				 files->u.list.n, METAINFO_MAX_FILES);
	if ((mi->files = calloc(files->u.list.n, sizeof *mi->files)) == NULL)
		return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	for (i = 0; i < files->u.list.n; i++) {
		/* Counted before parsing so metainfo_free sees a half-built entry. */
		mi->nfiles = i + 1;
		mi->files[i].offset = total;
		if ((rc = parse_file(ps, mi, name, &files->u.list.items[i], i, &total)) < 0)
			return rc;
	}
	mi->total_length = total;
	return check_collisions(ps, mi);
}

static int
parse_info(const struct parser *ps, struct metainfo *mi, const struct bencode *root)
{
	struct bencode *info, *name, *plen, *pieces, *priv, *mv, *src;
	uint64_t want;
	int v2 = 0, rc;
	char why[48];
	const char *problem;
	struct show sh;

	if ((rc = get(ps, root, "", "info", BENCODE_DICT, 1, &info)) < 0)
		return rc;
	/* Hash the bytes as they are in the file: a re-encoding could differ. */
	sha1_digest(info->raw, info->raw_len, mi->info_hash);

	if ((rc = get(ps, info, "info.", "meta version", BENCODE_INT, 0, &mv)) < 0)
		return rc;
	if (mv != NULL && mv->u.i != 1 && mv->u.i != 2)
		return error_set(ps->err, ERR_UNSUPPORTED, off(ps, mv),
				 "info.meta version %lld is not supported", (long long)mv->u.i);
	if ((mv != NULL && mv->u.i == 2) || bencode_dict_get(info, "file tree") != NULL)
		v2 = 1;
	/* A hybrid torrent carries a full v1 description too: read that. */
	if (v2 &&
	    (bencode_dict_get(info, "pieces") == NULL ||
	     (bencode_dict_get(info, "length") == NULL && bencode_dict_get(info, "files") == NULL)))
		return error_set(ps->err, ERR_UNSUPPORTED, off(ps, info),
				 "BitTorrent v2-only torrents are not supported yet");

	if ((name = bencode_dict_get_type(info, "name.utf-8", BENCODE_STR)) == NULL &&
	    (rc = get(ps, info, "info.", "name", BENCODE_STR, 1, &name)) < 0)
		return rc;
	problem = NULL;
	if (name->u.str.len > 0 && name->u.str.p[0] == '/')
		problem = "is an absolute path";
	if (problem == NULL)
		problem = component_problem(name->u.str.p, name->u.str.len, why, sizeof why);
	if (problem != NULL) {
		show_init(&sh);
		show_bytes(&sh, name->u.str.p, name->u.str.len);
		return error_set(ps->err, ERR_INVALID, off(ps, name), "info.name \"%s\" %s", sh.s,
				 problem);
	}
	if ((mi->name = dup_str(name)) == NULL)
		return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");

	if ((rc = get(ps, info, "info.", "piece length", BENCODE_INT, 1, &plen)) < 0)
		return rc;
	if (plen->u.i <= 0)
		return error_set(ps->err, ERR_INVALID, off(ps, plen),
				 "info.piece length is %lld, it must be positive",
				 (long long)plen->u.i);
	if (plen->u.i > (int64_t)METAINFO_MAX_PIECE_LENGTH)
		return error_set(ps->err, ERR_LIMIT, off(ps, plen),
				 "info.piece length %lld is larger than the limit of %u",
				 (long long)plen->u.i, METAINFO_MAX_PIECE_LENGTH);
	mi->piece_length = (uint32_t)plen->u.i;

	if ((rc = get(ps, info, "info.", "pieces", BENCODE_STR, 1, &pieces)) < 0)
		return rc;
	if (pieces->u.str.len % SHA1_LEN != 0)
		return error_set(ps->err, ERR_INVALID, off(ps, pieces),
				 "info.pieces is %zu bytes, not a multiple of 20",
				 pieces->u.str.len);

	/* A wrong type here is refused, not ignored: reading it as public would leak. */
	if ((rc = get(ps, info, "info.", "private", BENCODE_INT, 0, &priv)) < 0)
		return rc;
	mi->private_flag = priv != NULL && priv->u.i == 1;
	if ((src = bencode_dict_get_type(info, "source", BENCODE_STR)) != NULL &&
	    (mi->source = dup_str(src)) == NULL)
		return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");

	if ((rc = parse_layout(ps, mi, info, name)) < 0)
		return rc;
	if (mi->total_length == 0)
		return error_set(ps->err, ERR_INVALID, off(ps, info),
				 "the torrent is empty (total length 0)");
	want = mi->total_length / mi->piece_length + (mi->total_length % mi->piece_length != 0);
	if (pieces->u.str.len / SHA1_LEN != want)
		return error_set(
		    ps->err, ERR_INVALID, off(ps, pieces),
		    "info.pieces has a hash count of %zu but %llu bytes in pieces of %u need "
		    "%llu",
		    pieces->u.str.len / SHA1_LEN, (unsigned long long)mi->total_length,
		    mi->piece_length, (unsigned long long)want);
	/* want <= 64 MiB / 20 here, since pieces came from a bounded input. */
	mi->piece_count = (uint32_t)want;
	if ((mi->piece_hashes = malloc(pieces->u.str.len)) == NULL)
		return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	memcpy(mi->piece_hashes, pieces->u.str.p, pieces->u.str.len);
	return 0;
}

/* A tracker or web seed URL worth keeping: non-empty, no control bytes. */
static int
url_ok(const struct bencode *u)
{
	size_t i;

	if (u->type != BENCODE_STR || u->u.str.len == 0)
		return 0;
	for (i = 0; i < u->u.str.len; i++)
		if (u->u.str.p[i] < 0x20 || u->u.str.p[i] == 0x7f)
			return 0;
	return 1;
}

/* Appends the usable URLs among items[0..n) to *urls (already sized for n). */
static int
collect_urls(const struct bencode *items, size_t n, char **urls, size_t *nurls)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!url_ok(&items[i]))
			continue;
		if ((urls[*nurls] = dup_str(&items[i])) == NULL)
			return -ERR_NOMEM;
		(*nurls)++;
	}
	return 0;
}

static int
parse_trackers(const struct parser *ps, struct metainfo *mi, const struct bencode *root)
{
	const struct bencode *al, *ann, *ul, *tier;
	struct metainfo_tier *t;
	size_t i;

	/* BEP 12: announce-list, when it yields any URL, replaces announce. */
	al = bencode_dict_get_type(root, "announce-list", BENCODE_LIST);
	if (al != NULL && al->u.list.n > 0) {
		if ((mi->tiers = calloc(al->u.list.n, sizeof *mi->tiers)) == NULL)
			goto nomem;
		for (i = 0; i < al->u.list.n; i++) {
			tier = &al->u.list.items[i];
			if (tier->type != BENCODE_LIST || tier->u.list.n == 0)
				continue;
			t = &mi->tiers[mi->ntiers];
			if ((t->urls = calloc(tier->u.list.n, sizeof *t->urls)) == NULL)
				goto nomem;
			mi->ntiers++;
			if (collect_urls(tier->u.list.items, tier->u.list.n, t->urls, &t->nurls) <
			    0)
				goto nomem;
			if (t->nurls == 0) {
				free(t->urls);
				t->urls = NULL;
				mi->ntiers--;
			}
		}
	}
	ann = bencode_dict_get_type(root, "announce", BENCODE_STR);
	if (mi->ntiers == 0 && ann != NULL && url_ok(ann)) {
		if (mi->tiers == NULL && (mi->tiers = calloc(1, sizeof *mi->tiers)) == NULL)
			goto nomem;
		t = &mi->tiers[0];
		if ((t->urls = calloc(1, sizeof *t->urls)) == NULL)
			goto nomem;
		mi->ntiers = 1;
		if (collect_urls(ann, 1, t->urls, &t->nurls) < 0)
			goto nomem;
	}

	/* BEP 19: url-list is one string or a list of them. */
	ul = bencode_dict_get(root, "url-list");
	if (ul != NULL && (ul->type == BENCODE_STR || ul->type == BENCODE_LIST)) {
		const struct bencode *items = ul->type == BENCODE_STR ? ul : ul->u.list.items;
		size_t n = ul->type == BENCODE_STR ? 1 : ul->u.list.n;

		if (n > 0 && (mi->web_seeds = calloc(n, sizeof *mi->web_seeds)) == NULL)
			goto nomem;
		if (collect_urls(items, n, mi->web_seeds, &mi->nweb_seeds) < 0)
			goto nomem;
	}
	return 0;
nomem:
	return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
}

static int
parse_extras(const struct parser *ps, struct metainfo *mi, const struct bencode *root)
{
	const struct bencode *c, *cb, *cd;

	if ((c = bencode_dict_get_type(root, "comment.utf-8", BENCODE_STR)) == NULL)
		c = bencode_dict_get_type(root, "comment", BENCODE_STR);
	if (c != NULL && (mi->comment = dup_str(c)) == NULL)
		goto nomem;
	if ((cb = bencode_dict_get_type(root, "created by", BENCODE_STR)) != NULL &&
	    (mi->created_by = dup_str(cb)) == NULL)
		goto nomem;
	if ((cd = bencode_dict_get_type(root, "creation date", BENCODE_INT)) != NULL) {
		mi->creation_date = cd->u.i;
		mi->has_creation_date = 1;
	}
	return 0;
nomem:
	return error_set(ps->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
}

struct metainfo *
metainfo_parse(const uint8_t *p, size_t n, struct error *err)
{
	struct parser ps;
	struct bencode *root;
	struct metainfo *mi = NULL;

	ps.base = p;
	ps.err = err;
	if ((root = bencode_decode(p, n, NULL, err)) == NULL) {
		error_prefix(err, "not a valid torrent");
		return NULL;
	}
	if (root->type != BENCODE_DICT) {
		error_set(err, ERR_INVALID, 0, "the torrent is %s, expected a dictionary",
			  a_type(root->type));
		goto fail;
	}
	if ((mi = calloc(1, sizeof *mi)) == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto fail;
	}
	if (parse_info(&ps, mi, root) < 0 || parse_trackers(&ps, mi, root) < 0 ||
	    parse_extras(&ps, mi, root) < 0)
		goto fail;
	bencode_free(root);
	return mi;
fail:
	metainfo_free(mi);
	bencode_free(root);
	return NULL;
}

struct metainfo *
metainfo_load(const char *path, struct error *err)
{
	struct metainfo *mi = NULL;
	uint8_t *data = NULL;
	size_t len = 0, cap;
	struct stat st;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot stat: %s", strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot read: %s", strerror(EISDIR));
		goto out;
	}
	if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > METAINFO_MAX_FILE_SIZE) {
		error_set(err, ERR_LIMIT, ERROR_NO_OFFSET,
			  "file is %jd bytes, larger than the limit of %u", (intmax_t)st.st_size,
			  METAINFO_MAX_FILE_SIZE);
		goto out;
	}
	/*
	 * One byte more than the limit, so a pipe or a file that grew since
	 * fstat is caught by the read loop too.
	 */
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : METAINFO_MAX_FILE_SIZE + 1u;
	if ((data = malloc(cap)) == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto out;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *bigger;

			if (cap > METAINFO_MAX_FILE_SIZE)
				break;
			cap = METAINFO_MAX_FILE_SIZE + 1u;
			if ((bigger = realloc(data, cap)) == NULL) {
				error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
				goto out;
			}
			data = bigger;
		}
		r = read(fd, data + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > METAINFO_MAX_FILE_SIZE) {
		error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "file is larger than the limit of %u",
			  METAINFO_MAX_FILE_SIZE);
		goto out;
	}
	mi = metainfo_parse(data, len, err);
out:
	free(data);
	close(fd);
	return mi;
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
metainfo_free(struct metainfo *mi)
{
	size_t i;

	if (mi == NULL)
		return;
	for (i = 0; i < mi->nfiles; i++) {
		free(mi->files[i].path);
		free(mi->files[i].components);
	}
	free(mi->files);
	for (i = 0; i < mi->ntiers; i++)
		free_strv(mi->tiers[i].urls, mi->tiers[i].nurls);
	free(mi->tiers);
	free_strv(mi->web_seeds, mi->nweb_seeds);
	free(mi->name);
	free(mi->piece_hashes);
	free(mi->comment);
	free(mi->created_by);
	free(mi->source);
	free(mi);
}

uint32_t
metainfo_piece_size(const struct metainfo *mi, uint32_t i)
{
	if (i >= mi->piece_count)
		return 0;
	if (i + 1 < mi->piece_count)
		return mi->piece_length;
	return (uint32_t)(mi->total_length - (uint64_t)i * mi->piece_length);
}
