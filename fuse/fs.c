/*
 * fs: FUSE request handlers and the parked-read queue for a mounted
 * torrent (see fs.h and docs/fuse.md).
 *
 * Everything runs on the loop thread. on_session() reads up to
 * FS_REQS_PER_WAKE requests from the non-blocking session fd and has libfuse
 * dispatch each to a handler below; every handler ends in exactly one
 * fuse_reply_* before it returns, except read, which may park its request.
 *
 * A parked read waits on one piece at a time: the first piece under it
 * that is not verified. Parked reads hang off a small hash of buckets keyed
 * by that piece, so a verified piece only looks at the reads waiting for
 * it; a read whose piece arrived moves on to its next missing piece or, if
 * none is left, is answered from disk. That keeps a verification O(reads
 * waiting on that piece) even during the start-up check, which reports
 * every piece found on disk.
 *
 * Interrupts: libfuse calls on_interrupt() while it dispatches the
 * kernel's INTERRUPT message, with the interrupted request's lock held.
 * Replying from there is legal but delicate, so the callback only flags
 * the read; sweep_interrupted() answers it with EINTR right after the
 * dispatch, in the same wake-up.
 *
 * Readahead and priorities live in stream.c: each open file handle owns a
 * stream_reader, and each parked read holds its pieces at the top
 * priority until it is answered or interrupted.
 */
#include "config.h"

#define FUSE_USE_VERSION 35

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "chunks.h"
#include "fs.h"
#include "stream.h"
#include "textenc.h"
#include "tree.h"

#define PARK_BUCKETS  256u
#define ENTRY_TIMEOUT 3600.0 /* the tree never changes while mounted */
#define ATTR_TIMEOUT  1.0    /* st_blocks grows as pieces verify */
/*
 * The largest read request, and st_blksize, which is what cp and friends
 * read at once. Every request is a round trip through the loop, so larger
 * ones go faster; but a spliced reply must fit in a pipe, which holds
 * 1 MiB (pipe-max-size) with the header, so 512 KiB rather than the 1 MiB
 * the kernel would take.
 */
#define IO_BLOCK_SIZE (512u << 10)
/* The kernel's readahead for the mount (KiB): see widen_readahead(). */
#define READAHEAD_KB 1024
/*
 * Sequential direct reads are served from whole chunks read at once (see
 * chunks.h): 1 MiB direct reads ran fastest here (dd iflag=direct of 1 GiB:
 * 128 KiB 710 MB/s, 512 KiB 1.1 GB/s, 1 MiB 1.6 GB/s, 4 MiB 1.2 GB/s).
 * A few slots, so several readers do not evict each other's chunk.
 */
#define CHUNK_SIZE	(1u << 20)
#define CHUNK_SLOTS	8u
#define CHUNK_AHEAD	2u /* chunks loaded ahead of a sequential reader */
#define XATTR_VALUE_MAX 64

struct parked {
	fuse_req_t req;
	uint64_t off; /* torrent offset */
	size_t len;
	uint32_t first, last, wait; /* pieces under the read; the one it waits for */
	int seq;		    /* the read went on where the previous one ended */
	int interrupted;
	struct parked *prev, *next; /* every parked read, oldest first */
	struct parked *bnext;	    /* bucket of `wait` */
};

/* A direct read waiting for its chunk to load (a millisecond or two). */
struct cwait {
	fuse_req_t req;
	uint64_t off, start; /* torrent offsets of the read and its chunk */
	size_t len;
	struct cwait *next;
};

struct handle {
	const struct tree_node *node;
	struct stream_reader *reader;
	int cached;		    /* opened through the page cache (complete then) */
	uint64_t next_off;	    /* torrent offset where the last read ended */
	struct handle *prev, *next; /* open handles, freed by fs_free if never released */
};

struct fs {
	struct loop *loop;
	struct torrent *t;
	const struct metainfo *mi;
	struct tree tree;
	struct stream *stream;
	struct fs_hooks hooks;
	int on_demand;
	int64_t mtime;
	uid_t uid;
	gid_t gid;
	char hex[41];

	struct fuse_session *se;
	struct loop_io *io;
	struct fuse_buf buf;
	int mounted; /* fuse_session_mount succeeded and fs_unmount has not run */
	int leaving; /* no more parking: missing data reads fail with EIO */

	struct parked *head, *tail;
	struct parked *buckets[PARK_BUCKETS];
	unsigned nparked;
	unsigned ninterrupted;
	uint64_t refused; /* reads refused because the queue was full */

