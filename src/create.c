/*
 * create: directory walk, streaming SHA-1 of pieces across file
 * boundaries, and the bencoded output with keys in sorted order.
 */
#include "create.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bencode.h"
#include "metainfo.h"
#include "sha1.h"

#define WALK_MAX_DEPTH 64
#define READ_CHUNK     (1u << 20)

struct cfile {
	char *rel; /* path below the root, '/'-separated */
	char *full;
	uint64_t length;
};

struct walk {
	struct cfile *files;
	size_t n, cap;
	uint64_t total;
	struct error *err;
};

uint32_t
create_auto_piece_length(uint64_t total)
{
	uint32_t len = 32u << 10;

	while (len < (16u << 20) && total / len > 2000)
		len <<= 1;
	return len;
}

static char *
path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static int
walk_add(struct walk *w, const char *rel, const char *full, uint64_t length)
{
	struct cfile *f;

	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;

		if (ncap > METAINFO_MAX_FILES)
			return error_set(w->err, ERR_LIMIT, ERROR_NO_OFFSET, "more than %u files",
					 METAINFO_MAX_FILES);
		f = realloc(w->files, ncap * sizeof *f);
		if (f == NULL)
			return error_set(w->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		w->files = f;
		w->cap = ncap;
	}
	f = &w->files[w->n];
	f->rel = strdup(rel);
	f->full = strdup(full);
	f->length = length;
	if (f->rel == NULL || f->full == NULL) {
		free(f->rel);
		free(f->full);
		return error_set(w->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	}
	w->n++;
	if (length > UINT64_MAX / 2 - w->total)
		return error_set(w->err, ERR_LIMIT, ERROR_NO_OFFSET, "total size overflows");
	w->total += length;
	return 0;
}

static int
walk_dir(struct walk *w, const char *full, const char *rel, int depth)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char *cfull = NULL, *crel = NULL;
	int rc = 0;

	if (depth > WALK_MAX_DEPTH)
		return error_set(w->err, ERR_LIMIT, ERROR_NO_OFFSET,
				 "%s: directories nested deeper than %d (a symlink loop?)", full,
				 WALK_MAX_DEPTH);
	if ((d = opendir(full)) == NULL)
		return error_set(w->err, ERR_IO, ERROR_NO_OFFSET, "%s: %s", full, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((rc = metainfo_check_component((const uint8_t *)de->d_name, strlen(de->d_name),
						   w->err)) < 0) {
			error_prefix(w->err, "%s", full);
			break;
		}
		cfull = path_join(full, de->d_name);
		crel = rel[0] ? path_join(rel, de->d_name) : strdup(de->d_name);
		if (cfull == NULL || crel == NULL) {
			rc = error_set(w->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
			break;
		}
		/* stat, not lstat: symlinks are followed, as mktorrent does. */
		if (stat(cfull, &st) < 0) {
			rc = error_set(w->err, ERR_IO, ERROR_NO_OFFSET, "%s: %s", cfull,
				       strerror(errno));
			break;
		}
		if (S_ISDIR(st.st_mode))
			rc = walk_dir(w, cfull, crel, depth + 1);
		else if (S_ISREG(st.st_mode))
			rc = walk_add(w, crel, cfull, (uint64_t)st.st_size);
		if (rc < 0)
			break;
		free(cfull);
		free(crel);
		cfull = crel = NULL;
	}
	free(cfull);
	free(crel);
	closedir(d);
	return rc;
}

static int
cfile_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfile *)a)->rel, ((const struct cfile *)b)->rel);
}

static void
walk_free(struct walk *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		free(w->files[i].rel);
		free(w->files[i].full);
	}
	free(w->files);
}

