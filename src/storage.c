/*
 * storage: maps the torrent's byte stream onto files under the download
 * folder, for the engine's worker threads.
 *
 * The layout module cuts every stream range into per-file segments; this
 * module turns each segment into a pread()/pwrite() on a descriptor from a
 * small LRU cache. The cache is guarded by one mutex held only around
 * lookups, opens and evictions; the I/O itself runs unlocked, because
 * pread/pwrite on a shared descriptor are thread-safe. A reference count
 * per cached descriptor keeps another thread's eviction from closing it
 * while it is in use. When every cached descriptor is busy, the caller gets
 * a private descriptor closed after use, so the cap is never exceeded and
 * nobody waits.
 *
 * Files are reached by walking their path components from a descriptor of
 * the download folder with openat(..., O_NOFOLLOW), creating folders with
 * mkdirat() on the way when writing. Opening under the mutex serializes
 * opens, which keeps two threads from racing to create the same file; opens
 * are rare next to reads and writes thanks to the cache.
 */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "layout.h"

_Static_assert(sizeof(off_t) >= 8, "storage needs a 64-bit off_t (_FILE_OFFSET_BITS=64)");

/* One pread/pwrite moves at most this much: Linux caps a call near 2 GiB anyway. */
#define IO_MAX (1u << 30)
/* O_DIRECT needs buffer, offset and length aligned; smaller writes are not worth it. */
#define DIRECT_ALIGN 4096u
#define DIRECT_MIN   (64u << 10)

struct sfile {
	int fd;	       /* cached descriptor, -1 when none */
	int dfd;       /* the same file opened O_DIRECT for aligned I/O, -1 when none */
	bool nodirect; /* O_DIRECT refused here (tmpfs, some network file systems) */
	unsigned refs; /* threads using fd right now; it is not closed while > 0 */
	uint64_t used; /* LRU clock value of the last use */
	bool writable; /* fd is O_RDWR (read-only when the file is not writable) */
	bool sized;    /* the file behind fd has been extended to its full length */
	bool dirty;    /* written since the last storage_sync() */
};

struct storage {
	const struct metainfo *mi;
	struct layout layout;
	int root; /* the download folder, O_DIRECTORY */
	pthread_mutex_t lock;
	bool lock_ready;
	/* Under lock: */
	struct sfile *files;		/* mi->nfiles entries */
	size_t cached[STORAGE_MAX_FDS]; /* indices of the files whose fd is open */
	size_t ncached;
	uint64_t clock;
};

/* A descriptor lent to one thread for one segment. */
struct handle {
	int fd;
	int dfd;    /* O_DIRECT twin of fd, or -1 */
	bool owned; /* not in the cache: closed by release() */
};

static int
mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir), i;
	struct stat sb;
	int saved;

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof path)
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		char c = path[i];

		if (c != '/' && c != '\0')
			continue;
		path[i] = '\0';
		/*
		 * An existing folder in a read-only place may fail with
		 * EACCES or EROFS rather than EEXIST: what matters is that a
		 * folder is there.
		 */
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			saved = errno;
			if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
				return -saved;
		}
		path[i] = c;
	}
	return 0;
}

/*
 * Opens the folder that holds `file`, walking its components from the root
 * without following symlinks and, when create is set, making the missing
 * ones. Returns a descriptor (st->root itself for a top-level file: see
 * close_parent()) or -errno.
 */
static int
open_parent(struct storage *st, size_t file, bool create)
{
	const struct metainfo_file *mf = &st->mi->files[file];
	int dfd = st->root, nfd = -1, rc;
	size_t i;

	if (mf->ncomponents == 0)
		return -EINVAL;
	for (i = 0; i + 1 < mf->ncomponents; i++) {
		rc = 0;
		if (create && mkdirat(dfd, mf->components[i], 0755) < 0 && errno != EEXIST)
			rc = -errno;
		if (rc == 0) {
			nfd = openat(dfd, mf->components[i],
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0)
				rc = -errno;
		}
		if (dfd != st->root)
			close(dfd);
		if (rc < 0)
			return rc;
		dfd = nfd;
	}
	return dfd;
}

