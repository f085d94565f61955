/*
 * torrent: the engine for one torrent, driven entirely by the poll loop.
 *
 * Data path: a PIECE message is copied from the peer's input buffer into
 * the piece's assembly buffer (struct pbuf). When the picker says the
 * piece is complete, the buffer goes to a worker thread that hashes it
 * and, if it matches, writes it with pwrite; the result comes back through
 * the loop, and only then is the piece marked verified (picker, HAVE to
 * peers, resume bitfield). So a piece is never recorded before its data is
 * on disk, and `kill -9` can only lose pieces not yet recorded.
 *
 * Memory: assembly buffers are capped at TORRENT_PIECE_BUDGET in total,
 * plus TORRENT_AHEAD_BUDGET for pieces started for a streaming reader's
 * deadlines (torrent_budget_allows()); when that is used up the picker is
 * steered (through its skip callback) to blocks of pieces that already
 * have a buffer. Only a piece a read is blocked on goes past both.
 *
 * A once-a-second tick does the housekeeping: request time-outs and snub
 * detection, pipeline depth from each peer's rate, connection attempts,
 * keep-alives, resume saves, interest updates.
 */
#include "config.h"

#include "torrent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "announce.h"
#include "blame.h"
#include "choker.h"
#include "peer.h"
#include "picker.h"
#include "ratelimit.h"
#include "resume.h"
#include "sha1.h"
#include "storage.h"
#include "textenc.h"
#include "tracker.h"

#define TICK_MS		      1000
#define CONNECT_TIMEOUT_MS    10000
#define HANDSHAKE_TIMEOUT_MS  20000
#define IDLE_TIMEOUT_MS	      180000
#define KEEPALIVE_MS	      90000
#define SNUB_MS		      30000
#define RESUME_SAVE_MS	      10000
#define MAX_HALF_OPEN	      16
#define MAX_CONTRIB	      BLAME_MAX_SOURCES
#define MAX_UNSOLICITED	      16 /* blocks nobody asked for before we hang up */
#define MAX_SPARE_PBUFS	      8	 /* piece buffers kept for reuse */
#define MIN_QUEUE	      32
#define REQUEST_QUEUE_SECONDS 2.0
#define STREAM_QUEUE_SECONDS  0.25	   /* ... while a reader waits: see queue_target() */
#define UPLOAD_LOW_WATER      (256u << 10) /* refill a peer's output below this */
#define MAX_BAD_REQUESTS      64	   /* requests for pieces we lack before we hang up */
#define MAX_DROPPED_REQUESTS  4096	   /* requests past the queue cap before we hang up */
#define CHOKE_INTERVAL_MS     10000
#define SWAP_AFTER_MS	      20000 /* see useless_peer() */

struct pbuf {
	uint32_t piece;
	uint32_t len;
	struct pbuf *next_spare;
	uint8_t *data; /* piece_length bytes, whatever len is, so buffers can be reused */
	int verifying;
	int ahead; /* started for a piece with a deadline: counted in ahead_bytes */
	unsigned ncontrib;
	char contrib[MAX_CONTRIB][INET6_ADDRSTRLEN];
	uint8_t *owner; /* per block: index into contrib, or BLAME_UNKNOWN */
};

enum cand_state { CAND_IDLE, CAND_CONNECTED, CAND_BANNED };

struct candidate {
	struct sockaddr_storage addr;
	socklen_t len;
	enum cand_state state;
	unsigned failures;
	uint64_t retry_ms; /* not before */
	struct peer *peer;
};

struct verify_job {
	struct torrent *t;
	struct pbuf *pb;
	int ok;		  /* hash matched */
	int wrote;	  /* 0, or -errno from storage_write */
	int want_blocks;  /* blame waits for this piece: digest its blocks even if good */
	uint8_t *digests; /* per block, when it failed or want_blocks */
};

struct check_job {
	struct torrent *t;
	uint8_t *have;
	int trusted; /* from the resume file without a recheck */
	int rc;
};

struct torrent {
	struct loop *loop;
	struct http *http;
	const struct metainfo *mi;
	struct torrent_config cfg;
	char *dir;
	char *resume_path;
	const struct torrent_ops *ops;
	void *arg;

	uint8_t peer_id[20];
	struct loop_pool *pool;
	struct storage *st;
	struct picker *picker;
	struct tracker *tracker;
	struct choker *choker;
	struct loop_timer *tick;
	struct loop_timer *reaper;
	int listen_fd[2]; /* IPv4 and IPv6 */
	struct loop_io *listen_io[2];
	uint16_t port;
	struct sockaddr_storage local; /* --bind address (port 0) for outgoing connections */
	socklen_t local_len;

	uint8_t *have;		/* verified pieces, BEP 3 order */
	uint8_t *deadline_bits; /* pieces with a deadline (streaming reads) */
	uint32_t have_count;
	uint64_t have_bytes;
	struct pbuf **pbufs;	  /* per piece, NULL when not in memory */
	struct pbuf *spare;	  /* freed buffers kept for the next pieces */
	const struct pbuf *fresh; /* the piece being announced to ops->verified, else NULL */
	unsigned nspare;
	uint64_t pbuf_bytes;
	uint64_t ahead_bytes; /* the part of pbuf_bytes started for deadlines */
	unsigned jobs;	      /* verify jobs in flight */

	struct peer *peers; /* live connections */
	struct peer *dead;  /* closed, freed by the reaper */
	struct candidate *cands;
	size_t ncands;
	struct blame *blame;

	uint64_t downloaded, uploaded, wasted;
	uint64_t rate_bytes, up_rate_bytes;
	double down_rate, up_rate;
	uint64_t last_choke_ms;
	struct ratelimit down_limit, up_limit;
	struct loop_timer *rate_timer; /* wakes paused readers and uploads */
	uint32_t failed_pieces;
	uint32_t redownloaded;
	uint64_t disk_pause_until; /* after a failed write (ops->disk_error): no requests */
	unsigned disk_pauses;	   /* failed writes in a row, each pause twice as long */
	int write_err;		   /* -errno of the last failed write, 0 once one works */
	uint32_t have_at_start;
	uint8_t *verified_at_start; /* to count re-downloads of recorded pieces */

	int checking, started, complete, stopping, resume_dirty, check_failed;
	volatile int cancel_check; /* read by the recheck threads */
	uint64_t last_save_ms;
	uint64_t resume_uploaded, resume_downloaded;
};

static const struct peer_ops peer_ops;

