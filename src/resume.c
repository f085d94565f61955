/*
 * resume: encodes, saves, loads and validates the verified-pieces bitfield
 * of one torrent, with the file sizes and mtimes that tell whether it can
 * still be trusted.
 *
 * The file is written the classic crash-safe way (temporary file, fsync,
 * rename, fsync of the folder) because a torn resume file would either be
 * refused, costing a full recheck, or worse, claim pieces that are not on
 * disk. Loading treats the file as untrusted input: it must describe this
 * very torrent (info-hash, piece count, file count) and every field is
 * range-checked before anything in the caller's state is replaced.
 */
#include "resume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bencode.h"
#include "metainfo.h"

#define NSEC_PER_SEC 1000000000

/* Longest encoding of one [size, sec, nsec] entry: "l" + 3 * "i<20 chars>e" + "e". */
#define FILE_ENTRY_MAX 68
/* Everything else: key names, the version, the counters, string prefixes. */
#define FIXED_MAX 256

size_t
resume_have_len(uint32_t piece_count)
{
	return piece_count / 8 + (piece_count % 8 != 0);
}

int
resume_state_init(struct resume_state *rs, const uint8_t info_hash[SHA1_LEN], uint32_t piece_count,
		  size_t nfiles)
{
	size_t i;

	memset(rs, 0, sizeof *rs);
	if (piece_count == 0 || nfiles > METAINFO_MAX_FILES)
		return -ERR_INVALID;
	rs->have = calloc(resume_have_len(piece_count), 1);
	rs->files = calloc(nfiles + 1, sizeof *rs->files);
	if (rs->have == NULL || rs->files == NULL) {
		resume_state_free(rs);
		return -ERR_NOMEM;
	}
	memcpy(rs->info_hash, info_hash, SHA1_LEN);
	rs->piece_count = piece_count;
	rs->nfiles = nfiles;
	for (i = 0; i < nfiles; i++)
		rs->files[i].size = -1;
	return 0;
}

void
resume_state_free(struct resume_state *rs)
{
	if (rs == NULL)
		return;
	free(rs->have);
	free(rs->files);
	memset(rs, 0, sizeof *rs);
}

static void
split_ns(int64_t ns, int64_t *sec, int64_t *nsec)
{
	*sec = ns / NSEC_PER_SEC;
	*nsec = ns % NSEC_PER_SEC;
	if (*nsec < 0) { /* before 1970: keep nsec in [0, 1e9) */
		*nsec += NSEC_PER_SEC;
		*sec -= 1;
	}
}

int
resume_snapshot_files(struct resume_state *rs, struct storage *st)
{
	uint64_t size;
	int64_t ns;
	size_t i;

	if (rs->nfiles != storage_file_count(st))
		return -ERR_INVALID;
	for (i = 0; i < rs->nfiles; i++) {
		struct resume_file *f = &rs->files[i];

		if (storage_file_stat(st, i, &size, &ns) < 0 || size > INT64_MAX) {
			f->size = -1;
			f->mtime_sec = 0;
			f->mtime_nsec = 0;
			continue;
		}
		f->size = (int64_t)size;
		split_ns(ns, &f->mtime_sec, &f->mtime_nsec);
	}
	return 0;
}

int
resume_matches(const struct resume_state *rs, struct storage *st)
{
	int64_t ns, sec, nsec;
	uint64_t size;
	size_t i;
	int rc;

	if (rs->nfiles != storage_file_count(st))
		return 0;
	for (i = 0; i < rs->nfiles; i++) {
		const struct resume_file *f = &rs->files[i];

		rc = storage_file_stat(st, i, &size, &ns);
		if (rc == -ENOENT && f->size == -1)
			continue;
		if (rc < 0 || f->size < 0 || size != (uint64_t)f->size)
			return 0;
		split_ns(ns, &sec, &nsec);
		if (sec != f->mtime_sec || nsec != f->mtime_nsec)
			return 0;
	}
	return 1;
}