	int splice;	   /* replies may splice data from the cache files */
	int inited;	   /* INIT answered */
	char bdi_path[96]; /* read_ahead_kb of the mount, until widen_readahead() */
	uint8_t *rbuf;	   /* one read's data; requests are handled one at a time */
	size_t rbuf_len;
	struct loop_pool *pool; /* loads chunks (one thread: the disk is one too) */
	struct chunks *chunks;	/* sequential direct readers' data, read ahead */
	struct cwait *cwaits;	/* reads waiting for a chunk */

	struct handle *handles; /* open files (no release comes after an unmount) */
};

static const char *const xattr_names[] = {
    "user.pieces.progress", "user.pieces.verified",   "user.pieces.infohash",
    "user.pieces.peers",    "user.pieces.downloaded",
};
#define NXATTRS	    (sizeof xattr_names / sizeof xattr_names[0])
#define XATTR_ERROR "user.pieces.error"

static void __attribute__((format(printf, 3, 4)))
fs_log(struct fs *fs, enum torrent_log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (fs->hooks.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fs->hooks.log(fs->hooks.arg, level, msg);
}

/* ---- engine glue for stream.c ------------------------------------------------ */

static void
eng_set_priority(void *ctx, uint32_t piece, unsigned prio)
{
	torrent_set_priority(ctx, piece, prio);
}

static void
eng_set_deadline(void *ctx, uint32_t piece, uint64_t deadline_ms)
{
	torrent_set_deadline(ctx, piece, deadline_ms);
}

static int
eng_has_piece(void *ctx, uint32_t piece)
{
	return torrent_has_piece(ctx, piece);
}

static const struct stream_ops eng_ops = {
    .set_priority = eng_set_priority,
    .set_deadline = eng_set_deadline,
    .has_piece = eng_has_piece,
};

/* ---- parked reads ------------------------------------------------------------ */

static void
bucket_add(struct fs *fs, struct parked *p)
{
	struct parked **b = &fs->buckets[p->wait % PARK_BUCKETS];

	p->bnext = *b;
	*b = p;
}

static void
bucket_del(struct fs *fs, struct parked *p)
{
	struct parked **pp = &fs->buckets[p->wait % PARK_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->bnext) {
		if (*pp == p) {
			*pp = p->bnext;
			return;
		}
	}
}

/* Takes p out of the list (not the buckets) and lets its pieces go. */
static void
unlink_parked(struct fs *fs, struct parked *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		fs->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		fs->tail = p->prev;
	if (p->interrupted)
		fs->ninterrupted--;
	fs->nparked--;
	stream_release(fs->stream, p->first, p->last, STREAM_PRIO_READ);
}

static int
rbuf_reserve(struct fs *fs, size_t len)
{
	uint8_t *b;

	if (len <= fs->rbuf_len)
		return 0;
	/* Page-aligned, so storage_read_direct() can read into it. */
	free(fs->rbuf);
	fs->rbuf = NULL;
	fs->rbuf_len = 0;
	if (posix_memalign((void **)&b, 4096, len) != 0)
		return -ENOMEM;
	fs->rbuf = b;
	fs->rbuf_len = len;
	return 0;
}

/* Reads verified data into our buffer and answers with it. */
static void
serve_direct(struct fs *fs, fuse_req_t req, uint64_t off, size_t len)
{
	int rc;

	if ((rc = rbuf_reserve(fs, len)) < 0 ||
	    (rc = torrent_read_direct(fs->t, off, fs->rbuf, len)) < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fuse_reply_buf(req, (const char *)fs->rbuf, len);
}

/* On the chunk loader's thread: only verified chunks are loaded, and storage is thread-safe. */
static int
fill_chunk(void *arg, uint64_t off, void *buf, size_t len)
{
	struct storage *st = torrent_storage(((struct fs *)arg)->t);

	return st != NULL ? storage_read_direct(st, off, buf, len) : -EAGAIN;
}

/* A chunk load ended: answer the reads that waited for it. */
static void
chunk_loaded(void *arg, uint64_t start, int rc)
{
	struct fs *fs = arg;
	struct cwait **pp = &fs->cwaits, *w;
	enum chunks_state state;
	const uint8_t *p;

	while ((w = *pp) != NULL) {
		if (w->start != start) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		if (rc == 0 && (p = chunks_find(fs->chunks, w->off, w->len, &state)) != NULL)
			fuse_reply_buf(w->req, (const char *)p, w->len);
		else
			serve_direct(fs, w->req, w->off, w->len); /* and its error, if any */
		free(w);
	}
}

/* Loads the verified chunks after the one at `start`, up to CHUNK_AHEAD of them. */
static void
prefetch(struct fs *fs, uint64_t start)
{
	uint64_t s = start;
	size_t clen;
	unsigned k;

	for (k = 0; k < CHUNK_AHEAD; k++) {
		s += CHUNK_SIZE;
		if (chunks_span(fs->chunks, s, 1, &s, &clen) < 0 ||
		    !torrent_has_range(fs->t, s, clen))
			return;
		if (chunks_state_of(fs->chunks, s) == CHUNKS_ABSENT &&
		    chunks_load(fs->chunks, s) < 0)
			return;
	}
}

/*
 * A parked read that lies inside the piece being announced verified,
 * answered from its data still in memory; -1 when it does not.
 */
static int
serve_fresh(struct fs *fs, fuse_req_t req, uint64_t off, size_t len)
{
	uint32_t piece = (uint32_t)(off / fs->mi->piece_length), plen;
	uint64_t ps = (uint64_t)piece * fs->mi->piece_length;
	const uint8_t *data;

	if ((off + len - 1) / fs->mi->piece_length != piece ||
	    (data = torrent_fresh_piece(fs->t, piece, &plen)) == NULL || off + len > ps + plen)
		return -1;
	fuse_reply_buf(req, (const char *)data + (off - ps), len);
	return 0;
}

/*
 * A piece was just verified and its data is still in memory: the chunks
 * inside it that a direct reader will come to next (its position up to
 * CHUNK_AHEAD chunks before them) are copied into the cache from there
 * instead of being read back from disk later. That is what a reader
 * keeping up with the download needs.
 */
static void
keep_fresh(struct fs *fs, uint32_t piece)
{
	uint64_t ps = (uint64_t)piece * fs->mi->piece_length, cs, s;
	const uint8_t *data;
	struct handle *h;
	uint32_t plen;
	size_t clen;

	if ((data = torrent_fresh_piece(fs->t, piece, &plen)) == NULL)
		return;
	for (cs = (ps + CHUNK_SIZE - 1) / CHUNK_SIZE * CHUNK_SIZE; cs < ps + plen;
	     cs += CHUNK_SIZE) {
		if (chunks_span(fs->chunks, cs, 1, &s, &clen) < 0 || cs + clen > ps + plen)
			return;
		if (chunks_state_of(fs->chunks, cs) != CHUNKS_ABSENT)
			continue;
		for (h = fs->handles; h != NULL; h = h->next)
			if (!h->cached && h->next_off < cs + clen &&
			    cs <= h->next_off + (uint64_t)CHUNK_AHEAD * CHUNK_SIZE)
				break;
		if (h != NULL && chunks_put(fs->chunks, cs, data + (cs - ps)) < 0)
			return;
	}
}

/*
 * A direct read from the chunk cache: answered at once when its chunk is
 * there, or once it is loaded when the read is sequential and its chunk
 * all verified (which starts loading the chunks after it too). Returns 0
 * when the read was answered or will be; -1 when the caller must read it
 * itself.
 */
static int
serve_chunk(struct fs *fs, fuse_req_t req, uint64_t off, size_t len, int seq)
{
	enum chunks_state state;
	const uint8_t *p;
	struct cwait *w;
	uint64_t start;
	size_t clen;

	if (chunks_span(fs->chunks, off, len, &start, &clen) < 0)
		return -1;
	if ((p = chunks_find(fs->chunks, off, len, &state)) == NULL) {
		if (!seq || !torrent_has_range(fs->t, start, clen))
			return -1;
		if (state == CHUNKS_ABSENT && chunks_load(fs->chunks, start) < 0)
			return -1;
		/* Loaded already when the loader could not be used. */
		p = chunks_find(fs->chunks, off, len, &state);
	}
	if (p != NULL) {
		fuse_reply_buf(req, (const char *)p, len);
	} else {
		if (state != CHUNKS_LOADING || (w = calloc(1, sizeof *w)) == NULL)
			return -1;
		w->req = req;
		w->off = off;
		w->start = start;
		w->len = len;
		w->next = fs->cwaits;
		fs->cwaits = w;
	}
	if (seq)
		prefetch(fs, start);
	return 0;
}

/*
 * Answers a read whose pieces are all verified. splice: the read fills
 * the mount's page cache (a file complete when opened) rather than the
 * reader's own buffer (direct I/O). seq: a direct read that goes on where
 * the previous one of its handle ended.
 */
static void
serve(struct fs *fs, fuse_req_t req, uint64_t off, size_t len, int splice, int seq)
{
	struct storage_loan loan;

	/*
	 * Page-cache reads are spliced from the cache file: the kernel copies
	 * the pages once and we never touch them (libfuse copies instead when
	 * splicing is not possible). Direct reads are not: there the kernel's
	 * copy lands in the reader's buffer, and from our small buffer it
	 * measured faster than straight from the cache file's pages (cp of
	 * 1 GiB from a fresh mount, 6 alternating runs: median 2.48 s against
	 * 2.65 s). Those pages were mostly written with O_DIRECT, so they are
	 * not in the page cache either: reading them into our buffer with
	 * O_DIRECT too spares the kernel filling the cache and copying out of
	 * it, half of this process's CPU time during that cp. A sequential
	 * reader's data comes a chunk at a time, loaded ahead of it on another
	 * thread: its requests are answered from memory (cp from a fresh
	 * mount: the disk reads took 1.3-2.0 s of its 3-3.9 s in 128 KiB
	 * requests on the loop thread).
	 */
	if (splice && fs->splice && torrent_lend(fs->t, off, len, &loan) == 0) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
		bv.buf[0].fd = loan.fd;
		bv.buf[0].pos = (off_t)loan.file_off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		torrent_give_back(fs->t, &loan);
		return;
	}
	if (!splice && serve_chunk(fs, req, off, len, seq) == 0)
		return;
	serve_direct(fs, req, off, len);
}

static void
on_interrupt(fuse_req_t req, void *data)
{
	struct fs *fs = fuse_req_userdata(req);
	struct parked *p = data;

	/* Only flag it: sweep_interrupted() replies once libfuse's locks are released. */
	if (!p->interrupted) {
		p->interrupted = 1;
		fs->ninterrupted++;
	}
}

static void
sweep_interrupted(struct fs *fs)
{
	struct parked *p, *next;

	for (p = fs->head; p != NULL && fs->ninterrupted > 0; p = next) {
		next = p->next;
		if (!p->interrupted)
			continue;
		bucket_del(fs, p);
		unlink_parked(fs, p);
		fuse_reply_err(p->req, EINTR);
		free(p);
	}
}

/* Answers every read waiting for missing data with err. */
static void
fail_parked(struct fs *fs, int err)
{
	struct parked *p;

	while ((p = fs->head) != NULL) {
		bucket_del(fs, p);
		unlink_parked(fs, p);
		fuse_reply_err(p->req, err);
		free(p);
	}
}

/* ... and those waiting for a chunk too (the mount is going away). */
static void
fail_waiting(struct fs *fs, int err)
{
	struct cwait *w;

	while ((w = fs->cwaits) != NULL) {
		fs->cwaits = w->next;
		fuse_reply_err(w->req, err);
		free(w);
	}
	fail_parked(fs, err);
}

static void
park(struct fs *fs, fuse_req_t req, uint64_t off, size_t len, int seq)
{
	uint32_t plen = fs->mi->piece_length;
	struct parked *p;
	uint32_t i;

	if (fs->nparked >= FS_MAX_PARKED) {
		/* A log line per doubling, so a stuck reader cannot flood the log. */
		fs->refused++;
		if ((fs->refused & (fs->refused - 1)) == 0)
			fs_log(fs, TORRENT_LOG_WARNING,
			       "%u reads are waiting for data already; answering EIO (%llu so far)",
			       fs->nparked, (unsigned long long)fs->refused);
		fuse_reply_err(req, EIO);
		return;
	}
	if ((p = calloc(1, sizeof *p)) == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->req = req;
	p->off = off;
	p->len = len;
	p->seq = seq;
	p->first = (uint32_t)(off / plen);
	p->last = (uint32_t)((off + len - 1) / plen);
	for (i = p->first; i < p->last && torrent_has_piece(fs->t, i); i++)
		;
	p->wait = i;
	if (stream_hold(fs->stream, p->first, p->last, STREAM_PRIO_READ,
			loop_now_ms(fs->loop) + STREAM_READ_DEADLINE_MS) < 0) {
		free(p);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->prev = fs->tail;
	if (fs->tail != NULL)
		fs->tail->next = p;
	else
		fs->head = p;
	fs->tail = p;
	fs->nparked++;
	bucket_add(fs, p);
	fs_log(fs, TORRENT_LOG_DEBUG, "read of %zu bytes at %llu parked on piece %u (%u waiting)",
	       len, (unsigned long long)off, p->wait, fs->nparked);
	torrent_kick(fs->t);
	/* Last: if the kernel already interrupted req, on_interrupt runs right here. */
	fuse_req_interrupt_func(req, on_interrupt, p);
}

void
fs_piece_verified(struct fs *fs, uint32_t piece)
{
	struct parked **pp = &fs->buckets[piece % PARK_BUCKETS], *p, *ready = NULL;

	tree_piece_verified(&fs->tree, piece);
	stream_piece_verified(fs->stream, piece);
	keep_fresh(fs, piece);
	/* Take out the reads waiting on this piece first: moving one may reuse this bucket. */
	while ((p = *pp) != NULL) {
		if (p->wait != piece) {
			pp = &p->bnext;
			continue;
		}
		*pp = p->bnext;
		p->bnext = ready;
		ready = p;
	}
	while ((p = ready) != NULL) {
		uint32_t i;

		ready = p->bnext;
		for (i = piece + 1; i <= p->last && torrent_has_piece(fs->t, i); i++)
			;
		if (i <= p->last) {
			p->wait = i;
			bucket_add(fs, p);
			continue;
		}
		unlink_parked(fs, p);
		/*
		 * Inside the piece just verified: from its data, still in
		 * memory. Otherwise as any read (only direct reads are parked).
		 */
		if (serve_fresh(fs, p->req, p->off, p->len) < 0)
			serve(fs, p->req, p->off, p->len, 0, p->seq);
		free(p);
	}
}

void
fs_disk_error(struct fs *fs, int err)
{
	fail_parked(fs, -err > 0 ? -err : EIO);
}

unsigned
fs_parked(const struct fs *fs)
{
	return fs->nparked;
}

/* ---- attributes ---------------------------------------------------------------- */

static void
fill_attr(struct fs *fs, const struct tree_node *n, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = tree_ino(&fs->tree, n);
	if (tree_is_dir(n)) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2 + n->nsubdirs;
		/* No blocks: du adds a folder's own blocks to its files'. */
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)n->size;
		st->st_blocks = (blkcnt_t)((n->verified + 511) / 512);
	}
	st->st_blksize = IO_BLOCK_SIZE;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = (time_t)fs->mtime;
}

static const struct tree_node *
node_of(struct fs *fs, fuse_ino_t ino)
{
	return tree_get(&fs->tree, ino);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	fs->inited = 1;
	conn->max_write =
	    IO_BLOCK_SIZE; /* libfuse derives max_pages, the read limit too, from it */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE) {
		conn->want |= FUSE_CAP_SPLICE_WRITE;
		fs->splice = 1;
	}
	/* Several reads of one file in flight: readahead overlaps a parked read. */
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	/*
	 * O_DIRECT reads sent as background requests could not be interrupted
	 * while parked; synchronous ones can.
	 */
	conn->want &= ~(unsigned)FUSE_CAP_ASYNC_DIO;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fuse_req_userdata(req);
	const struct tree_node *dir = node_of(fs, parent), *n;
	struct fuse_entry_param e;

	if (dir == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!tree_is_dir(dir)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	memset(&e, 0, sizeof e);
	/* ino 0 is a negative entry: the kernel caches "no such name" too. */
	e.entry_timeout = ENTRY_TIMEOUT;
	if ((n = tree_lookup(&fs->tree, dir, name)) != NULL) {
		e.ino = tree_ino(&fs->tree, n);
		e.generation = 1;
		e.attr_timeout = ATTR_TIMEOUT;
		fill_attr(fs, n, &e.attr);
	}
	fuse_reply_entry(req, &e);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);
	const struct tree_node *n = node_of(fs, ino);
	struct stat st;

	(void)fi;
	if (n == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_attr(fs, n, &st);
	fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);
	const struct tree_node *n = node_of(fs, ino);

	if (n == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (!tree_is_dir(n)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/* Listings never change: let the kernel keep them. */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);
	const struct tree_node *n = node_of(fs, ino);
	char *buf;
	size_t pos = 0;
	uint64_t i;

	(void)fi;
	if (n == NULL || !tree_is_dir(n)) {
		fuse_reply_err(req, n == NULL ? ENOENT : ENOTDIR);
		return;
	}
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if ((buf = malloc(size ? size : 1)) == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* Offsets: 0 is ".", 1 is "..", 2 + k the k-th child in name order. */
	for (i = (uint64_t)off; i < (uint64_t)n->nkids + 2; i++) {
		struct stat st;
		const char *name;
		size_t ent;

		memset(&st, 0, sizeof st);
		st.st_mode = S_IFDIR;
		if (i == 0) {
			name = ".";
			st.st_ino = ino;
		} else if (i == 1) {
			name = "..";
			st.st_ino = tree_ino(&fs->tree, &fs->tree.nodes[n->parent]);
		} else {
			const struct tree_node *c = tree_child(&fs->tree, n, (uint32_t)(i - 2));

			name = c->name;
			st.st_ino = tree_ino(&fs->tree, c);
			st.st_mode = tree_is_dir(c) ? S_IFDIR : S_IFREG;
		}
		ent = fuse_add_direntry(req, buf + pos, size - pos, name, &st, (off_t)(i + 1));
		if (ent > size - pos)
			break;
		pos += ent;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void
handle_free(struct fs *fs, struct handle *h)
{
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		fs->handles = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	stream_reader_free(h->reader);
	free(h);
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);
	const struct tree_node *n = node_of(fs, ino);
	struct handle *h;
	int raised = 0;

	if (n == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (tree_is_dir(n)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if ((h = calloc(1, sizeof *h)) == NULL ||
	    (h->reader = stream_reader_new(fs->stream, tree_file_offset(&fs->tree, n), n->size,
					   loop_now_ms(fs->loop), &raised)) == NULL) {
		free(h);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->node = n;
	h->next_off = tree_file_offset(&fs->tree, n);
	h->next = fs->handles;
	if (fs->handles != NULL)
		fs->handles->prev = h;
	fs->handles = h;
	if (raised)
		torrent_kick(fs->t);
	fi->fh = (uint64_t)(uintptr_t)h;
	/*
	 * A complete file goes through the page cache (verified data never
	 * changes). An incomplete one is read direct: the kernel's readahead
	 * sends background requests, which cannot be interrupted and, once a
	 * dozen of them wait for data that may never come, hold up every
	 * other cached read of the mount. Direct reads come from the reader
	 * itself, so a signal interrupts them, and our own readahead window
	 * (stream.c) does what the kernel's would have.
	 */
	if (n->verified == n->size)
		fi->keep_cache = h->cached = 1;
	else
		fi->direct_io = 1;
	if (fuse_reply_open(req, fi) != 0) {
		/* The open was interrupted: no release will come for this handle. */
		handle_free(fs, h);
	}
}

static void
op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)ino;
	if (h != NULL)
		handle_free(fuse_req_userdata(req), h);
	fuse_reply_err(req, 0);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fuse_req_userdata(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	uint64_t toff;
	size_t len;
	int raised, seq, werr, paused;

	(void)ino;
	if (h == NULL || off < 0) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if ((uint64_t)off >= h->node->size || size == 0) {
		fuse_reply_buf(req, NULL, 0); /* EOF */
		return;
	}
	len = h->node->size - (uint64_t)off < size ? (size_t)(h->node->size - (uint64_t)off) : size;
	toff = tree_file_offset(&fs->tree, h->node) + (uint64_t)off;
	raised = stream_reader_read(h->reader, toff, len, loop_now_ms(fs->loop));
	seq = toff == h->next_off;
	h->next_off = toff + len;
	if (torrent_has_range(fs->t, toff, len)) {
		serve(fs, req, toff, len, h->cached, seq);
		if (raised)
			torrent_kick(fs->t);
	} else if (fs->leaving) {
		fuse_reply_err(req, EIO);
	} else if ((werr = torrent_write_error(fs->t, &paused)) != 0 && paused) {
		/* Nothing new can be stored for now: waiting would only hang the reader. */
		fuse_reply_err(req, -werr);
	} else {
		park(fs, req, toff, len, seq); /* kicks the engine */
	}
}

static void
op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fuse_req_userdata(req);
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof sv);
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = (fsblkcnt_t)((fs->mi->total_length + 4095) / 4096);
	sv.f_files = fs->tree.nnodes;
	sv.f_namemax = METAINFO_MAX_COMPONENT;
	sv.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

/* The value of a pieces xattr for node n; its length, or -1 when unknown. */
static int
xattr_value(struct fs *fs, const struct tree_node *n, const char *name, char *out, size_t cap)
{
	struct torrent_stats st;
	int werr, paused;

	if (strcmp(name, "user.pieces.progress") == 0) {
		double pct = n->size ? 100.0 * (double)n->verified / (double)n->size : 100.0;

		/* Never show 100% before the last byte is in. */
		if (pct > 99.9 && n->verified < n->size)
			pct = 99.9;
		return snprintf(out, cap, "%.1f%%", pct);
	}
	if (strcmp(name, "user.pieces.verified") == 0)
		return snprintf(out, cap, "%llu", (unsigned long long)n->verified);
	if (strcmp(name, "user.pieces.infohash") == 0)
		return snprintf(out, cap, "%s", fs->hex);
	if (strcmp(name, "user.pieces.peers") == 0) {
		torrent_get_stats(fs->t, &st);
		return snprintf(out, cap, "%u", st.peers);
	}
	if (strcmp(name, "user.pieces.downloaded") == 0) {
		/* Payload received from peers by the whole torrent, wasted bytes included. */
		torrent_get_stats(fs->t, &st);
		return snprintf(out, cap, "%llu", (unsigned long long)st.downloaded);
	}
	/* Only while the cache refuses data (listed then only, see op_listxattr). */
	if (strcmp(name, XATTR_ERROR) == 0 && (werr = torrent_write_error(fs->t, &paused)) != 0) {
		int len = snprintf(out, cap, "%s", strerror(-werr));

		return len < (int)cap ? len : (int)cap - 1;
	}
	return -1;
}

static void
op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs *fs = fuse_req_userdata(req);
	const struct tree_node *n = node_of(fs, ino);
	char val[XATTR_VALUE_MAX];
	int len;

	if (n == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if ((len = xattr_value(fs, n, name, val, sizeof val)) < 0) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	if (size == 0)
		fuse_reply_xattr(req, (size_t)len);
	else if (size < (size_t)len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, (size_t)len);
}

static void
op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs *fs = fuse_req_userdata(req);
	char list[256];
	size_t len = 0, i;
	int paused;

	if (node_of(fs, ino) == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (i = 0; i < NXATTRS; i++) {
		size_t n = strlen(xattr_names[i]) + 1;

		memcpy(list + len, xattr_names[i], n);
		len += n;
	}
	if (torrent_write_error(fs->t, &paused) != 0) {
		memcpy(list + len, XATTR_ERROR, sizeof XATTR_ERROR);
		len += sizeof XATTR_ERROR;
	}
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, len);
}

/* Everything that would change the tree: a read-only filesystem (even with -o rw). */
static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	fuse_reply_err(req, EROFS);
}

static void
op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
	    int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, EROFS);
}