static void tlog(struct torrent *t, enum torrent_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tlog(struct torrent *t, enum torrent_log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (t->ops->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t->ops->log(t->arg, lvl, msg);
}

static int
bit_get(const uint8_t *bits, uint32_t i)
{
	return (bits[i >> 3] >> (7 - (i & 7))) & 1;
}

static void
bit_set(uint8_t *bits, uint32_t i)
{
	bits[i >> 3] |= (uint8_t)(0x80 >> (i & 7));
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;

		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
	}
	return 0;
}

/* ---- piece buffers ---------------------------------------------------- */

static uint32_t
pbuf_blocks(uint32_t len)
{
	return (len + PICKER_BLOCK_SIZE - 1) / PICKER_BLOCK_SIZE;
}

static struct pbuf *
pbuf_get(struct torrent *t, uint32_t piece, int create)
{
	struct pbuf *pb = t->pbufs[piece];
	uint32_t len;

	if (pb != NULL || !create)
		return pb;
	len = metainfo_piece_size(t->mi, piece);
	if (t->spare != NULL) {
		/* Reuse a buffer: fresh memory costs page faults on every piece. */
		pb = t->spare;
		t->spare = pb->next_spare;
		t->nspare--;
		pb->next_spare = NULL;
		pb->ncontrib = 0;
		pb->verifying = 0;
	} else {
		if ((pb = calloc(1, sizeof *pb)) == NULL)
			return NULL;
		/* Page-aligned, so storage can write whole pieces with O_DIRECT. */
		if (posix_memalign((void **)&pb->data, 4096, t->mi->piece_length) != 0) {
			free(pb);
			return NULL;
		}
		if ((pb->owner = malloc(pbuf_blocks(t->mi->piece_length))) == NULL) {
			free(pb->data);
			free(pb);
			return NULL;
		}
	}
	memset(pb->owner, BLAME_UNKNOWN, pbuf_blocks(len));
	pb->piece = piece;
	pb->len = len;
	pb->ahead = bit_get(t->deadline_bits, piece);
	t->pbufs[piece] = pb;
	t->pbuf_bytes += len;
	if (pb->ahead)
		t->ahead_bytes += len;
	return pb;
}

static void
pbuf_free(struct torrent *t, struct pbuf *pb)
{
	if (pb == NULL)
		return;
	if (t->pbufs[pb->piece] == pb)
		t->pbufs[pb->piece] = NULL;
	t->pbuf_bytes -= pb->len;
	if (pb->ahead)
		t->ahead_bytes -= pb->len;
	if (t->nspare < MAX_SPARE_PBUFS && !t->stopping) {
		pb->next_spare = t->spare;
		t->spare = pb;
		t->nspare++;
		return;
	}
	free(pb->data);
	free(pb->owner);
	free(pb);
}

/*
 * Called for every block received, the last copy of a block being the one
 * kept: notes its sender for blame. p->ip is made once per peer, not here.
 */
static void
pbuf_contrib(struct pbuf *pb, const struct peer *p, uint32_t block)
{
	unsigned i;

	for (i = 0; i < pb->ncontrib; i++)
		if (strcmp(pb->contrib[i], p->ip) == 0)
			break;
	if (i == pb->ncontrib && pb->ncontrib < MAX_CONTRIB)
		memcpy(pb->contrib[pb->ncontrib++], p->ip, sizeof p->ip);
	pb->owner[block] = i < pb->ncontrib ? (uint8_t)i : BLAME_UNKNOWN;
}

/* ---- requests ---------------------------------------------------------- */

static int
peer_has_req(const struct peer *p, uint32_t piece, uint32_t block)
{
	unsigned i;

	for (i = 0; i < p->nreqs; i++)
		if (p->reqs[i].piece == piece && p->reqs[i].block == block)
			return 1;
	return 0;
}

static void
peer_drop_req(struct peer *p, unsigned i)
{
	p->reqs[i] = p->reqs[--p->nreqs];
}

/* Gives every outstanding request of p back to the picker. */
static void
return_requests(struct torrent *t, struct peer *p, int timed_out)
{
	unsigned i;

	for (i = 0; i < p->nreqs; i++) {
		uint32_t piece = p->reqs[i].piece, block = p->reqs[i].block;

		if (timed_out) {
			/* Tell a slow peer; its late blocks are then expected, not unsolicited. */
			uint32_t begin = block * PICKER_BLOCK_SIZE;
			uint32_t len = metainfo_piece_size(t->mi, piece) - begin;

			picker_block_timed_out(t->picker, piece, block);
			if (p->state == PEER_ACTIVE)
				peer_send_cancel(p, piece, begin,
						 len < PICKER_BLOCK_SIZE ? len : PICKER_BLOCK_SIZE);
		} else {
			picker_block_cancelled(t->picker, piece, block);
		}
	}
	/* Blocks already on the wire may still arrive after a choke or a cancel. */
	p->cancelled += p->nreqs;
	p->nreqs = 0;
}

struct skip_ctx {
	struct torrent *t;
	struct peer *p;
	int endgame;
};

/*
 * Over budget, only pieces that already have a buffer go on, except that a
 * stalled read is worse than a few MiB over it. Readahead has an allowance
 * of its own, so background pieces holding the budget cannot keep a
 * reader's window from starting, and a ceiling: a fast sequential reader's
 * window (up to 256 MiB) once put 230 MiB of half-received pieces in
 * memory (cp of 1 GiB from a fresh mount, three local seeders), for a few
 * per cent of speed.
 */
int
torrent_budget_allows(uint64_t held, uint64_t ahead, unsigned prio, int deadline)
{
	if (held < TORRENT_PIECE_BUDGET || prio >= PICKER_PRIO_MAX)
		return 1;
	return deadline && ahead < TORRENT_AHEAD_BUDGET;
}

static int
skip_block(void *arg, uint32_t piece, uint32_t block)
{
	struct skip_ctx *c = arg;

	if (c->t->pbufs[piece] == NULL &&
	    !torrent_budget_allows(c->t->pbuf_bytes, c->t->ahead_bytes,
				   picker_priority(c->t->picker, piece),
				   bit_get(c->t->deadline_bits, piece)))
		return PICKER_SKIP_PIECE;
	if (c->t->pbufs[piece] != NULL && c->t->pbufs[piece]->verifying)
		return PICKER_SKIP_PIECE;
	/*
	 * Duplicates are offered in endgame and for pieces with a deadline (a
	 * late block is asked of another peer): never twice of the same peer.
	 */
	if ((c->endgame || bit_get(c->t->deadline_bits, piece)) && peer_has_req(c->p, piece, block))
		return PICKER_SKIP_BLOCK;
	return 0;
}

/*
 * How many requests to keep in flight to p. A peer serves requests in the
 * order they came, so a block asked for a reader waits behind everything
 * queued before it: with REQUEST_QUEUE_SECONDS of the peer's rate queued,
 * a piece a player needs next could take seconds. While some piece with a
 * deadline is missing, the queue is held to what is on the way plus
 * STREAM_QUEUE_SECONDS of the rate waiting at the peer (never under
 * MIN_QUEUE). Playback at 8 MB/s from three seeders capped at 8 MB/s each,
 * 10 runs of 6 s from a fresh mount: 3 reads more than 0.5 s late after
 * the first second with 2 s queues, none with this.
 *
 * What is on the way is the rate times the round trip, estimated as the
 * shortest time a request of p took to be answered (the first ones after
 * an unchoke wait behind nothing). Without it, a link whose round trip is
 * longer than STREAM_QUEUE_SECONDS could never fill: the rate falls to
 * what the queue allows, the queue follows the rate, and both shrink to
 * MIN_QUEUE. Through a proxy holding data 150 ms each way, 20 s of
 * playback stalled 21-22 times that way.
 *
 * The rate is a running average of whole seconds, so on a new peer far
 * away it climbs slowly, and so does the queue: 2-4 stalls in the first
 * seconds through that proxy. The probe queue (picker_queue_probe()) grows
 * by one for each block answered without backlog, doubling every round
 * trip until answers start to wait, and the queue is never below it: 0-1
 * stalls after the first second in 3 alternated runs of 12 s, against 2-4.
 */
static unsigned
queue_target(const struct torrent *t, const struct peer *p)
{
	double rtt = p->min_wait_ms > 0 ? (double)(p->min_wait_ms - 1) / 1000.0 : 0.0;
	unsigned q;

	/* Below MIN_QUEUE already (a snubbed peer gets 1): nothing to shorten. */
	if (picker_deadline_count(t->picker) == 0 || p->max_reqs <= MIN_QUEUE)
		return p->max_reqs;
	q = picker_queue_depth(p->down_rate, rtt, STREAM_QUEUE_SECONDS, MIN_QUEUE, p->max_reqs);
	if (p->probe_reqs > q)
		q = p->probe_reqs < p->max_reqs ? p->probe_reqs : p->max_reqs;
	return q;
}

static void
fill_requests(struct torrent *t, struct peer *p)
{
	struct picker_block blocks[64];
	struct skip_ctx ctx = {t, p, 0};
	struct picker_peer pp = {p->have, skip_block, &ctx, 0};
	unsigned target = queue_target(t, p);
	int n, i;

	if (p->state != PEER_ACTIVE || p->peer_choking || !p->am_interested || t->stopping ||
	    t->cfg.seed_only || loop_now_ms(t->loop) < t->disk_pause_until)
		return;
	while (p->nreqs < target && p->nreqs < PEER_MAX_REQUESTS) {
		unsigned want = target - p->nreqs, sent = 0;

		ctx.endgame = picker_in_endgame(t->picker);
		pp.partials_only = t->pbuf_bytes >= TORRENT_PIECE_BUDGET;
		if (want > 64)
			want = 64;
		n = picker_pick_peer(t->picker, &pp, want, blocks, loop_now_ms(t->loop));
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			struct picker_block *b = &blocks[i];

			if (peer_has_req(p, b->piece, b->block))
				continue;
			if (pbuf_get(t, b->piece, 1) == NULL)
				return;
			if (picker_block_requested(t->picker, b->piece, b->block) < 0)
				continue;
			if (t->verified_at_start != NULL && bit_get(t->verified_at_start, b->piece))
				t->redownloaded++;
			p->reqs[p->nreqs].piece = b->piece;
			p->reqs[p->nreqs].block = b->block;
			p->reqs[p->nreqs].sent_ms = loop_now_ms(t->loop);
			p->nreqs++;
			peer_send_request(p, b->piece, b->begin, b->length);
			sent++;
			if (p->state == PEER_CLOSED)
				return;
		}
		/* A pick with nothing new in it would come back forever. */
		if ((unsigned)n < want || sent == 0)
			return;
	}
}

/* Whether p has a piece we still want. */
static int
wants_from(struct torrent *t, struct peer *p)
{
	uint32_t i, n = t->mi->piece_count;

	if (t->complete || t->cfg.seed_only)
		return 0;
	for (i = 0; i < (n + 7) / 8; i++) {
		if (p->have[i] & (uint8_t)~t->have[i]) {
			uint32_t k;

			for (k = i * 8; k < i * 8 + 8 && k < n; k++)
				if (bit_get(p->have, k) && !bit_get(t->have, k) &&
				    picker_priority(t->picker, k) > 0)
					return 1;
		}
	}
	return 0;
}