int
resume_encode(const struct resume_state *rs, struct buf *out)
{
	size_t i;
	int rc;

	if (rs->uploaded > INT64_MAX || rs->downloaded > INT64_MAX)
		return -ERR_INVALID;
	if ((rc = bencode_put_dict(out)) < 0 || (rc = bencode_put_cstr(out, "downloaded")) < 0 ||
	    (rc = bencode_put_int(out, (int64_t)rs->downloaded)) < 0 ||
	    (rc = bencode_put_cstr(out, "files")) < 0 || (rc = bencode_put_list(out)) < 0)
		return rc;
	for (i = 0; i < rs->nfiles; i++) {
		const struct resume_file *f = &rs->files[i];

		if ((rc = bencode_put_list(out)) < 0 || (rc = bencode_put_int(out, f->size)) < 0 ||
		    (rc = bencode_put_int(out, f->mtime_sec)) < 0 ||
		    (rc = bencode_put_int(out, f->mtime_nsec)) < 0 ||
		    (rc = bencode_put_end(out)) < 0)
			return rc;
	}
	if ((rc = bencode_put_end(out)) < 0 || (rc = bencode_put_cstr(out, "have")) < 0 ||
	    (rc = bencode_put_str(out, rs->have, resume_have_len(rs->piece_count))) < 0 ||
	    (rc = bencode_put_cstr(out, "info-hash")) < 0 ||
	    (rc = bencode_put_str(out, rs->info_hash, SHA1_LEN)) < 0 ||
	    (rc = bencode_put_cstr(out, "piece-count")) < 0 ||
	    (rc = bencode_put_int(out, rs->piece_count)) < 0 ||
	    (rc = bencode_put_cstr(out, "pieces-resume")) < 0 ||
	    (rc = bencode_put_int(out, RESUME_VERSION)) < 0 ||
	    (rc = bencode_put_cstr(out, "uploaded")) < 0 ||
	    (rc = bencode_put_int(out, (int64_t)rs->uploaded)) < 0 ||
	    (rc = bencode_put_end(out)) < 0)
		return rc;
	return 0;
}

static int
write_full(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* The folder holding path, as a new string: "." when path has no '/'. */
static char *
parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t n;
	char *d;

	if (slash == NULL)
		return strdup(".");
	n = slash == path ? 1 : (size_t)(slash - path);
	d = malloc(n + 1);
	if (d != NULL) {
		memcpy(d, path, n);
		d[n] = '\0';
	}
	return d;
}

int
resume_save(const char *path, const struct resume_state *rs, struct error *err)
{
	size_t n = strlen(path), bound;
	char *tmp = NULL, *dir = NULL;
	bool created = false;
	int fd = -1, dfd = -1, rc;
	struct buf b;

	/* Sized for the worst case but never above what resume_load() accepts. */
	bound = FIXED_MAX + resume_have_len(rs->piece_count);
	if (rs->nfiles > (RESUME_MAX_FILE_SIZE - bound) / FILE_ENTRY_MAX)
		bound = RESUME_MAX_FILE_SIZE;
	else
		bound += rs->nfiles * FILE_ENTRY_MAX;
	if (bound > RESUME_MAX_FILE_SIZE)
		bound = RESUME_MAX_FILE_SIZE;
	buf_init(&b, bound);
	if ((rc = resume_encode(rs, &b)) < 0) {
		rc = error_set(err, -rc, ERROR_NO_OFFSET, "cannot encode the resume data");
		goto out;
	}
	tmp = malloc(n + sizeof ".tmp");
	dir = parent_dir(path);
	if (tmp == NULL || dir == NULL) {
		rc = error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto out;
	}
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".tmp", sizeof ".tmp");

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot create the temporary file: %s",
			       strerror(errno));
		goto out;
	}
	created = true;
	rc = write_full(fd, b.data, b.len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot write the temporary file: %s",
			       strerror(-rc));
		goto out;
	}
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot write the temporary file: %s",
			       strerror(errno));
		goto out;
	}
	if (rename(tmp, path) < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot rename the temporary file: %s",
			       strerror(errno));
		goto out;
	}
	created = false;
	/* Makes the rename itself durable. Some filesystems refuse fsync on a folder: EINVAL. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (fsync(dfd) < 0 && errno != EINVAL)) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot sync the folder: %s",
			       strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (created)
		unlink(tmp);
	free(tmp);
	free(dir);
	buf_free(&b);
	return rc;
}

static long long
where(const uint8_t *p, const struct bencode *v)
{
	return (long long)(v->raw - p);
}

/* Looks up a key of the required type, or fills err. */
static const struct bencode *
need(const uint8_t *p, const struct bencode *root, const char *key, enum bencode_type type,
     struct error *err)
{
	const struct bencode *v = bencode_dict_get(root, key);