/* Reads every file in order and appends one SHA-1 per piece to hashes. */
static int
hash_files(const struct create_opts *o, struct walk *w, uint32_t piece_len, uint8_t *hashes)
{
	struct sha1_ctx *ctx = sha1_new();
	uint8_t *chunk = malloc(READ_CHUNK);
	uint64_t done = 0, in_piece = 0;
	uint32_t piece = 0;
	size_t i;
	int fd = -1, rc = 0;

	if (ctx == NULL || chunk == NULL) {
		rc = error_set(w->err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto out;
	}
	for (i = 0; i < w->n; i++) {
		uint64_t left = w->files[i].length;

		if (left == 0)
			continue;
		if ((fd = open(w->files[i].full, O_RDONLY | O_CLOEXEC)) < 0) {
			rc = error_set(w->err, ERR_IO, ERROR_NO_OFFSET, "%s: %s", w->files[i].full,
				       strerror(errno));
			goto out;
		}
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		while (left > 0) {
			size_t want = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
			ssize_t got = read(fd, chunk, want);
			size_t pos = 0;

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				rc = error_set(
				    w->err, ERR_IO, ERROR_NO_OFFSET, "%s: %s", w->files[i].full,
				    got < 0 ? strerror(errno) : "file shrank while being hashed");
				goto out;
			}
			left -= (uint64_t)got;
			/* Feed the chunk piece by piece: a piece may end mid-chunk. */
			while (pos < (size_t)got) {
				size_t take = (size_t)got - pos;

				if (take > piece_len - in_piece)
					take = (size_t)(piece_len - in_piece);
				sha1_update(ctx, chunk + pos, take);
				pos += take;
				in_piece += take;
				if (in_piece == piece_len) {
					sha1_final(ctx, hashes + (size_t)piece * SHA1_LEN);
					sha1_init(ctx);
					piece++;
					in_piece = 0;
				}
			}
			done += (uint64_t)got;
			if (o->progress != NULL)
				o->progress(o->progress_arg, done, w->total);
		}
		close(fd);
		fd = -1;
	}
	if (in_piece > 0)
		sha1_final(ctx, hashes + (size_t)piece * SHA1_LEN);
out:
	if (fd >= 0)
		close(fd);
	free(chunk);
	sha1_free(ctx);
	return rc;
}

/* Writes one tier: "a,b" -> ["a", "b"]. */
static int
put_tier(struct buf *b, const char *spec)
{
	const char *p = spec, *comma;
	int rc = bencode_put_list(b);

	while (rc == 0) {
		comma = strchr(p, ',');
		rc = bencode_put_str(b, p, comma ? (size_t)(comma - p) : strlen(p));
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return rc < 0 ? rc : bencode_put_end(b);
}

static int
put_path(struct buf *b, const char *rel)
{
	const char *p = rel, *slash;
	int rc = bencode_put_list(b);

	while (rc == 0) {
		slash = strchr(p, '/');
		rc = bencode_put_str(b, p, slash ? (size_t)(slash - p) : strlen(p));
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	return rc < 0 ? rc : bencode_put_end(b);
}

static int
encode(const struct create_opts *o, struct walk *w, int multi, const char *name, uint32_t piece_len,
       const uint8_t *hashes, size_t npieces, struct buf *b)
{
	size_t i;
	int rc = bencode_put_dict(b);

	if (rc == 0 && o->ntrackers > 0) {
		const char *first = o->trackers[0];
		const char *comma = strchr(first, ',');

		rc = bencode_put_cstr(b, "announce");
		if (rc == 0)
			rc = bencode_put_str(b, first,
					     comma ? (size_t)(comma - first) : strlen(first));
		if (rc == 0 && (o->ntrackers > 1 || comma != NULL)) {
			rc = bencode_put_cstr(b, "announce-list");
			if (rc == 0)
				rc = bencode_put_list(b);
			for (i = 0; rc == 0 && i < o->ntrackers; i++)
				rc = put_tier(b, o->trackers[i]);
			if (rc == 0)
				rc = bencode_put_end(b);
		}
	}
	if (rc == 0 && o->comment != NULL && (rc = bencode_put_cstr(b, "comment")) == 0)
		rc = bencode_put_cstr(b, o->comment);
	if (rc == 0 && o->created_by != NULL && (rc = bencode_put_cstr(b, "created by")) == 0)
		rc = bencode_put_cstr(b, o->created_by);
	if (rc == 0 && o->creation_date >= 0 && (rc = bencode_put_cstr(b, "creation date")) == 0)
		rc = bencode_put_int(b, o->creation_date);

	if (rc == 0 && (rc = bencode_put_cstr(b, "info")) == 0)
		rc = bencode_put_dict(b);
	if (rc == 0 && multi) {
		rc = bencode_put_cstr(b, "files");
		if (rc == 0)
			rc = bencode_put_list(b);
		for (i = 0; rc == 0 && i < w->n; i++) {
			if ((rc = bencode_put_dict(b)) < 0 ||
			    (rc = bencode_put_cstr(b, "length")) < 0 ||
			    (rc = bencode_put_int(b, (int64_t)w->files[i].length)) < 0 ||
			    (rc = bencode_put_cstr(b, "path")) < 0 ||
			    (rc = put_path(b, w->files[i].rel)) < 0)
				break;
			rc = bencode_put_end(b);
		}
		if (rc == 0)
			rc = bencode_put_end(b);
	} else if (rc == 0 && (rc = bencode_put_cstr(b, "length")) == 0) {
		rc = bencode_put_int(b, (int64_t)w->total);
	}
	if (rc == 0 && (rc = bencode_put_cstr(b, "name")) == 0)
		rc = bencode_put_cstr(b, name);
	if (rc == 0 && (rc = bencode_put_cstr(b, "piece length")) == 0)
		rc = bencode_put_int(b, piece_len);
	if (rc == 0 && (rc = bencode_put_cstr(b, "pieces")) == 0)
		rc = bencode_put_str(b, hashes, npieces * SHA1_LEN);
	if (rc == 0 && o->private_flag && (rc = bencode_put_cstr(b, "private")) == 0)
		rc = bencode_put_int(b, 1);
	if (rc == 0 && o->source != NULL && (rc = bencode_put_cstr(b, "source")) == 0)
		rc = bencode_put_cstr(b, o->source);
	if (rc == 0)
		rc = bencode_put_end(b); /* info */

	if (rc == 0 && o->nweb_seeds > 0 && (rc = bencode_put_cstr(b, "url-list")) == 0) {
		if (o->nweb_seeds == 1) {
			rc = bencode_put_cstr(b, o->web_seeds[0]);
		} else {
			rc = bencode_put_list(b);
			for (i = 0; rc == 0 && i < o->nweb_seeds; i++)
				rc = bencode_put_cstr(b, o->web_seeds[i]);
			if (rc == 0)
				rc = bencode_put_end(b);
		}
	}
	if (rc == 0)
		rc = bencode_put_end(b);
	return rc;
}

/*
 * The basename of path as given (a symlink keeps its own name, as with
 * mktorrent), without trailing slashes; "." and ".." are resolved first.
 */
static char *
default_name(const char *path)
{
	char *copy = strdup(path), *end, *slash, *name = NULL, *real = NULL;

	if (copy == NULL)
		return NULL;
	end = copy + strlen(copy);
	while (end > copy + 1 && end[-1] == '/')
		*--end = '\0';
	slash = strrchr(copy, '/');
	name = slash && slash[1] ? slash + 1 : copy;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, "/") == 0) {
		if ((real = realpath(path, NULL)) == NULL) {
			free(copy);
			return NULL;
		}
		slash = strrchr(real, '/');
		name = slash && slash[1] ? slash + 1 : real;
	}
	name = strdup(name);
	free(copy);
	free(real);
	return name;
}