static void
update_interest(struct torrent *t, struct peer *p)
{
	int want = wants_from(t, p);

	if (want && !p->am_interested) {
		p->am_interested = 1;
		peer_send_state(p, WIRE_INTERESTED);
	} else if (!want && p->am_interested) {
		p->am_interested = 0;
		peer_send_state(p, WIRE_NOT_INTERESTED);
	}
}

/* ---- verification (worker) --------------------------------------------- */

static void
verify_work(void *arg)
{
	struct verify_job *j = arg;
	const struct metainfo *mi = j->t->mi;
	uint8_t h[SHA1_LEN];

	sha1_digest(j->pb->data, j->pb->len, h);
	j->ok = memcmp(h, mi->piece_hashes + (size_t)j->pb->piece * SHA1_LEN, SHA1_LEN) == 0;
	if (j->ok)
		j->wrote = storage_write(j->t->st, (uint64_t)j->pb->piece * mi->piece_length,
					 j->pb->data, j->pb->len);
	/* Rare (a failure, or the good data of a piece that failed before): worth a pass. */
	if ((!j->ok || j->want_blocks) &&
	    (j->digests = malloc((size_t)pbuf_blocks(j->pb->len) * BLAME_DIGEST_LEN)) != NULL) {
		for (uint32_t b = 0, off = 0; off < j->pb->len; b++, off += PICKER_BLOCK_SIZE)
			blame_block_digest(j->pb->data + off,
					   j->pb->len - off < PICKER_BLOCK_SIZE ? j->pb->len - off
										: PICKER_BLOCK_SIZE,
					   j->digests + (size_t)b * BLAME_DIGEST_LEN);
	}
}

/* What blame needs to know of a piece after verification. */
static struct blame_piece
blame_of(const struct pbuf *pb, const uint8_t *digests)
{
	struct blame_piece bp = {
	    .piece = pb->piece,
	    .nsources = pb->ncontrib,
	    .sources = pb->contrib,
	    .nblocks = pbuf_blocks(pb->len),
	    .owner = pb->owner,
	    .digests = digests,
	};

	return bp;
}

static void check_complete(struct torrent *t);

static void
piece_verified(struct torrent *t, uint32_t piece)
{
	struct peer *p, *next;

	if (bit_get(t->have, piece))
		return;
	bit_set(t->have, piece);
	t->deadline_bits[piece >> 3] &= (uint8_t) ~(0x80 >> (piece & 7));
	t->have_count++;
	t->have_bytes += metainfo_piece_size(t->mi, piece);
	t->resume_dirty = 1;
	picker_set_have(t->picker, piece);
	for (p = t->peers; p != NULL; p = next) {
		next = p->next; /* a full queue closes p */
		if (p->state == PEER_ACTIVE)
			peer_send_have(p, piece);
	}
	if (t->ops->verified != NULL)
		t->ops->verified(t->arg, piece);
}

uint64_t
torrent_disk_pause_ms(unsigned failures)
{
	uint64_t pause = TORRENT_DISK_PAUSE_MS;
	unsigned i;

	for (i = 0; i < failures && pause < TORRENT_DISK_PAUSE_MAX; i++)
		pause *= 2;
	return pause < TORRENT_DISK_PAUSE_MAX ? pause : TORRENT_DISK_PAUSE_MAX;
}

/*
 * An address was just banned: the pieces in memory it sent blocks of
 * would fail verification anyway (a liar sends bad blocks for many pieces
 * at once), so they start over now rather than once their other blocks
 * have come in. With the liar of tests/download.sh h on a 4 MiB torrent,
 * 10 runs: 5-8 pieces failed in all, against 6-26 before. Blocks still on
 * their way for them are counted as wasted when they arrive.
 */
static void
drop_tainted(struct torrent *t, const char *ip)
{
	uint32_t piece;
	unsigned i;

	for (piece = 0; piece < t->mi->piece_count; piece++) {
		struct pbuf *pb = t->pbufs[piece];

		if (pb == NULL || pb->verifying)
			continue;
		for (i = 0; i < pb->ncontrib && strcmp(pb->contrib[i], ip) != 0; i++)
			;
		if (i == pb->ncontrib)
			continue;
		pbuf_free(t, pb);
		picker_piece_failed(t->picker, piece);
	}
}

/* blame convicted an address: forget its data and hang up on it. */
static void
on_ban(void *arg, const char *ip, const char *why)
{
	struct torrent *t = arg;
	struct peer *p, *next;

	tlog(t, TORRENT_LOG_WARNING, "banning %s: %s", ip, why);
	drop_tainted(t, ip);
	for (p = t->peers; p != NULL; p = next) {
		next = p->next;
		if (strcmp(p->ip, ip) == 0)
			peer_close(p, "sent data that failed verification");
	}
}

int
torrent_write_error(const struct torrent *t, int *paused)
{
	*paused = t->write_err != 0 && loop_now_ms(t->loop) < t->disk_pause_until;
	return t->write_err;
}

/*
 * A write failed and the owner wants to carry on (ops->disk_error): no
 * requests until the pause ends. Pieces already on their way may fail the
 * same way meanwhile; they are fetched again later, and do not lengthen
 * the pause or report again. The tick refills the peers once it is over.
 */
static void
disk_pause(struct torrent *t, int err, const char *msg)
{
	uint64_t now = loop_now_ms(t->loop), pause;

	t->write_err = err;
	if (t->stopping || now < t->disk_pause_until)
		return;
	pause = torrent_disk_pause_ms(t->disk_pauses);
	if (t->disk_pauses < UINT_MAX)
		t->disk_pauses++;
	t->disk_pause_until = now + pause;
	t->ops->disk_error(t->arg, err, pause, msg);
}

static void
verify_done(void *arg)
{
	struct verify_job *j = arg;
	struct torrent *t = j->t;
	struct pbuf *pb = j->pb;
	uint32_t piece = pb->piece;
	struct blame_piece bp = blame_of(pb, j->digests);

	t->jobs--;
	if (j->ok && j->wrote == 0) {
		int was_full = t->pbuf_bytes >= TORRENT_PIECE_BUDGET;

		t->disk_pauses = 0;
		t->write_err = 0;
		blame_passed(t->blame, &bp);

		/* Its data is still here: readers waiting for it can have it from memory. */
		t->fresh = pb;
		piece_verified(t, piece);
		t->fresh = NULL;
		pbuf_free(t, pb);
		check_complete(t);
		/* Budget freed: peers that were held back can get new pieces now. */
		if (was_full && !t->stopping)
			torrent_kick(t);
	} else if (j->ok) {
		char msg[160];

		snprintf(msg, sizeof msg, "cannot write piece %u: %s", piece, strerror(-j->wrote));
		pbuf_free(t, pb);
		picker_piece_failed(t->picker, piece);
		if (t->ops->disk_error != NULL)
			disk_pause(t, j->wrote, msg);
		else if (t->ops->fatal != NULL && !t->stopping)
			t->ops->fatal(t->arg, msg);
	} else {
		t->failed_pieces++;
		t->wasted += pb->len;
		tlog(t, TORRENT_LOG_WARNING, "piece %u failed verification", piece);
		/* Still marked verifying: on_ban()'s drop_tainted() leaves it alone. */
		blame_failed(t->blame, &bp);
		pbuf_free(t, pb);
		picker_piece_failed(t->picker, piece);
	}
	free(j->digests);
	free(j);
}

static void
start_verify(struct torrent *t, struct pbuf *pb)
{
	struct verify_job *j = t->pool != NULL ? calloc(1, sizeof *j) : NULL;

	if (j == NULL) {
		uint32_t piece = pb->piece;

		pbuf_free(t, pb);
		picker_piece_failed(t->picker, piece);
		return;
	}
	j->t = t;
	j->pb = pb;
	j->want_blocks = blame_wants(t->blame, pb->piece);
	pb->verifying = 1;
	t->jobs++;
	if (loop_pool_submit(t->pool, verify_work, verify_done, j) < 0) {
		uint32_t piece = pb->piece;

		t->jobs--;
		pbuf_free(t, pb);
		picker_piece_failed(t->picker, piece);
		free(j);
	}
}

/* ---- uploads ------------------------------------------------------------- */

/*
 * Serves queued requests while the peer's output queue is short: each block
 * is read with pread straight into the queue just before it is sent, so
 * memory holds at most UPLOAD_LOW_WATER plus one block per peer.
 */