static void
close_parent(struct storage *st, int dfd)
{
	if (dfd >= 0 && dfd != st->root)
		close(dfd);
}

static const char *
last_component(const struct storage *st, size_t file)
{
	const struct metainfo_file *mf = &st->mi->files[file];

	return mf->components[mf->ncomponents - 1];
}

/*
 * Opens `file` read-write (creating it and its folders when create is set),
 * or read-only when it exists but is not writable and create is not set.
 * O_NONBLOCK keeps a planted FIFO from hanging the thread before the
 * S_ISREG check refuses it. Returns the fd or -errno (-ENOENT: absent).
 */
static int
open_file(struct storage *st, size_t file, bool create, bool *rdwr)
{
	int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	struct stat sb;
	int dfd, fd, rc;

	dfd = open_parent(st, file, create);
	if (dfd < 0)
		return dfd;
	*rdwr = true;
	fd = openat(dfd, last_component(st, file), flags | (create ? O_CREAT : 0), 0644);
	if (fd < 0 && !create && (errno == EACCES || errno == EROFS || errno == EPERM)) {
		*rdwr = false;
		fd = openat(dfd, last_component(st, file),
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	}
	rc = fd < 0 ? -errno : fd;
	close_parent(st, dfd);
	if (fd < 0)
		return rc;
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* Gives a file written to for the first time its full length, sparse. */
static int
size_up(struct storage *st, size_t file, int fd)
{
	uint64_t len = st->mi->files[file].length;
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return -errno;
	if ((uint64_t)sb.st_size < len && ftruncate(fd, (off_t)len) < 0)
		return -errno;
	return 0;
}

/* Under lock: drops cache slot `slot`, closing its descriptor. */
static void
uncache_slot(struct storage *st, size_t slot)
{
	struct sfile *f = &st->files[st->cached[slot]];

	close(f->fd);
	f->fd = -1;
	if (f->dfd >= 0)
		close(f->dfd);
	f->dfd = -1;
	f->sized = false;
	f->writable = false;
	st->cached[slot] = st->cached[--st->ncached];
}

static void
uncache_file(struct storage *st, size_t file)
{
	size_t i;

	for (i = 0; i < st->ncached; i++) {
		if (st->cached[i] == file) {
			uncache_slot(st, i);
			return;
		}
	}
}

/* Under lock: frees a cache slot, evicting the least recently used idle fd. */
static bool
make_room(struct storage *st)
{
	size_t i, victim = SIZE_MAX;
	uint64_t oldest = UINT64_MAX;

	if (st->ncached < STORAGE_MAX_FDS)
		return true;
	for (i = 0; i < st->ncached; i++) {
		const struct sfile *f = &st->files[st->cached[i]];

		if (f->refs == 0 && f->used < oldest) {
			oldest = f->used;
			victim = i;
		}
	}
	if (victim == SIZE_MAX)
		return false;
	uncache_slot(st, victim);
	return true;
}

/*
 * Lends a descriptor of `file`. For writing, the file is created if needed
 * and sized. Returns 0 with h filled, 1 when reading a file that does not
 * exist, or -errno.
 */
/*
 * Lends a descriptor for one segment. direct: the caller would like the
 * O_DIRECT twin as well (opened lazily, only for files moved in large
 * aligned pieces, so small files cost one descriptor).
 */
static int
acquire(struct storage *st, size_t file, bool write, bool direct, struct handle *h)
{
	struct sfile *f = &st->files[file];
	bool rdwr = false;
	int fd, rc = 0;

	pthread_mutex_lock(&st->lock);
	if (f->fd >= 0 && write && !f->writable) {
		/*
		 * Opened read-only because it was not writable then. Reopen
		 * if nobody uses it; if somebody does, the file most likely
		 * still is not writable.
		 */
		if (f->refs > 0) {
			rc = -EACCES;
			goto out;
		}
		uncache_file(st, file);
	}
	if (f->fd < 0) {
		fd = open_file(st, file, write, &rdwr);
		if (fd < 0) {
			rc = !write && fd == -ENOENT ? 1 : fd;
			goto out;
		}
		if (!make_room(st)) {
			/* Every cached fd is busy: lend a private one. */
			if (write && (rc = size_up(st, file, fd)) < 0) {
				close(fd);
				goto out;
			}
			if (write)
				f->dirty = true;
			h->fd = fd;
			h->dfd = -1;
			h->owned = true;
			goto out;
		}
		f->fd = fd;
		f->writable = rdwr;
		f->sized = false;
		st->cached[st->ncached++] = file;
	}
	if (write && !f->sized) {
		if ((rc = size_up(st, file, f->fd)) < 0)
			goto out;
		f->sized = true;
	}
	if (write)
		f->dirty = true;
#ifdef O_DIRECT
	/*
	 * A second open file description of the same file with O_DIRECT, for
	 * aligned piece writes and reads: reopened through /proc so no path is
	 * looked up again (nothing can be swapped in between). It has the
	 * access mode of fd; a read-only one is dropped with fd when a write
	 * reopens the file.
	 */
	if (direct && f->dfd < 0 && !f->nodirect) {
		char path[64];

		snprintf(path, sizeof path, "/proc/self/fd/%d", f->fd);
		f->dfd = open(path, (f->writable ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
		if (f->dfd < 0)
			f->nodirect = true;
	}
#endif
	f->refs++;
	f->used = ++st->clock;
	h->fd = f->fd;
	h->dfd = direct ? f->dfd : -1;
	h->owned = false;
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

static void
release(struct storage *st, size_t file, struct handle *h)
{
	if (h->owned) {
		close(h->fd);
		return;
	}
	pthread_mutex_lock(&st->lock);
	st->files[file].refs--;
	pthread_mutex_unlock(&st->lock);
}

static int
pread_full(int fd, uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		size_t n = len > IO_MAX ? IO_MAX : len;
		ssize_t r = pread(fd, p, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			/* Past the file's current end: not written yet. */
			memset(p, 0, len);
			return 0;
		}
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int
pwrite_full(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len > 0) {
		size_t n = len > IO_MAX ? IO_MAX : len;
		ssize_t r = pwrite(fd, p, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO; /* would loop forever otherwise */
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int
storage_open(struct storage **out, const struct metainfo *mi, const char *dir, struct error *err)
{
	struct storage *st;
	uint64_t *lens = NULL;
	size_t i;
	bool rdwr;
	int rc, fd;

	*out = NULL;
	st = calloc(1, sizeof *st);
	if (st == NULL)
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	st->mi = mi;
	st->root = -1;
	if (pthread_mutex_init(&st->lock, NULL) != 0) {
		rc = error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "cannot create a mutex");
		goto fail;
	}
	st->lock_ready = true;
	lens = calloc(mi->nfiles + 1, sizeof *lens);
	st->files = calloc(mi->nfiles + 1, sizeof *st->files);
	if (lens == NULL || st->files == NULL) {
		rc = error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		goto fail;
	}
	for (i = 0; i < mi->nfiles; i++) {
		lens[i] = mi->files[i].length;
		st->files[i].fd = -1;
		st->files[i].dfd = -1;
	}
	rc = layout_init(&st->layout, mi->total_length, mi->piece_length, lens, mi->nfiles, err);
	if (rc < 0)
		goto fail;
	if (layout_piece_count(&st->layout) != mi->piece_count) {
		rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
			       "piece count %u does not match the layout's %u", mi->piece_count,
			       layout_piece_count(&st->layout));
		goto fail;
	}
	if ((rc = mkdir_p(dir)) < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET,
			       "cannot create the download folder: %s", strerror(-rc));
		goto fail;
	}
	st->root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->root < 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot open the download folder: %s",
			       strerror(errno));
		goto fail;
	}
	/* No write ever reaches an empty file, so make them now. */
	for (i = 0; i < mi->nfiles; i++) {
		if (mi->files[i].length != 0 || mi->files[i].pad)
			continue;
		fd = open_file(st, i, true, &rdwr);
		if (fd < 0) {
			rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot create \"%s\": %s",
				       mi->files[i].path, strerror(-fd));
			goto fail;
		}
		close(fd);
	}
	free(lens);
	*out = st;
	return 0;

fail:
	free(lens);
	storage_close(st);
	return rc;
}

void
storage_close(struct storage *st)
{
	if (st == NULL)
		return;
	while (st->ncached > 0)
		uncache_slot(st, st->ncached - 1);
	if (st->root >= 0)
		close(st->root);
	if (st->lock_ready)
		pthread_mutex_destroy(&st->lock);
	layout_free(&st->layout);
	free(st->files);
	free(st);
}

/*
 * Writes one file segment. The part that is aligned in memory and in the
 * file (as whole pieces of a single-file torrent are, from an aligned
 * buffer) goes through the O_DIRECT descriptor: on virtual machines, where
 * filling the page cache means faulting in fresh host memory, that is
 * several times cheaper in CPU than a buffered write. The unaligned head and
 * tail, and everything when O_DIRECT is unavailable, use the page cache.
 */
static bool
direct_worthy(const uint8_t *p, uint64_t len, uint64_t off)
{
	return len >= DIRECT_MIN && ((uintptr_t)p % DIRECT_ALIGN) == (off % DIRECT_ALIGN);
}

/* Splits a direct-worthy segment: an unaligned head, an aligned middle, the tail. */
static void
direct_split(size_t len, uint64_t off, size_t *head, size_t *mid)
{
	*head = (DIRECT_ALIGN - off % DIRECT_ALIGN) % DIRECT_ALIGN;
	*mid = (len - *head) / DIRECT_ALIGN * DIRECT_ALIGN;
}

static int
write_segment(const struct handle *h, const uint8_t *p, size_t len, uint64_t off)
{
	size_t head, mid;
	int rc;

	if (h->dfd < 0 || !direct_worthy(p, len, off))
		return pwrite_full(h->fd, p, len, off);
	direct_split(len, off, &head, &mid);
	if (head > 0 && (rc = pwrite_full(h->fd, p, head, off)) < 0)
		return rc;
	if ((rc = pwrite_full(h->dfd, p + head, mid, off + head)) < 0) {
		if (rc != -EINVAL)
			return rc;
		/* This file system refuses O_DIRECT after all: write through the cache. */
		if ((rc = pwrite_full(h->fd, p + head, mid, off + head)) < 0)
			return rc;
	}
	if (head + mid < len)
		return pwrite_full(h->fd, p + head + mid, len - head - mid, off + head + mid);
	return 0;
}

int
storage_write(struct storage *st, uint64_t offset, const void *p, size_t len)
{
	const uint8_t *in = p;
	struct layout_iter it;
	struct layout_seg s;
	struct handle h;
	int rc;

	if (layout_iter_init(&it, &st->layout, offset, len) < 0)
		return -EINVAL;
	while (layout_iter_next(&it, &s)) {
		if (st->mi->files[s.file].pad)
			continue;
		if ((rc = acquire(st, s.file, true,
				  direct_worthy(in + s.range_off, s.len, s.file_off), &h)) < 0)
			return rc;
		rc = write_segment(&h, in + s.range_off, (size_t)s.len, s.file_off);
		release(st, s.file, &h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Reads one file segment, the aligned middle through the O_DIRECT twin
 * when there is one (see storage_read_direct()).
 */
static int
read_segment(const struct handle *h, uint8_t *p, size_t len, uint64_t off)
{
	size_t head, mid;
	int rc;

	if (h->dfd < 0 || !direct_worthy(p, len, off))
		return pread_full(h->fd, p, len, off);
	direct_split(len, off, &head, &mid);
	if (head > 0 && (rc = pread_full(h->fd, p, head, off)) < 0)
		return rc;
	/*
	 * A direct read that ends short (a file cut short behind our back)
	 * would go on at an unaligned offset and fail with EINVAL: the cached
	 * descriptor redoes it and reads zeros past the end, as storage_read().
	 */
	if ((rc = pread_full(h->dfd, p + head, mid, off + head)) < 0) {
		if (rc != -EINVAL)
			return rc;
		if ((rc = pread_full(h->fd, p + head, mid, off + head)) < 0)
			return rc;
	}
	if (head + mid < len)
		return pread_full(h->fd, p + head + mid, len - head - mid, off + head + mid);
	return 0;
}

static int
read_range(struct storage *st, uint64_t offset, void *p, size_t len, bool direct)
{
	uint8_t *out = p;
	struct layout_iter it;
	struct layout_seg s;
	struct handle h;
	int rc;

	if (layout_iter_init(&it, &st->layout, offset, len) < 0)
		return -EINVAL;
	while (layout_iter_next(&it, &s)) {
		if (st->mi->files[s.file].pad) {
			memset(out + s.range_off, 0, (size_t)s.len);
			continue;
		}
		rc = acquire(st, s.file, false,
			     direct && direct_worthy(out + s.range_off, s.len, s.file_off), &h);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			memset(out + s.range_off, 0, (size_t)s.len);
			continue;
		}
		rc = read_segment(&h, out + s.range_off, (size_t)s.len, s.file_off);
		release(st, s.file, &h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
storage_read(struct storage *st, uint64_t offset, void *p, size_t len)
{
	return read_range(st, offset, p, len, false);
}

int
storage_read_direct(struct storage *st, uint64_t offset, void *p, size_t len)
{
	return read_range(st, offset, p, len, true);
}

int
storage_lend(struct storage *st, uint64_t offset, uint64_t len, struct storage_loan *loan)
{
	struct layout_iter it;
	struct layout_seg s;
	struct handle h;
	struct stat sb;
	int rc;

	if (layout_iter_init(&it, &st->layout, offset, len) < 0 || !layout_iter_next(&it, &s))
		return -EINVAL;
	if (s.len != len)
		return -EXDEV;
	if (st->mi->files[s.file].pad)
		return 1;
	if ((rc = acquire(st, s.file, false, false, &h)) != 0)
		return rc;
	/* A file cut short behind our back would make the reply short. */
	if (fstat(h.fd, &sb) < 0 || (uint64_t)sb.st_size < s.file_off + s.len) {
		release(st, s.file, &h);
		return 1;
	}
	loan->fd = h.fd;
	loan->file_off = s.file_off;
	loan->file = s.file;
	loan->owned = h.owned;
	return 0;
}

void
storage_give_back(struct storage *st, struct storage_loan *loan)
{
	struct handle h = {.fd = loan->fd, .dfd = -1, .owned = loan->owned};

	release(st, loan->file, &h);
}

static size_t
chunk_size(const struct storage *st)
{
	return st->layout.piece_len < STORAGE_CHUNK ? st->layout.piece_len : STORAGE_CHUNK;
}

/* Hashes one piece through buf (bufsize bytes), reusing ctx. */
static int
hash_piece(struct storage *st, uint32_t piece, uint8_t *buf, size_t bufsize, struct sha1_ctx *ctx,
	   uint8_t out[SHA1_LEN])
{
	uint64_t off = layout_piece_offset(&st->layout, piece);
	uint32_t size = layout_piece_size(&st->layout, piece), done = 0;
	int rc;

	sha1_init(ctx);
	while (done < size) {
		size_t n = size - done < bufsize ? size - done : bufsize;

		if ((rc = storage_read(st, off + done, buf, n)) < 0)
			return rc;
		sha1_update(ctx, buf, n);
		done += (uint32_t)n;
	}
	sha1_final(ctx, out);
	return 0;
}

int
storage_hash_piece(struct storage *st, uint32_t piece, uint8_t out[SHA1_LEN])
{
	size_t bufsize = chunk_size(st);
	struct sha1_ctx *ctx = NULL;
	uint8_t *buf = NULL;
	int rc;

	if (piece >= layout_piece_count(&st->layout))
		return -EINVAL;
	buf = malloc(bufsize);
	ctx = sha1_new();
	if (buf == NULL || ctx == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = hash_piece(st, piece, buf, bufsize, ctx, out);
out:
	sha1_free(ctx);
	free(buf);
	return rc;
}

int
storage_verify_piece(struct storage *st, uint32_t piece)
{
	uint8_t md[SHA1_LEN];
	int rc = storage_hash_piece(st, piece, md);

	if (rc < 0)
		return rc;
	return memcmp(md, st->mi->piece_hashes + (size_t)piece * SHA1_LEN, SHA1_LEN) == 0;
}

/* stat() of a file below the root, symlinks not followed. */
static int
stat_file(struct storage *st, size_t file, struct stat *sb)
{
	int dfd, rc = 0;

	dfd = open_parent(st, file, false);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, last_component(st, file), sb, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else if (S_ISLNK(sb->st_mode))
		rc = -ELOOP;
	else if (!S_ISREG(sb->st_mode))
		rc = -EINVAL;
	close_parent(st, dfd);
	return rc;
}

int
storage_file_stat(struct storage *st, size_t file, uint64_t *size, int64_t *mtime_ns)
{
	struct stat sb;
	int rc;

	if (file >= st->mi->nfiles)
		return -EINVAL;
	if (st->mi->files[file].pad)
		return -ENOENT;
	if ((rc = stat_file(st, file, &sb)) < 0)
		return rc;
	*size = (uint64_t)sb.st_size;
	*mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	return 0;
}

size_t
storage_file_count(const struct storage *st)
{
	return st->mi->nfiles;
}

uint32_t
storage_piece_count(const struct storage *st)
{
	return layout_piece_count(&st->layout);
}

/* Shared by the threads of one storage_recheck(). */
struct recheck {
	struct storage *st;
	const bool *present;   /* per file: exists with at least its full length */
	uint8_t *result;       /* per piece: 1 when verified; each written by one thread */
	_Atomic uint64_t next; /* 64 bits: threads overshoot the last index */
	atomic_bool stop;
	pthread_mutex_t lock; /* serializes progress calls and the fields below */
	uint32_t done;
	int rc;
	storage_progress_fn progress;
	void *arg;
};

static bool
piece_on_disk(const struct recheck *r, uint32_t piece)
{
	const struct storage *st = r->st;
	size_t first, last, i;

	if (layout_piece_files(&st->layout, piece, &first, &last) < 0)
		return false;
	for (i = first; i <= last; i++) {
		if (st->mi->files[i].length != 0 && !st->mi->files[i].pad && !r->present[i])
			return false;
	}
	return true;
}

static void
recheck_fail(struct recheck *r, int rc)
{
	pthread_mutex_lock(&r->lock);
	if (r->rc == 0)
		r->rc = rc;
	pthread_mutex_unlock(&r->lock);
	atomic_store(&r->stop, true);
}

static void *
recheck_worker(void *arg)
{
	struct recheck *r = arg;
	struct storage *st = r->st;
	uint32_t count = layout_piece_count(&st->layout);
	size_t bufsize = chunk_size(st);
	struct sha1_ctx *ctx = sha1_new();
	uint8_t *buf = malloc(bufsize);
	uint8_t md[SHA1_LEN];
	uint64_t i;

	if (ctx == NULL || buf == NULL) {
		recheck_fail(r, -ENOMEM);
		goto out;
	}
	while (!atomic_load(&r->stop)) {
		i = atomic_fetch_add(&r->next, 1);
		if (i >= count)
			break;
		if (piece_on_disk(r, (uint32_t)i) &&
		    hash_piece(st, (uint32_t)i, buf, bufsize, ctx, md) == 0 &&
		    memcmp(md, st->mi->piece_hashes + i * SHA1_LEN, SHA1_LEN) == 0)
			r->result[i] = 1;
		pthread_mutex_lock(&r->lock);
		r->done++;
		if (r->progress != NULL && r->progress(r->arg, r->done, count) != 0) {
			if (r->rc == 0)
				r->rc = -ECANCELED;
			atomic_store(&r->stop, true);
		}
		pthread_mutex_unlock(&r->lock);
	}
out:
	free(buf);
	sha1_free(ctx);
	return NULL;
}

int
storage_recheck(struct storage *st, unsigned nthreads, uint8_t *have, storage_progress_fn progress,
		void *arg)
{
	uint32_t count = layout_piece_count(&st->layout), p;
	pthread_t threads[STORAGE_MAX_THREADS];
	struct recheck r;
	bool *present = NULL;
	unsigned started = 0, t;
	struct stat sb;
	size_t i;
	int rc;

	memset(have, 0, count / 8 + (count % 8 != 0));
	if (nthreads == 0)
		nthreads = 1;
	if (nthreads > STORAGE_MAX_THREADS)
		nthreads = STORAGE_MAX_THREADS;
	if (nthreads > count)
		nthreads = count;

	memset(&r, 0, sizeof r);
	present = calloc(st->mi->nfiles + 1, sizeof *present);
	r.result = calloc(count, 1);
	if (present == NULL || r.result == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < st->mi->nfiles; i++)
		present[i] =
		    stat_file(st, i, &sb) == 0 && (uint64_t)sb.st_size >= st->mi->files[i].length;
	r.st = st;
	r.present = present;
	atomic_init(&r.next, 0);
	atomic_init(&r.stop, false);
	r.progress = progress;
	r.arg = arg;
	if (pthread_mutex_init(&r.lock, NULL) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	/* The caller's thread works too, so a failed pthread_create only slows us. */
	for (t = 1; t < nthreads; t++) {
		if (pthread_create(&threads[started], NULL, recheck_worker, &r) != 0)
			break;
		started++;
	}
	recheck_worker(&r);
	for (t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	pthread_mutex_destroy(&r.lock);
	rc = r.rc;
	if (rc == -ENOMEM)
		goto out;
	for (p = 0; p < count; p++) {
		if (r.result[p])
			have[p / 8] |= (uint8_t)(0x80u >> (p % 8));
	}
out:
	free(present);
	free(r.result);
	return rc;
}

int
storage_sync(struct storage *st)
{
	struct handle h;
	size_t i;
	bool dirty;
	int rc = 0, r;

	for (i = 0; i < st->mi->nfiles; i++) {
		pthread_mutex_lock(&st->lock);
		/* Cleared before the fsync: a write racing with it sets it again. */
		dirty = st->files[i].dirty;
		st->files[i].dirty = false;
		pthread_mutex_unlock(&st->lock);
		if (!dirty)
			continue;
		/* Any descriptor will do: fsync flushes the file, not the fd. */
		r = acquire(st, i, false, false, &h);
		if (r == 1)
			continue; /* removed behind our back: nothing to flush */
		if (r == 0) {
			if (fsync(h.fd) < 0)
				r = -errno;
			release(st, i, &h);
		}
		if (r < 0) {
			pthread_mutex_lock(&st->lock);
			st->files[i].dirty = true;
			pthread_mutex_unlock(&st->lock);
			if (rc == 0)
				rc = r;
		}
	}
	return rc;
}