int
create_torrent(const struct create_opts *o, struct buf *out, struct error *err)
{
	struct walk w = {.err = err};
	struct stat st;
	char *base = NULL;
	const char *name;
	uint8_t *hashes = NULL;
	uint32_t piece_len;
	uint64_t npieces;
	int multi, rc;

	if (stat(o->path, &st) < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "%s: %s", o->path, strerror(errno));
		goto out;
	}
	multi = S_ISDIR(st.st_mode);
	if (multi) {
		rc = walk_dir(&w, o->path, "", 0);
	} else if (S_ISREG(st.st_mode)) {
		rc = walk_add(&w, "", o->path, (uint64_t)st.st_size);
	} else {
		rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
			       "%s: not a regular file or directory", o->path);
	}
	if (rc < 0)
		goto out;
	if (w.total == 0) {
		rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
			       "%s: nothing to share (total size is 0)", o->path);
		goto out;
	}
	qsort(w.files, w.n, sizeof *w.files, cfile_cmp);

	name = o->name;
	if (name == NULL) {
		if ((base = default_name(o->path)) == NULL) {
			rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "%s: %s", o->path,
				       strerror(errno));
			goto out;
		}
		name = base;
	}
	if ((rc = metainfo_check_component((const uint8_t *)name, strlen(name), err)) < 0) {
		error_prefix(err, "torrent name");
		goto out;
	}

	piece_len = o->piece_length ? o->piece_length : create_auto_piece_length(w.total);
	if (piece_len < CREATE_MIN_PIECE_LENGTH || piece_len > CREATE_MAX_PIECE_LENGTH) {
		rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "piece size %u is outside %u..%u",
			       piece_len, CREATE_MIN_PIECE_LENGTH, CREATE_MAX_PIECE_LENGTH);
		goto out;
	}
	npieces = (w.total + piece_len - 1) / piece_len;
	if (npieces > UINT32_MAX / SHA1_LEN) {
		rc = error_set(err, ERR_LIMIT, ERROR_NO_OFFSET,
			       "too many pieces (%llu): choose a larger piece size",
			       (unsigned long long)npieces);
		goto out;
	}
	if ((hashes = malloc((size_t)npieces * SHA1_LEN)) == NULL) {
		rc = error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto out;
	}
	if ((rc = hash_files(o, &w, piece_len, hashes)) < 0)
		goto out;
	if ((rc = encode(o, &w, multi, name, piece_len, hashes, (size_t)npieces, out)) < 0)
		rc = error_set(err, -rc, ERROR_NO_OFFSET, "cannot encode the torrent (too large?)");
out:
	free(hashes);
	free(base);
	walk_free(&w);
	return rc;
}