static unsigned
pump_some(struct torrent *t, struct peer *p, unsigned max_blocks)
{
	unsigned sent = 0;

	while (sent < max_blocks && p->nureqs > 0 && p->state == PEER_ACTIVE && !p->am_choking &&
	       peer_queued(p) < UPLOAD_LOW_WATER) {
		struct peer_ureq r = p->ureqs[0];
		uint8_t *dst;
		int rc;

		if (t->up_limit.rate > 0) {
			ratelimit_refill(&t->up_limit, loop_now_ms(t->loop));
			if (t->up_limit.tokens < r.len) {
				if (!loop_timer_armed(t->rate_timer))
					loop_timer_start(t->rate_timer,
							 ratelimit_wait_ms(&t->up_limit, r.len));
				return sent;
			}
			ratelimit_take(&t->up_limit, r.len);
		}
		p->nureqs--;
		memmove(p->ureqs, p->ureqs + 1, p->nureqs * sizeof *p->ureqs);
		if ((dst = peer_queue_piece(p, r.piece, r.begin, r.len)) == NULL)
			return sent;
		rc = storage_read(t->st, (uint64_t)r.piece * t->mi->piece_length + r.begin, dst,
				  r.len);
		if (rc < 0) {
			peer_unqueue_piece(p, r.len);
			tlog(t, TORRENT_LOG_WARNING, "cannot read piece %u: %s", r.piece,
			     strerror(-rc));
			peer_close(p, "local read error");
			return sent;
		}
		p->uploaded += r.len;
		p->up_rate_bytes += r.len;
		t->uploaded += r.len;
		t->up_rate_bytes += r.len;
		sent++;
	}
	return sent;
}

static void
pump_uploads(struct torrent *t, struct peer *p)
{
	pump_some(t, p, UINT_MAX);
}

static void
on_request(struct torrent *t, struct peer *p, const struct wire_msg *m)
{
	uint32_t psize = metainfo_piece_size(t->mi, m->index);
	struct peer_ureq *r;

	/* BEP 3: requests from a choked peer are ignored. */
	if (p->am_choking)
		return;
	if (!bit_get(t->have, m->index) || wire_check_block(m->begin, m->length, psize) < 0) {
		if (++p->bad_reqs > MAX_BAD_REQUESTS)
			peer_close(p, "requests for pieces we do not have");
		return;
	}
	if (p->nureqs >= PEER_MAX_UPLOAD_QUEUE) {
		if (++p->dropped_reqs > MAX_DROPPED_REQUESTS)
			peer_close(p, "request flood");
		return;
	}
	r = &p->ureqs[p->nureqs++];
	r->piece = m->index;
	r->begin = m->begin;
	r->len = m->length;
	pump_uploads(t, p);
}

static void
on_cancel(struct peer *p, const struct wire_msg *m)
{
	unsigned i;

	for (i = 0; i < p->nureqs; i++) {
		if (p->ureqs[i].piece == m->index && p->ureqs[i].begin == m->begin &&
		    p->ureqs[i].len == m->length) {
			p->nureqs--;
			memmove(p->ureqs + i, p->ureqs + i + 1, (p->nureqs - i) * sizeof *p->ureqs);
			return;
		}
	}
}

static void
set_choke(struct torrent *t, struct peer *p, int choke)
{
	if (p->am_choking == choke)
		return;
	p->am_choking = choke;
	peer_send_state(p, choke ? WIRE_CHOKE : WIRE_UNCHOKE);
	if (choke)
		p->nureqs = 0; /* BEP 3: a choke discards pending requests */
	p->choke_changed_ms = loop_now_ms(t->loop);
}

static unsigned
count_unchoked(const struct torrent *t)
{
	const struct peer *p;
	unsigned n = 0;

	for (p = t->peers; p != NULL; p = p->next)
		n += p->state == PEER_ACTIVE && !p->am_choking;
	return n;
}

/* One choking round (every CHOKER_ROUND_MS): see choker.h for the policy. */
static void
rechoke(struct torrent *t)
{
	struct choker_peer *cp;
	struct peer *p, **ps;
	size_t n = 0, i, *out;
	int k, j;

	for (p = t->peers; p != NULL; p = p->next)
		n += p->state == PEER_ACTIVE;
	if (n == 0)
		return;
	cp = calloc(n, sizeof *cp);
	ps = calloc(n, sizeof *ps);
	out = calloc(choker_slots(t->choker) + 1, sizeof *out);
	if (cp == NULL || ps == NULL || out == NULL)
		goto out;
	i = 0;
	for (p = t->peers; p != NULL; p = p->next) {
		if (p->state != PEER_ACTIVE)
			continue;
		ps[i] = p;
		cp[i].id = p;
		cp[i].down_rate = (uint64_t)p->down_rate;
		cp[i].up_rate = (uint64_t)p->up_rate;
		cp[i].connected_ms = p->created_ms;
		cp[i].since_ms = p->choke_changed_ms ? p->choke_changed_ms : p->created_ms;
		cp[i].interested = p->peer_interested;
		cp[i].is_seed = p->have_count == t->mi->piece_count;
		cp[i].snubbed = p->snubbed;
		cp[i].unchoked = !p->am_choking;
		i++;
	}
	if ((k = choker_run(t->choker, cp, n, loop_now_ms(t->loop), t->complete, out)) < 0)
		goto out;
	/* Unchoke the chosen first, then choke the rest, so slots never sit empty. */
	for (i = 0; i < n; i++)
		ps[i]->optimistic = 0;
	for (j = 0; j < k; j++) {
		set_choke(t, ps[out[j]], 0);
		pump_uploads(t, ps[out[j]]);
		ps[out[j]]->optimistic = choker_optimistic(t->choker) == ps[out[j]];
		cp[out[j]].id = NULL; /* mark as kept */
	}
	for (i = 0; i < n; i++)
		if (cp[i].id != NULL && ps[i]->state == PEER_ACTIVE)
			set_choke(t, ps[i], 1);
out:
	free(cp);
	free(ps);
	free(out);
}

static void
on_writable(struct peer *p)
{
	pump_uploads(p->owner, p);
}

/* --max-down: peers read only what the bucket allows; the rest waits for the timer. */
static size_t
can_read(struct peer *p)
{
	struct torrent *t = p->owner;

	if (t->down_limit.rate == 0)
		return SIZE_MAX;
	ratelimit_refill(&t->down_limit, loop_now_ms(t->loop));
	if (t->down_limit.tokens == 0) {
		if (!loop_timer_armed(t->rate_timer))
			loop_timer_start(t->rate_timer,
					 ratelimit_wait_ms(&t->down_limit, PICKER_BLOCK_SIZE));
		return 0;
	}
	return (size_t)t->down_limit.tokens;
}

static void
did_read(struct peer *p, size_t n)
{
	struct torrent *t = p->owner;

	if (t->down_limit.rate > 0)
		ratelimit_take(&t->down_limit, n);
}

static void
on_rate_timer(struct loop_timer *tm, void *arg)
{
	struct torrent *t = arg;
	struct peer *p, *next;

	for (p = t->peers; p != NULL; p = next) {
		next = p->next;
		peer_resume_read(p);
	}
	/*
	 * Share the upload tokens: one block per peer per pass, so under
	 * --max-up the first peer in the list cannot take every token.
	 */
	for (;;) {
		unsigned progress = 0;

		for (p = t->peers; p != NULL; p = next) {
			next = p->next; /* pump_some may close p */
			if (p->state == PEER_ACTIVE)
				progress += pump_some(t, p, 1);
		}
		if (progress == 0)
			break;
	}
}

/* ---- messages ----------------------------------------------------------- */

static void
on_piece(struct torrent *t, struct peer *p, const struct wire_msg *m)
{
	uint32_t block = m->begin / PICKER_BLOCK_SIZE;
	uint32_t psize = metainfo_piece_size(t->mi, m->index);
	struct pbuf *pb;
	struct peer *o;
	unsigned i;
	int rc, found = 0;

	if (wire_check_block(m->begin, (uint32_t)m->data_len, psize) < 0 ||
	    m->begin % PICKER_BLOCK_SIZE != 0) {
		peer_close(p, "piece message with a bad offset or size");
		return;
	}
	for (i = 0; i < p->nreqs; i++) {
		if (p->reqs[i].piece == m->index && p->reqs[i].block == block) {
			uint64_t wait = loop_now_ms(t->loop) - p->reqs[i].sent_ms + 1;

			if (p->min_wait_ms > 0)
				p->probe_reqs =
				    picker_queue_probe(p->probe_reqs, wait - p->min_wait_ms,
						       STREAM_QUEUE_SECONDS, PEER_MAX_REQUESTS);
			if (p->min_wait_ms == 0 || wait < p->min_wait_ms) {
				p->min_wait_ms = wait;
				tlog(t, TORRENT_LOG_DEBUG, "%s: round trip at most %llu ms",
				     p->name, (unsigned long long)(wait - 1));
			}
			peer_drop_req(p, i);
			found = 1;
			break;
		}
	}
	p->downloaded += m->data_len;
	p->rate_bytes += m->data_len;
	p->last_piece_ms = loop_now_ms(t->loop);
	p->snubbed = 0;
	t->downloaded += m->data_len;
	t->rate_bytes += m->data_len;
	if (!found) {
		/*
		 * Blocks we cancelled (endgame, snub, choke) may still arrive: each
		 * cancel allows one. Beyond that the peer sends what nobody asked for.
		 */
		t->wasted += m->data_len;
		if (p->cancelled > 0)
			p->cancelled--;
		else if (++p->strikes > MAX_UNSOLICITED)
			peer_close(p, "too many unrequested blocks");
		return;
	}
	pb = t->pbufs[m->index];
	if (pb == NULL || pb->verifying || bit_get(t->have, m->index)) {
		t->wasted += m->data_len;
		fill_requests(t, p);
		return;
	}
	memcpy(pb->data + m->begin, m->data, m->data_len);
	pbuf_contrib(pb, p, block);
	rc = picker_block_received(t->picker, m->index, block);
	if (rc == PICKER_DUPLICATE)
		t->wasted += m->data_len;
	/* Endgame: others asked for this block too; tell them not to bother. */
	for (o = t->peers; o != NULL; o = o->next) {
		if (o == p || o->state != PEER_ACTIVE)
			continue;
		for (i = 0; i < o->nreqs; i++) {
			if (o->reqs[i].piece == m->index && o->reqs[i].block == block) {
				picker_block_cancelled(t->picker, m->index, block);
				peer_send_cancel(o, m->index, m->begin, (uint32_t)m->data_len);
				o->cancelled++;
				peer_drop_req(o, i);
				break;
			}
		}
	}
	if (rc == PICKER_COMPLETE)
		start_verify(t, pb);
	fill_requests(t, p);
}

