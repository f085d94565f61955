/*
 * torrent: the download engine for one torrent. It owns the peers, the
 * picker, storage, resume data and the tracker client, all on one poll
 * loop; SHA-1 verification, disk writes and rechecks run on a small worker
 * pool and report back through the loop.
 *
 * Memory stays bounded whatever the torrent size: pieces being downloaded
 * are assembled in buffers whose total is capped (TORRENT_PIECE_BUDGET,
 * TORRENT_AHEAD_BUDGET for pieces with a deadline; see torrent_budget_allows),
 * each peer's input is one frame at most, output queues are capped.
 */
#ifndef PIECES_TORRENT_H
#define PIECES_TORRENT_H

#include <stdint.h>
#include <sys/socket.h>

#include "error.h"
#include "http.h"
#include "loop.h"
#include "metainfo.h"
#include "storage.h"

#define TORRENT_PIECE_BUDGET   (32u << 20) /* bytes of pieces held in memory */
#define TORRENT_AHEAD_BUDGET   (64u << 20) /* ... and this for pieces a reader needs soon */
#define TORRENT_DISK_PAUSE_MS  5000u	   /* first pause after a failed write */
#define TORRENT_DISK_PAUSE_MAX 300000u	   /* ... doubling up to this */
#define TORRENT_MAX_CANDIDATES 2000u

enum torrent_log_level {
	TORRENT_LOG_DEBUG,
	TORRENT_LOG_INFO,
	TORRENT_LOG_WARNING,
	TORRENT_LOG_ERROR,
};

struct torrent_config {
	const char *dir;	 /* download folder (created if missing) */
	const char *resume_path; /* NULL: DIR/.pieces/<info-hash>.resume */
	const char *bind_addr;	 /* local address for everything; NULL = all, IPv4 and IPv6 */
	uint16_t port;		 /* listen port; 0 = pick any */
	unsigned max_peers;	 /* connections, handshakes included; 0 = default (50) */
	unsigned verify_threads; /* 0 = number of CPUs (at most 4) */
	unsigned upload_slots;	 /* regular unchoke slots; 0 = default (4) */
	uint64_t max_down;	 /* bytes/s, 0 = unlimited */
	uint64_t max_up;	 /* bytes/s, 0 = unlimited */
	int seed_only;		 /* never download: serve what is on disk */
};

struct torrent_stats {
	uint64_t total;	     /* bytes in the torrent */
	uint64_t have_bytes; /* verified */
	uint64_t downloaded; /* payload received (including wasted) */
	uint64_t uploaded;
	uint64_t wasted;  /* bytes of pieces that failed verification, duplicates */
	double down_rate; /* bytes/s */
	double up_rate;
	uint32_t have_pieces;
	uint32_t piece_count;
	uint32_t failed_pieces;
	uint32_t have_at_start; /* pieces found on disk by the start-up check */
	unsigned peers;		/* connected (handshake done) */
	unsigned connecting;	/* connects in progress */
	unsigned candidates;	/* known addresses */
	int checking;		/* the start-up check is still running */
	int complete;
	uint16_t port; /* the port we listen on */
};

struct torrent_ops {
	void (*log)(void *arg, enum torrent_log_level level, const char *msg);
	/* The start-up check finished (how many pieces were found on disk). */
	void (*checked)(void *arg, uint32_t have, uint32_t total);
	/* Every wanted piece is verified and written. */
	void (*complete)(void *arg);
	/* torrent_stop() finished: trackers told, resume data saved. */
	void (*stopped)(void *arg);
	/* A fatal error (disk full, cannot listen); the torrent stops itself. */
	void (*fatal)(void *arg, const char *msg);
	/*
	 * Optional: a verified piece could not be written (err is -errno, e.g.
	 * -ENOSPC). Without this op that is fatal. With it, the torrent goes
	 * on seeding what it has but requests nothing more for pause_ms (5 s,
	 * doubling up to 5 min while writes keep failing, back to 5 s after one
	 * succeeds), then tries again: someone may have made room meanwhile.
	 */
	void (*disk_error)(void *arg, int err, uint64_t pause_ms, const char *msg);
	/*
	 * Optional: a piece was verified and written (the FUSE layer wakes
	 * parked reads). Its data is in memory until this returns: see
	 * torrent_fresh_piece().
	 */
	void (*verified)(void *arg, uint32_t piece);
};