	if (v == NULL)
		error_set(err, ERR_INVALID, where(p, root), "missing \"%s\"", key);
	else if (v->type != type) {
		error_set(err, ERR_INVALID, where(p, v), "\"%s\" is a %s, not a %s", key,
			  bencode_type_name(v->type), bencode_type_name(type));
		v = NULL;
	}
	return v;
}

static int
parse_files(const uint8_t *p, const struct bencode *list, struct resume_file *files, size_t nfiles,
	    struct error *err)
{
	size_t i;

	if (list->u.list.n != nfiles)
		return error_set(err, ERR_INVALID, where(p, list),
				 "\"files\" lists %zu files, the torrent has %zu", list->u.list.n,
				 nfiles);
	for (i = 0; i < nfiles; i++) {
		const struct bencode *e = &list->u.list.items[i];
		const struct bencode *it;
		size_t k;

		if (e->type != BENCODE_LIST || e->u.list.n != 3)
			return error_set(err, ERR_INVALID, where(p, e),
					 "files[%zu] is not a list of 3 integers", i);
		it = e->u.list.items;
		for (k = 0; k < 3; k++) {
			if (it[k].type != BENCODE_INT)
				return error_set(err, ERR_INVALID, where(p, &it[k]),
						 "files[%zu] is not a list of 3 integers", i);
		}
		files[i].size = it[0].u.i;
		files[i].mtime_sec = it[1].u.i;
		files[i].mtime_nsec = it[2].u.i;
		if (files[i].size < -1)
			return error_set(err, ERR_INVALID, where(p, &it[0]),
					 "files[%zu] has a negative size", i);
		if (files[i].mtime_nsec < 0 || files[i].mtime_nsec >= NSEC_PER_SEC)
			return error_set(err, ERR_INVALID, where(p, &it[2]),
					 "files[%zu] has nanoseconds out of range", i);
		if (files[i].size == -1 && (files[i].mtime_sec != 0 || files[i].mtime_nsec != 0))
			return error_set(err, ERR_INVALID, where(p, e),
					 "files[%zu] is absent but has an mtime", i);
	}
	return 0;
}