static int
on_handshake(struct peer *p, const struct wire_handshake *hs)
{
	struct torrent *t = p->owner;
	struct peer *o;

	if (memcmp(hs->peer_id, t->peer_id, 20) == 0)
		return -1; /* ourselves, through a tracker reply */
	for (o = t->peers; o != NULL; o = o->next)
		if (o != p && o->state == PEER_ACTIVE && memcmp(o->peer_id, hs->peer_id, 20) == 0)
			return -1; /* already connected to this peer */
	if (t->have_count > 0)
		peer_send_bitfield(p, t->have);
	tlog(t, TORRENT_LOG_DEBUG, "%s: connected (%s)", p->name,
	     p->incoming ? "incoming" : "outgoing");
	return 0;
}

static void
on_message(struct peer *p, const struct wire_msg *m)
{
	struct torrent *t = p->owner;
	uint32_t i;

	switch (m->type) {
	case WIRE_CHOKE:
		p->peer_choking = 1;
		return_requests(t, p, 0);
		break;
	case WIRE_UNCHOKE:
		p->peer_choking = 0;
		fill_requests(t, p);
		break;
	case WIRE_INTERESTED:
		p->peer_interested = 1;
		/* A free upload slot should not wait for the next round. */
		if (count_unchoked(t) < choker_slots(t->choker) + 1)
			rechoke(t);
		break;
	case WIRE_NOT_INTERESTED:
		p->peer_interested = 0;
		break;
	case WIRE_HAVE:
		if (!peer_has(p, m->index)) {
			bit_set(p->have, m->index);
			p->have_count++;
			picker_peer_have(t->picker, m->index);
			if (!p->am_interested && !bit_get(t->have, m->index) &&
			    picker_priority(t->picker, m->index) > 0 && !t->cfg.seed_only) {
				p->am_interested = 1;
				peer_send_state(p, WIRE_INTERESTED);
			}
			fill_requests(t, p);
		}
		break;
	case WIRE_BITFIELD:
		/*
		 * BEP 3 sends it once, first; aria2 sends a fresh one instead of
		 * many HAVEs. Taking the newest as the whole truth is harmless.
		 */
		if (p->have_count > 0) {
			picker_peer_gone(t->picker, p->have);
			p->have_count = 0;
		}
		memcpy(p->have, m->data, m->data_len);
		for (i = 0; i < t->mi->piece_count; i++)
			p->have_count += bit_get(p->have, i);
		picker_peer_bitfield(t->picker, p->have);
		update_interest(t, p);
		break;
	case WIRE_REQUEST:
		on_request(t, p, m);
		break;
	case WIRE_CANCEL:
		on_cancel(p, m);
		break;
	case WIRE_PORT:
		break;
	case WIRE_PIECE:
		on_piece(t, p, m);
		break;
	default:
		break;
	}
}

static void
reap(struct loop_timer *tm, void *arg)
{
	struct torrent *t = arg;

	while (t->dead != NULL) {
		struct peer *p = t->dead;

		t->dead = p->next;
		peer_free(p);
	}
}

static struct candidate *
cand_of(struct torrent *t, const struct peer *p)
{
	size_t i;

	for (i = 0; i < t->ncands; i++)
		if (t->cands[i].peer == p)
			return &t->cands[i];
	return NULL;
}

static void
on_closed(struct peer *p)
{
	struct torrent *t = p->owner;
	struct peer **pp;
	struct candidate *c = cand_of(t, p);

	return_requests(t, p, 0);
	if (p->have_count > 0)
		picker_peer_gone(t->picker, p->have);
	memset(p->have, 0, (t->mi->piece_count + 7) / 8);
	p->have_count = 0;
	for (pp = &t->peers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (c != NULL) {
		c->peer = NULL;
		if (c->state == CAND_CONNECTED)
			c->state = CAND_IDLE;
		c->failures++;
		/* Back off: 5 s, 10 s, 20 s, ... up to about 10 min. */
		c->retry_ms = loop_now_ms(t->loop) +
			      (uint64_t)5000 * (1u << (c->failures < 8 ? c->failures - 1 : 7));
	}
	tlog(t, TORRENT_LOG_DEBUG, "%s: closed: %s", p->name, p->close_reason);
	p->next = t->dead;
	t->dead = p;
	loop_timer_start(t->reaper, 0);
}

static const struct peer_ops peer_ops = {
    .handshake = on_handshake,
    .message = on_message,
    .writable = on_writable,
    .can_read = can_read,
    .did_read = did_read,
    .closed = on_closed,
};

/* ---- connections --------------------------------------------------------- */

static unsigned
count_active(const struct torrent *t, unsigned *connecting)
{
	const struct peer *p;
	unsigned n = 0, c = 0;

	for (p = t->peers; p != NULL; p = p->next) {
		if (p->state == PEER_ACTIVE)
			n++;
		else if (p->state == PEER_CONNECTING || p->state == PEER_HANDSHAKE)
			c++;
	}
	if (connecting != NULL)
		*connecting = c;
	return n;
}

/*
 * When --max-peers is reached, a peer that dials in still gets a place if
 * one we hold is of no use to either side: connected for SWAP_AFTER_MS
 * (time enough to trade bitfields and interest) and neither interested in
 * the other, so no data can flow. The one that last sent us a block
 * longest ago goes. NULL when every peer is worth keeping.
 */
static struct peer *
useless_peer(const struct torrent *t, uint64_t now)
{
	struct peer *p, *worst = NULL;

	for (p = t->peers; p != NULL; p = p->next) {
		if (p->state != PEER_ACTIVE || p->am_interested || p->peer_interested ||
		    now - p->created_ms < SWAP_AFTER_MS)
			continue;
		if (worst == NULL || p->last_piece_ms < worst->last_piece_ms)
			worst = p;
	}
	return worst;
}

static void
connect_more(struct torrent *t)
{
	uint64_t now = loop_now_ms(t->loop);
	unsigned connecting, active = count_active(t, &connecting);
	size_t i;

	if (t->stopping || t->checking)
		return;
	for (i = 0;
	     i < t->ncands && active + connecting < t->cfg.max_peers && connecting < MAX_HALF_OPEN;
	     i++) {
		struct candidate *c = &t->cands[i];
		char ip[INET6_ADDRSTRLEN];
		struct peer *p;

		if (c->state != CAND_IDLE || c->retry_ms > now)
			continue;
		peer_addr_host((const struct sockaddr *)&c->addr, ip, sizeof ip);
		if (blame_banned(t->blame, ip)) {
			c->state = CAND_BANNED;
			continue;
		}
		p = peer_connect(t->loop, (struct sockaddr *)&c->addr, c->len,
				 (struct sockaddr *)&t->local, t->local_len, t->mi->info_hash,
				 t->peer_id, t->mi->piece_count, &peer_ops, t);
		if (p == NULL) {
			c->failures++;
			c->retry_ms = now + 60000;
			continue;
		}
		c->state = CAND_CONNECTED;
		c->peer = p;
		p->next = t->peers;
		t->peers = p;
		connecting++;
	}
}

void
torrent_add_peer(struct torrent *t, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss;
	struct candidate *n;
	size_t i;

	if (len > sizeof ss || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return;
	memset(&ss, 0, sizeof ss);
	memcpy(&ss, sa, len);
	for (i = 0; i < t->ncands; i++)
		if (same_addr(&t->cands[i].addr, &ss))
			return;
	if (t->ncands >= TORRENT_MAX_CANDIDATES)
		return;
	n = realloc(t->cands, (t->ncands + 1) * sizeof *n);
	if (n == NULL)
		return;
	t->cands = n;
	n = &t->cands[t->ncands++];
	memset(n, 0, sizeof *n);
	n->addr = ss;
	n->len = len;
	n->state = CAND_IDLE;
	if (t->started && !t->checking)
		connect_more(t);
}

static void
on_accept(struct loop_io *io, int fd, short revents, void *arg)
{
	struct torrent *t = arg;

	for (;;) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		char ip[INET6_ADDRSTRLEN];
		struct peer *p, *victim;
		unsigned active, pending;
		int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: stop accepting for a tick instead of
				 * spinning. */
				loop_io_set_events(io, 0);
				tlog(t, TORRENT_LOG_WARNING,
				     "out of file descriptors; pausing accept");
			}
			return;
		}
		peer_addr_host((const struct sockaddr *)&ss, ip, sizeof ip);
		/*
		 * --max-peers bounds every connection, either way, handshakes in
		 * progress included, as connect_more() counts them: counting
		 * finished handshakes only let in a whole crowd that connected
		 * at once.
		 */
		active = count_active(t, &pending);
		if (t->stopping || blame_banned(t->blame, ip)) {
			close(c);
			continue;
		}
		if (active + pending >= t->cfg.max_peers) {
			if ((victim = useless_peer(t, loop_now_ms(t->loop))) == NULL) {
				close(c);
				continue;
			}
			tlog(t, TORRENT_LOG_INFO,
			     "%s: of no use either way; its place goes to %s, who dialled in",
			     victim->name, ip);
			peer_close(victim, "its place went to %s", ip);
		}
		p = peer_accept(t->loop, c, (struct sockaddr *)&ss, len, t->mi->info_hash,
				t->peer_id, t->mi->piece_count, &peer_ops, t);
		if (p == NULL) {
			close(c);
			continue;
		}
		/* An incoming peer sends its handshake first; ours goes out in reply. */
		p->next = t->peers;
		t->peers = p;
	}
}