static void
op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	fuse_reply_err(req, EROFS);
}

static void
op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EROFS);
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EROFS);
}

static void
op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EROFS);
}

static void
op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	  const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EROFS);
}

static void
op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	  struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EROFS);
}

static const struct fuse_lowlevel_ops fs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_unlink,
    .rename = op_rename,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
    .create = op_create,
};

/* ---- the session on the loop ----------------------------------------------------- */

static void
session_ended(struct fs *fs)
{
	if (fs->io != NULL) {
		loop_io_del(fs->io);
		fs->io = NULL;
	}
	fs->leaving = 1;
	fail_waiting(fs, EIO);
	if (fs->hooks.unmounted != NULL)
		fs->hooks.unmounted(fs->hooks.arg);
}

/*
 * The kernel reads ahead of a FUSE file in requests no larger than the
 * mount's readahead window, 128 KiB unless raised, and the INIT reply can
 * only lower it. Each request is one trip through the loop, so the window
 * is widened through sysfs once INIT has been answered (before, the reply
 * would shrink it back). That takes root; otherwise reads still work, in
 * smaller requests. The device comes from /proc/self/mountinfo, not
 * stat(): a stat of our own mountpoint would wait for us to answer it.
 */
static void
find_bdi(struct fs *fs, const char *mountpoint)
{
	char real[PATH_MAX], line[PATH_MAX + 512], dev[32], mnt[PATH_MAX + 1];
	FILE *f;
	int found = 0;

	if (realpath(mountpoint, real) == NULL || (f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return;
	/* Fields: id parent major:minor root mountpoint ... (spaces escaped as \040) */
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = sscanf(line, "%*s %*s %31s %*s %4096s", dev, mnt) == 2 &&
			strcmp(mnt, real) == 0;
	fclose(f);
	if (found)
		snprintf(fs->bdi_path, sizeof fs->bdi_path, "/sys/class/bdi/%s/read_ahead_kb", dev);
}

static void
widen_readahead(struct fs *fs)
{
	int fd;

	if (fs->bdi_path[0] == '\0' || (fd = open(fs->bdi_path, O_WRONLY | O_CLOEXEC)) < 0)
		return;
	if (dprintf(fd, "%d\n", READAHEAD_KB) < 0)
		fs_log(fs, TORRENT_LOG_DEBUG, "cannot set %s: %s", fs->bdi_path, strerror(errno));
	close(fd);
	fs->bdi_path[0] = '\0';
}

static void
on_session(struct loop_io *io, int fd, short revents, void *arg)
{
	struct fs *fs = arg;
	int i, rc;

	(void)io, (void)fd, (void)revents;
	/* A bounded batch, so a busy reader cannot starve the peers. */
	for (i = 0; i < FS_REQS_PER_WAKE; i++) {
		rc = fuse_session_receive_buf(fs->se, &fs->buf);
		if (rc == -EAGAIN || rc == -EINTR || rc == -ENOENT)
			break; /* nothing more now; ENOENT: the request died before we read it */
		if (rc <= 0 || fuse_session_exited(fs->se)) {
			/* 0 with the session exited: ENODEV, i.e. unmounted. */
			if (rc < 0)
				fs_log(fs, TORRENT_LOG_ERROR, "reading FUSE requests: %s",
				       strerror(-rc));
			session_ended(fs);
			return;
		}
		fuse_session_process_buf(fs->se, &fs->buf);
		if (fs->inited && fs->bdi_path[0] != '\0')
			widen_readahead(fs);
		if (fs->ninterrupted > 0)
			sweep_interrupted(fs);
		if (fuse_session_exited(fs->se)) {
			session_ended(fs);
			return;
		}
	}
}

struct fs *
fs_new(struct loop *loop, struct torrent *t, const struct metainfo *mi, int on_demand,
       int64_t mtime, const struct fs_hooks *hooks, struct error *err)
{
	struct fs *fs;
	uint32_t i;

	if ((fs = calloc(1, sizeof *fs)) == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		return NULL;
	}
	fs->loop = loop;
	fs->t = t;
	fs->mi = mi;
	fs->on_demand = on_demand;
	fs->mtime = mtime;
	fs->uid = getuid();
	fs->gid = getgid();
	if (hooks != NULL)
		fs->hooks = *hooks;
	textenc_hex(mi->info_hash, 20, fs->hex);
	if (tree_build(&fs->tree, mi, err) < 0) {
		free(fs);
		return NULL;
	}
	fs->stream = stream_new(mi->piece_count, mi->piece_length, mi->total_length,
				on_demand ? 0 : 1, &eng_ops, t);
	fs->pool = loop_pool_new(loop, 1);
	fs->chunks = chunks_new(CHUNK_SLOTS, CHUNK_SIZE, mi->total_length, fs->pool, fill_chunk,
				chunk_loaded, fs);
	if (fs->stream == NULL || fs->pool == NULL || fs->chunks == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		fs_free(fs);
		return NULL;
	}
	/* --on-demand: nothing is fetched unless a read or readahead raises it. */
	if (on_demand)
		for (i = 0; i < mi->piece_count; i++)
			torrent_set_priority(t, i, 0);
	return fs;
}

int
fs_mount(struct fs *fs, const char *mountpoint, const char *const *opts, size_t nopts, int debug,
	 struct error *err)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	size_t i;
	int fd, fl, rc = -ERR_NOMEM;

	if (fuse_opt_add_arg(&args, "pieces") < 0 || fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, "ro,default_permissions,fsname=pieces,subtype=pieces") < 0 ||
	    (debug && fuse_opt_add_arg(&args, "-d") < 0))
		goto nomem;
	for (i = 0; i < nopts; i++)
		if (fuse_opt_add_arg(&args, "-o") < 0 || fuse_opt_add_arg(&args, opts[i]) < 0)
			goto nomem;
	if ((fs->se = fuse_session_new(&args, &fs_ops, sizeof fs_ops, fs)) == NULL) {
		rc = error_set(err, ERR_INVALID, ERROR_NO_OFFSET, "bad FUSE options");
		goto out;
	}
	if (fuse_session_mount(fs->se, mountpoint) != 0) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot mount on %s", mountpoint);
		goto out;
	}
	fs->mounted = 1;
	find_bdi(fs, mountpoint);
	fd = fuse_session_fd(fs->se);
	/* Non-blocking: a batch stops at EAGAIN instead of sleeping in read(). */
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    (fs->io = loop_io_add(fs->loop, fd, POLLIN, on_session, fs)) == NULL) {
		rc = error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot watch the FUSE device: %s",
			       strerror(errno));
		fs_unmount(fs);
		goto out;
	}
	/*
	 * A reader blocked in read() waits for us to look at the device: do so
	 * between peers too, not once per poll() round, which can take a
	 * millisecond while the peers keep the loop busy.
	 */
	loop_set_eager(fs->loop, fs->io);
	rc = 0;
	goto out;
nomem:
	error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
out:
	fuse_opt_free_args(&args);
	return rc;
}

void
fs_unmount(struct fs *fs)
{
	fs->leaving = 1;
	/* Replies first: fuse_session_unmount closes the fd they go through. */
	fail_waiting(fs, EIO);
	if (fs->io != NULL) {
		loop_io_del(fs->io);
		fs->io = NULL;
	}
	if (fs->mounted) {
		fs->mounted = 0;
		fuse_session_unmount(fs->se);
	}
}

void
fs_free(struct fs *fs)
{
	if (fs == NULL)
		return;
	if (fs->se != NULL) {
		fs_unmount(fs);
		fuse_session_destroy(fs->se);
	}
	while (fs->handles != NULL)
		handle_free(fs, fs->handles);
	free(fs->buf.mem);
	free(fs->rbuf);
	/* Loads finish first; their completions never run (the loop is done). */
	loop_pool_free(fs->pool);
	chunks_free(fs->chunks);
	stream_free(fs->stream);
	tree_free(&fs->tree);
	free(fs);
}