int
resume_parse(const uint8_t *p, size_t n, struct resume_state *rs, struct error *err)
{
	const struct bencode *v, *have, *files, *up, *down;
	struct bencode_limits lim;
	struct bencode *root = NULL;
	struct resume_file *nf = NULL;
	size_t have_len = resume_have_len(rs->piece_count);
	unsigned spare;
	uint8_t *nh = NULL;
	struct error local;
	int rc;

	if (err == NULL)
		err = &local; /* the decoder's code is needed below */
	if (rs->piece_count == 0 || rs->have == NULL)
		return error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "state not initialised");
	if (n > RESUME_MAX_FILE_SIZE)
		return error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "resume file too large");
	/* root dict > files list > entry list; a little room for later keys. */
	lim.max_depth = 8;
	lim.max_nodes = 1024 + 8 * rs->nfiles;
	root = bencode_decode(p, n, &lim, err);
	if (root == NULL) {
		rc = -err->code;
		goto out;
	}
	if (root->type != BENCODE_DICT) {
		rc = error_set(err, ERR_INVALID, 0, "not a dictionary");
		goto out;
	}
	v = bencode_dict_get(root, "pieces-resume");
	if (v == NULL || v->type != BENCODE_INT) {
		rc = error_set(err, ERR_INVALID, 0, "not a pieces resume file");
		goto out;
	}
	if (v->u.i != RESUME_VERSION) {
		rc = error_set(err, ERR_UNSUPPORTED, where(p, v), "resume format version %lld",
			       (long long)v->u.i);
		goto out;
	}
	rc = -ERR_INVALID;
	if ((v = need(p, root, "info-hash", BENCODE_STR, err)) == NULL)
		goto out;
	if (v->u.str.len != SHA1_LEN || memcmp(v->u.str.p, rs->info_hash, SHA1_LEN) != 0) {
		rc = error_set(err, ERR_INVALID, where(p, v), "info-hash of another torrent");
		goto out;
	}
	if ((v = need(p, root, "piece-count", BENCODE_INT, err)) == NULL)
		goto out;
	if (v->u.i != (int64_t)rs->piece_count) {
		rc =
		    error_set(err, ERR_INVALID, where(p, v), "piece-count %lld, the torrent has %u",
			      (long long)v->u.i, rs->piece_count);
		goto out;
	}
	if ((have = need(p, root, "have", BENCODE_STR, err)) == NULL)
		goto out;
	if (have->u.str.len != have_len) {
		rc = error_set(err, ERR_INVALID, where(p, have),
			       "\"have\" is %zu bytes, %u pieces need %zu", have->u.str.len,
			       rs->piece_count, have_len);
		goto out;
	}
	spare = have_len * 8 - rs->piece_count;
	if (spare != 0 && (have->u.str.p[have_len - 1] & ((1u << spare) - 1)) != 0) {
		rc = error_set(err, ERR_INVALID, where(p, have), "\"have\" has spare bits set");
		goto out;
	}
	if ((files = need(p, root, "files", BENCODE_LIST, err)) == NULL ||
	    (up = need(p, root, "uploaded", BENCODE_INT, err)) == NULL ||
	    (down = need(p, root, "downloaded", BENCODE_INT, err)) == NULL)
		goto out;
	if (up->u.i < 0 || down->u.i < 0) {
		rc = error_set(err, ERR_INVALID, where(p, up->u.i < 0 ? up : down),
			       "negative transfer counter");
		goto out;
	}
	nh = malloc(have_len);
	nf = calloc(rs->nfiles + 1, sizeof *nf);
	if (nh == NULL || nf == NULL) {
		rc = error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto out;
	}
	if ((rc = parse_files(p, files, nf, rs->nfiles, err)) < 0)
		goto out;
	memcpy(nh, have->u.str.p, have_len);
	free(rs->have);
	free(rs->files);
	rs->have = nh;
	rs->files = nf;
	rs->uploaded = (uint64_t)up->u.i;
	rs->downloaded = (uint64_t)down->u.i;
	nh = NULL;
	nf = NULL;
	rc = 0;
out:
	free(nh);
	free(nf);
	bencode_free(root);
	return rc;
}

int
resume_load(const char *path, struct resume_state *rs, struct error *err)
{
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat sb;
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, ERR_IO, ERROR_NO_OFFSET, "%s", strerror(errno));
	if (fstat(fd, &sb) < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "not a regular file");
		goto out;
	}
	if (sb.st_size > (off_t)RESUME_MAX_FILE_SIZE) {
		rc = error_set(err, ERR_LIMIT, ERROR_NO_OFFSET, "larger than %u bytes",
			       RESUME_MAX_FILE_SIZE);
		goto out;
	}
	data = malloc((size_t)sb.st_size + 1);
	if (data == NULL) {
		rc = error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto out;
	}
	/* Reads at most the size seen by fstat: a file growing meanwhile is cut. */
	while (len < (size_t)sb.st_size) {
		r = read(fd, data + len, (size_t)sb.st_size - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = resume_parse(data, len, rs, err);
out:
	free(data);
	close(fd);
	return rc;
}