/* Opens one listening socket; port 0 takes the port chosen by an earlier one. */
static int
listen_on(struct torrent *t, int slot, const struct sockaddr *sa, socklen_t len, struct error *err)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char name[PEER_NAME_LEN];
	int fd, one = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, ERR_IO, ERROR_NO_OFFSET, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (sa->sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, sa, len) < 0 || listen(fd, 128) < 0) {
		int e = errno;

		close(fd);
		peer_addr_str(sa, name, sizeof name);
		return error_set(err, ERR_IO, ERROR_NO_OFFSET, "cannot listen on %s: %s", name,
				 strerror(e));
	}
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	t->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	t->listen_fd[slot] = fd;
	if ((t->listen_io[slot] = loop_io_add(t->loop, fd, POLLIN, on_accept, t)) == NULL)
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	return 0;
}

/*
 * Without --bind we listen on every IPv4 and IPv6 address (same port);
 * with one, on that address only.
 */
static int
start_listen(struct torrent *t, struct error *err)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	const char *a = t->cfg.bind_addr;
	int rc;

	memset(&sin, 0, sizeof sin);
	memset(&sin6, 0, sizeof sin6);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(t->cfg.port);
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(t->cfg.port);
	if (a != NULL && inet_pton(AF_INET, a, &sin.sin_addr) == 1)
		return listen_on(t, 0, (struct sockaddr *)&sin, sizeof sin, err);
	if (a != NULL && inet_pton(AF_INET6, a, &sin6.sin6_addr) == 1)
		return listen_on(t, 1, (struct sockaddr *)&sin6, sizeof sin6, err);
	if (a != NULL)
		return error_set(err, ERR_INVALID, ERROR_NO_OFFSET,
				 "bad listen address '%s' (expected an IPv4 or IPv6 address)", a);
	if ((rc = listen_on(t, 0, (struct sockaddr *)&sin, sizeof sin, err)) < 0)
		return rc;
	/* Same port for IPv6; a host without IPv6 just listens on IPv4. */
	sin6.sin6_port = htons(t->port);
	if (listen_on(t, 1, (struct sockaddr *)&sin6, sizeof sin6, NULL) < 0 &&
	    t->listen_fd[1] >= 0) {
		close(t->listen_fd[1]);
		t->listen_fd[1] = -1;
	}
	return 0;
}

/* ---- resume ---------------------------------------------------------------- */

static void
save_resume(struct torrent *t)
{
	struct resume_state rs;
	struct error err;

	if (t->st == NULL || t->checking || t->check_failed)
		return;
	if (resume_state_init(&rs, t->mi->info_hash, t->mi->piece_count, t->mi->nfiles) < 0)
		return;
	/*
	 * Every piece in t->have was written before it was set (verify_done), so
	 * file stats taken now describe at least that data. Saved on the loop
	 * thread: the file is small; storage_sync first so power loss cannot
	 * leave a resume file claiming data the disk lost.
	 */
	memcpy(rs.have, t->have, resume_have_len(t->mi->piece_count));
	rs.uploaded = t->resume_uploaded + t->uploaded;
	rs.downloaded = t->resume_downloaded + t->downloaded;
	storage_sync(t->st);
	resume_snapshot_files(&rs, t->st);
	if (resume_save(t->resume_path, &rs, &err) < 0)
		tlog(t, TORRENT_LOG_WARNING, "cannot save resume data: %s", err.msg);
	else
		t->resume_dirty = 0;
	t->last_save_ms = loop_now_ms(t->loop);
	resume_state_free(&rs);
}

/* ---- the tick ------------------------------------------------------------- */

static void
on_tick(struct loop_timer *tm, void *arg)
{
	struct torrent *t = arg;
	uint64_t now = loop_now_ms(t->loop);
	struct peer *p, *next;
	unsigned nactive;
	int i;

	t->down_rate = t->down_rate * 0.5 + (double)t->rate_bytes * 0.5;
	t->rate_bytes = 0;
	t->up_rate = t->up_rate * 0.5 + (double)t->up_rate_bytes * 0.5;
	t->up_rate_bytes = 0;
	for (i = 0; i < 2; i++)
		if (t->listen_io[i] != NULL && loop_io_events(t->listen_io[i]) == 0)
			loop_io_set_events(t->listen_io[i], POLLIN);
	nactive = count_active(t, NULL);
	if (nactive == 0)
		nactive = 1;
	for (p = t->peers; p != NULL; p = next) {
		next = p->next;
		if (p->state == PEER_CONNECTING && now - p->created_ms > CONNECT_TIMEOUT_MS) {
			peer_close(p, "connect timed out");
			continue;
		}
		if (p->state == PEER_HANDSHAKE && now - p->created_ms > HANDSHAKE_TIMEOUT_MS) {
			peer_close(p, "handshake timed out");
			continue;
		}
		if (p->state != PEER_ACTIVE)
			continue;
		if (now - p->last_recv_ms > IDLE_TIMEOUT_MS) {
			peer_close(p, "idle for too long");
			continue;
		}
		/* Pipeline depth follows the rate: about a second's worth in flight. */
		p->down_rate = p->down_rate * 0.5 + (double)p->rate_bytes * 0.5;
		p->rate_bytes = 0;
		p->up_rate = p->up_rate * 0.5 + (double)p->up_rate_bytes * 0.5;
		p->up_rate_bytes = 0;
		/* Two seeds have nothing to say to each other. */
		if (t->complete && p->have_count == t->mi->piece_count) {
			peer_close(p, "both seeds");
			continue;
		}
		{
			/*
			 * Bandwidth x delay: keep about REQUEST_QUEUE_SECONDS of this
			 * peer's rate in flight, but never more than a fair share of
			 * half the piece budget, or the budget, not the network,
			 * would decide which peers get work.
			 */
			double depth = p->down_rate * REQUEST_QUEUE_SECONDS / PICKER_BLOCK_SIZE;
			unsigned share = TORRENT_PIECE_BUDGET / PICKER_BLOCK_SIZE / 2 / nactive;

			if (depth > share)
				depth = share;
			p->max_reqs = depth < MIN_QUEUE		  ? MIN_QUEUE
				      : depth > PEER_MAX_REQUESTS ? PEER_MAX_REQUESTS
								  : (unsigned)depth;
		}
		/* Snubbed: requests out but nothing for a while; give them to others. */
		if (p->nreqs > 0 &&
		    now - (p->last_piece_ms ? p->last_piece_ms : p->reqs[0].sent_ms) > SNUB_MS) {
			if (!p->snubbed)
				tlog(t, TORRENT_LOG_DEBUG, "%s: snubbed", p->name);
			p->snubbed = 1;
			return_requests(t, p, 1);
			p->max_reqs = 1;
			p->last_piece_ms = now;
		}
		if (now - p->last_send_ms > KEEPALIVE_MS)
			peer_send_keepalive(p);
		if (p->state == PEER_ACTIVE)
			update_interest(t, p);
		if (p->state == PEER_ACTIVE)
			fill_requests(t, p);
	}
	if (now - t->last_choke_ms >= CHOKER_ROUND_MS) {
		t->last_choke_ms = now;
		rechoke(t);
	}
	connect_more(t);
	if (t->resume_dirty && now - t->last_save_ms >= RESUME_SAVE_MS)
		save_resume(t);
	loop_timer_start(t->tick, TICK_MS);
}