struct torrent;

/* mi must outlive the torrent. */
struct torrent *torrent_new(struct loop *loop, struct http *http, const struct metainfo *mi,
			    const struct torrent_config *cfg, const struct torrent_ops *ops,
			    void *arg, struct error *err);
/* Opens storage, listens, checks what is on disk (on workers), then starts announcing. */
int torrent_start(struct torrent *t, struct error *err);
/* Adds a peer address to try (from --peer or a tracker). */
void torrent_add_peer(struct torrent *t, const struct sockaddr *sa, socklen_t len);
void torrent_get_stats(const struct torrent *t, struct torrent_stats *st);
/* Disconnects, announces `stopped` (bounded), saves resume data, then ops->stopped. */
void torrent_stop(struct torrent *t);
void torrent_free(struct torrent *t);
/* How many pieces were requested from peers although already recorded as verified. */
uint32_t torrent_redownloaded(const struct torrent *t);

/*
 * Streaming (used by the FUSE layer). Priorities are the picker's: 0 = do
 * not download, 1 = normal, up to 7; a deadline (absolute, on the loop's
 * clock) puts a piece ahead of everything else and makes blocks that are
 * late get requested again from another peer. Raising a priority or
 * setting a deadline sends requests to the fastest unchoked peers at once.
 */
const struct metainfo *torrent_metainfo(const struct torrent *t);
int torrent_has_piece(const struct torrent *t, uint32_t piece);
/* 1 when every piece under [offset, offset+len) is verified (len 0: the piece at offset). */
int torrent_has_range(const struct torrent *t, uint64_t offset, uint64_t len);
/*
 * Reads verified data on the calling thread, bypassing the page cache where
 * aligned (see storage_read_direct()). 0 or -errno; -EAGAIN if not all verified.
 */
int torrent_read_direct(struct torrent *t, uint64_t offset, void *buf, size_t len);
/* Lends the descriptor under verified data (see storage_lend()); -EAGAIN if not all verified. */
int torrent_lend(struct torrent *t, uint64_t offset, uint64_t len, struct storage_loan *loan);
void torrent_give_back(struct torrent *t, struct storage_loan *loan);
/*
 * The torrent's storage (NULL until it is opened), for reading verified
 * data on another thread: storage calls are thread-safe, verified data
 * never changes, and it stays open until torrent_free().
 */
struct storage *torrent_storage(struct torrent *t);
/*
 * Inside ops->verified for `piece`: the piece's data, *len bytes, just
 * written to disk and still in memory (so a waiting reader need not read
 * it back). NULL anywhere else.
 */
const uint8_t *torrent_fresh_piece(const struct torrent *t, uint32_t piece, uint32_t *len);
void torrent_set_priority(struct torrent *t, uint32_t piece, unsigned prio);
unsigned torrent_priority(const struct torrent *t, uint32_t piece);
void torrent_set_deadline(struct torrent *t, uint32_t piece, uint64_t deadline_ms);
/* Sends requests for newly raised pieces now rather than at the next tick. */
void torrent_kick(struct torrent *t);
/*
 * May a piece that has no assembly buffer yet get one, with `held` bytes
 * of pieces in memory already, `ahead` of them started for pieces with a
 * deadline? While `held` is within TORRENT_PIECE_BUDGET any piece may;
 * past it, a piece with a deadline (a streaming reader's readahead) while
 * `ahead` is within TORRENT_AHEAD_BUDGET, and a piece a read is blocked on
 * (the picker's top priority, PICKER_PRIO_MAX) always. Pure, so the rule
 * is tested on its own.
 */
int torrent_budget_allows(uint64_t held, uint64_t ahead, unsigned prio, int deadline);
/*
 * How long requests pause after a failed write when `failures` writes had
 * already failed in a row before it: TORRENT_DISK_PAUSE_MS, doubling each
 * time, at most TORRENT_DISK_PAUSE_MAX.
 */
uint64_t torrent_disk_pause_ms(unsigned failures);
/*
 * The last failed write's -errno until a write works again, else 0; with
 * *paused set while requests are paused after it (see ops->disk_error).
 */
int torrent_write_error(const struct torrent *t, int *paused);

#endif