static void
check_complete(struct torrent *t)
{
	struct peer *p, *next;

	/* Complete means every piece, whatever the priorities (--on-demand skips some). */
	if (t->complete || t->have_count < t->mi->piece_count)
		return;
	t->complete = 1;
	save_resume(t);
	if (t->tracker != NULL)
		tracker_completed(t->tracker);
	/* We only download for now: peers that are seeds are of no more use. */
	for (p = t->peers; p != NULL; p = next) {
		next = p->next;
		if (p->state == PEER_ACTIVE)
			update_interest(t, p);
	}
	if (t->ops->complete != NULL)
		t->ops->complete(t->arg);
}

/* ---- tracker glue ---------------------------------------------------------- */

static void
trk_stats(void *arg, uint64_t *up, uint64_t *down, uint64_t *left)
{
	struct torrent *t = arg;

	*up = t->uploaded;
	*down = t->downloaded;
	*left = t->mi->total_length - t->have_bytes;
}

static void
trk_peers(void *arg, const struct announce_peer *peers, size_t n)
{
	struct torrent *t = arg;
	size_t i;

	for (i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len;

		memset(&ss, 0, sizeof ss);
		if (peers[i].family == AF_INET) {
			struct sockaddr_in *s = (void *)&ss;

			s->sin_family = AF_INET;
			memcpy(&s->sin_addr, peers[i].addr, 4);
			s->sin_port = htons(peers[i].port);
			len = sizeof *s;
			/* Our own announce comes back: same port on a local address. */
			if (peers[i].port == t->port &&
			    (peers[i].addr[0] == 127 || s->sin_addr.s_addr == 0))
				continue;
		} else {
			struct sockaddr_in6 *s = (void *)&ss;

			s->sin6_family = AF_INET6;
			memcpy(&s->sin6_addr, peers[i].addr, 16);
			s->sin6_port = htons(peers[i].port);
			len = sizeof *s;
		}
		torrent_add_peer(t, (struct sockaddr *)&ss, len);
	}
}

static void
trk_log(void *arg, enum tracker_log_level level, const char *msg)
{
	struct torrent *t = arg;

	tlog(t,
	     level == TRACKER_LOG_ERROR	    ? TORRENT_LOG_WARNING
	     : level == TRACKER_LOG_WARNING ? TORRENT_LOG_WARNING
					    : TORRENT_LOG_INFO,
	     "%s", msg);
}

static const struct tracker_ops trk_ops = {trk_stats, trk_peers, trk_log};

/* ---- start-up check ----------------------------------------------------------- */

static int
check_progress(void *arg, uint32_t done, uint32_t total)
{
	const struct torrent *t = arg;

	return t->cancel_check ? -1 : 0;
}

static void
check_work(void *arg)
{
	struct check_job *j = arg;
	struct torrent *t = j->t;
	struct resume_state rs;
	struct error err;

	if (resume_state_init(&rs, t->mi->info_hash, t->mi->piece_count, t->mi->nfiles) == 0) {
		if (resume_load(t->resume_path, &rs, &err) == 0 &&
		    resume_matches(&rs, t->st) == 1) {
			memcpy(j->have, rs.have, resume_have_len(t->mi->piece_count));
			t->resume_uploaded = rs.uploaded;
			t->resume_downloaded = rs.downloaded;
			j->trusted = 1;
			resume_state_free(&rs);
			return;
		}
		t->resume_uploaded = rs.uploaded;
		t->resume_downloaded = rs.downloaded;
		resume_state_free(&rs);
	}
	j->rc = storage_recheck(t->st, t->cfg.verify_threads, j->have, check_progress, t);
}

static void
check_done(void *arg)
{
	struct check_job *j = arg;
	struct torrent *t = j->t;
	struct tracker_config tc;
	uint32_t i;

	t->checking = 0;
	if (j->rc < 0) {
		/* Cancelled by torrent_stop(), or out of memory. */
		t->check_failed = 1;
		if (t->ops->fatal != NULL && !t->stopping)
			t->ops->fatal(t->arg, "checking existing data failed");
		goto out;
	}
	for (i = 0; i < t->mi->piece_count; i++)
		if (bit_get(j->have, i))
			piece_verified(t, i);
	t->verified_at_start = j->have;
	t->have_at_start = t->have_count;
	j->have = NULL;
	tlog(t, TORRENT_LOG_INFO, "%s: %u of %u pieces on disk",
	     j->trusted ? "resume data" : "checked", t->have_count, t->mi->piece_count);
	if (!j->trusted)
		save_resume(t);
	if (t->ops->checked != NULL)
		t->ops->checked(t->arg, t->have_count, t->mi->piece_count);
	if (t->stopping)
		goto out;
	check_complete(t);
	if (t->stopping) /* e.g. nothing left to download and not seeding */
		goto out;
	memset(&tc, 0, sizeof tc);
	tc.tiers = t->mi->tiers;
	tc.ntiers = t->mi->ntiers;
	memcpy(tc.info_hash, t->mi->info_hash, 20);
	memcpy(tc.peer_id, t->peer_id, 20);
	tc.port = t->port;
	tc.numwant = 80;
	tc.local = t->local;
	tc.local_len = t->local_len;
	if (t->mi->ntiers > 0) {
		t->tracker = tracker_new(t->loop, t->http, t->pool, &tc, &trk_ops, t);
		if (t->tracker != NULL)
			tracker_start(t->tracker);
	}
	connect_more(t);
out:
	free(j->have);
	free(j);
}

/* ---- public ----------------------------------------------------------------- */

struct torrent *
torrent_new(struct loop *loop, struct http *http, const struct metainfo *mi,
	    const struct torrent_config *cfg, const struct torrent_ops *ops, void *arg,
	    struct error *err)
{
	struct torrent *t = calloc(1, sizeof *t);
	char hex[41];
	size_t n;
	long ncpu;

	if (t == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		return NULL;
	}
	t->loop = loop;
	t->http = http;
	t->mi = mi;
	t->cfg = *cfg;
	t->ops = ops;
	t->arg = arg;
	t->listen_fd[0] = t->listen_fd[1] = -1;
	if (t->cfg.max_peers == 0)
		t->cfg.max_peers = 50;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (t->cfg.verify_threads == 0)
		t->cfg.verify_threads = ncpu < 1 ? 1 : ncpu > 4 ? 4 : (unsigned)ncpu;
	t->dir = strdup(cfg->dir);
	if (cfg->bind_addr != NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&t->local;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t->local;

		if (inet_pton(AF_INET, cfg->bind_addr, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			t->local_len = sizeof *sin;
		} else if (inet_pton(AF_INET6, cfg->bind_addr, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			t->local_len = sizeof *sin6;
		}
	}
	textenc_hex(mi->info_hash, 20, hex);
	if (cfg->resume_path != NULL) {
		t->resume_path = strdup(cfg->resume_path);
	} else if (t->dir != NULL) {
		n = strlen(cfg->dir) + 64;
		if ((t->resume_path = malloc(n)) != NULL)
			snprintf(t->resume_path, n, "%s/.pieces/%s.resume", cfg->dir, hex);
	}
	/* Azureus-style id: client and version, then random bytes. */
	memcpy(t->peer_id, "-PC0010-", 8);
	if (getrandom(t->peer_id + 8, 12, 0) != 12) {
		uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ loop_now_ms(loop);

		memcpy(t->peer_id + 8, &x, 8);
	}
	t->have = calloc(1, resume_have_len(mi->piece_count) + 1);
	t->deadline_bits = calloc(1, resume_have_len(mi->piece_count) + 1);
	t->pbufs = calloc(mi->piece_count, sizeof *t->pbufs);
	t->picker =
	    picker_new(mi->piece_count, mi->piece_length, mi->total_length,
		       ((uint64_t)t->peer_id[8] << 32) | t->peer_id[9] | (uint64_t)getpid());
	t->choker = choker_new(cfg->upload_slots ? cfg->upload_slots : CHOKER_DEFAULT_SLOTS,
			       (uint64_t)t->peer_id[10] << 8 | t->peer_id[11]);
	t->tick = loop_timer_new(loop, on_tick, t);
	t->rate_timer = loop_timer_new(loop, on_rate_timer, t);
	ratelimit_init(&t->down_limit, cfg->max_down, 0);
	ratelimit_init(&t->up_limit, cfg->max_up, 0);
	t->reaper = loop_timer_new(loop, reap, t);
	t->pool = loop_pool_new(loop, t->cfg.verify_threads);
	t->blame = blame_new(on_ban, t);
	if (t->blame == NULL || t->dir == NULL || t->resume_path == NULL || t->have == NULL ||
	    t->deadline_bits == NULL || t->pbufs == NULL || t->picker == NULL ||
	    t->choker == NULL || t->tick == NULL || t->rate_timer == NULL || t->reaper == NULL ||
	    t->pool == NULL) {
		error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
		torrent_free(t);
		return NULL;
	}
	/* Padding files are never downloaded on their own, but pieces carry them. */
	return t;
}

int
torrent_start(struct torrent *t, struct error *err)
{
	struct check_job *j;
	char *slash, *rdir;
	int rc;

	if ((rc = storage_open(&t->st, t->mi, t->dir, err)) < 0) {
		error_prefix(err, "%s", t->dir);
		return rc;
	}
	/* The resume file's folder (DIR/.pieces by default). */
	if ((rdir = strdup(t->resume_path)) != NULL) {
		if ((slash = strrchr(rdir, '/')) != NULL) {
			*slash = '\0';
			mkdir(rdir, 0755);
		}
		free(rdir);
	}
	if ((rc = start_listen(t, err)) < 0)
		return rc;
	if ((j = calloc(1, sizeof *j)) == NULL ||
	    (j->have = calloc(1, resume_have_len(t->mi->piece_count) + 1)) == NULL) {
		free(j);
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "out of memory");
	}
	j->t = t;
	t->checking = 1;
	t->started = 1;
	if (loop_pool_submit(t->pool, check_work, check_done, j) < 0) {
		free(j->have);
		free(j);
		return error_set(err, ERR_NOMEM, ERROR_NO_OFFSET, "cannot start the check");
	}
	loop_timer_start(t->tick, TICK_MS);
	return 0;
}

void
torrent_get_stats(const struct torrent *t, struct torrent_stats *s)
{
	memset(s, 0, sizeof *s);
	s->total = t->mi->total_length;
	s->have_bytes = t->have_bytes;
	s->downloaded = t->downloaded;
	s->uploaded = t->uploaded;
	s->wasted = t->wasted;
	s->down_rate = t->down_rate;
	s->up_rate = t->up_rate;
	s->have_pieces = t->have_count;
	s->piece_count = t->mi->piece_count;
	s->failed_pieces = t->failed_pieces;
	s->have_at_start = t->have_at_start;
	s->peers = count_active(t, &s->connecting);
	s->candidates = (unsigned)t->ncands;
	s->checking = t->checking;
	s->complete = t->complete;
	s->port = t->port;
}

uint32_t
torrent_redownloaded(const struct torrent *t)
{
	return t->redownloaded;
}

static void
finish_stop(void *arg)
{
	struct torrent *t = arg;

	/* Posted after the pool's results, so every verified piece is in t->have. */
	save_resume(t);
	if (t->ops->stopped != NULL)
		t->ops->stopped(t->arg);
}

static void
tracker_stopped(void *arg)
{
	struct torrent *t = arg;

	loop_post(t->loop, finish_stop, t);
}

void
torrent_stop(struct torrent *t)
{
	struct peer *p;
	int i;

	if (t->stopping)
		return;
	t->stopping = 1;
	loop_timer_stop(t->tick);
	loop_timer_stop(t->rate_timer);
	while ((p = t->peers) != NULL)
		peer_close(p, "shutting down");
	for (i = 0; i < 2; i++) {
		if (t->listen_io[i] != NULL) {
			loop_io_del(t->listen_io[i]);
			t->listen_io[i] = NULL;
		}
	}
	/*
	 * Finish queued verifications so their pieces get recorded; their done
	 * callbacks are posted to the loop, so anything posted after this runs
	 * after them. A running start-up check is told to give up.
	 */
	t->cancel_check = 1;
	if (t->pool != NULL) {
		loop_pool_free(t->pool);
		t->pool = NULL;
	}
	if (t->tracker != NULL)
		tracker_stop(t->tracker, 5000, tracker_stopped, t);
	else
		loop_post(t->loop, finish_stop, t);
}

void
torrent_free(struct torrent *t)
{
	uint32_t i;

	if (t == NULL)
		return;
	if (t->pool != NULL)
		loop_pool_free(t->pool);
	while (t->peers != NULL) {
		struct peer *p = t->peers;

		t->peers = p->next;
		peer_free(p);
	}
	while (t->dead != NULL) {
		struct peer *p = t->dead;

		t->dead = p->next;
		peer_free(p);
	}
	tracker_free(t->tracker);
	for (i = 0; i < 2; i++) {
		if (t->listen_io[i] != NULL)
			loop_io_del(t->listen_io[i]);
		if (t->listen_fd[i] >= 0)
			close(t->listen_fd[i]);
	}
	loop_timer_free(t->tick);
	loop_timer_free(t->rate_timer);
	loop_timer_free(t->reaper);
	if (t->pbufs != NULL)
		for (i = 0; i < t->mi->piece_count; i++)
			if (t->pbufs[i] != NULL)
				pbuf_free(t, t->pbufs[i]);
	free(t->pbufs);
	while (t->spare != NULL) {
		struct pbuf *pb = t->spare;

		t->spare = pb->next_spare;
		free(pb->data);
		free(pb->owner);
		free(pb);
	}
	picker_free(t->picker);
	choker_free(t->choker);
	storage_close(t->st);
	free(t->have);
	free(t->deadline_bits);
	free(t->verified_at_start);
	free(t->cands);
	blame_free(t->blame);
	free(t->dir);
	free(t->resume_path);
	free(t);
}

/* ---- streaming ------------------------------------------------------------ */

const struct metainfo *
torrent_metainfo(const struct torrent *t)
{
	return t->mi;
}

int
torrent_has_piece(const struct torrent *t, uint32_t piece)
{
	return piece < t->mi->piece_count && bit_get(t->have, piece);
}

int
torrent_has_range(const struct torrent *t, uint64_t offset, uint64_t len)
{
	uint64_t first, last, i;

	if (offset >= t->mi->total_length)
		return 1; /* nothing there: EOF */
	if (len > t->mi->total_length - offset)
		len = t->mi->total_length - offset;
	first = offset / t->mi->piece_length;
	last = len ? (offset + len - 1) / t->mi->piece_length : first;
	for (i = first; i <= last; i++)
		if (!bit_get(t->have, (uint32_t)i))
			return 0;
	return 1;
}

int
torrent_read_direct(struct torrent *t, uint64_t offset, void *buf, size_t len)
{
	if (t->st == NULL || !torrent_has_range(t, offset, len))
		return -EAGAIN;
	return storage_read_direct(t->st, offset, buf, len);
}

int
torrent_lend(struct torrent *t, uint64_t offset, uint64_t len, struct storage_loan *loan)
{
	if (t->st == NULL || !torrent_has_range(t, offset, len))
		return -EAGAIN;
	return storage_lend(t->st, offset, len, loan);
}

const uint8_t *
torrent_fresh_piece(const struct torrent *t, uint32_t piece, uint32_t *len)
{
	if (t->fresh == NULL || t->fresh->piece != piece)
		return NULL;
	*len = t->fresh->len;
	return t->fresh->data;
}

struct storage *
torrent_storage(struct torrent *t)
{
	return t->st;
}

void
torrent_give_back(struct torrent *t, struct storage_loan *loan)
{
	storage_give_back(t->st, loan);
}

void
torrent_set_priority(struct torrent *t, uint32_t piece, unsigned prio)
{
	if (piece >= t->mi->piece_count)
		return;
	/*
	 * A piece lowered to 0 (--on-demand: nobody reads there any more)
	 * while half received is finished at the lowest priority instead:
	 * left alone, its buffer would hold piece budget for ever, and enough
	 * abandoned readahead would keep new readers' windows from starting.
	 */
	if (prio == 0 && t->pbufs[piece] != NULL)
		prio = 1;
	picker_set_priority(t->picker, piece, prio);
}

unsigned
torrent_priority(const struct torrent *t, uint32_t piece)
{
	return picker_priority(t->picker, piece);
}

void
torrent_set_deadline(struct torrent *t, uint32_t piece, uint64_t deadline_ms)
{
	if (piece >= t->mi->piece_count || bit_get(t->have, piece))
		return;
	picker_set_deadline(t->picker, piece, deadline_ms);
	if (deadline_ms != 0)
		bit_set(t->deadline_bits, piece);
	else
		t->deadline_bits[piece >> 3] &= (uint8_t) ~(0x80 >> (piece & 7));
}

static int
faster_first(const void *a, const void *b)
{
	const struct peer *x = *(struct peer *const *)a, *y = *(struct peer *const *)b;

	return (x->down_rate < y->down_rate) - (x->down_rate > y->down_rate);
}

void
torrent_kick(struct torrent *t)
{
	struct peer *p, *list[256];
	size_t n = 0, i;

	if (t->stopping || t->checking)
		return;
	for (p = t->peers; p != NULL && n < 256; p = p->next) {
		if (p->state != PEER_ACTIVE)
			continue;
		update_interest(t, p);
		if (p->state == PEER_ACTIVE && !p->peer_choking)
			list[n++] = p;
	}
	/* Urgent blocks go to the fastest peers first. */
	qsort(list, n, sizeof *list, faster_first);
	for (i = 0; i < n; i++)
		if (list[i]->state == PEER_ACTIVE)
			fill_requests(t, list[i]);
}
