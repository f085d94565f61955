/*
 * peer: one BitTorrent peer connection — the socket, its input and output
 * buffers, the handshake and the message framing. It decodes messages and
 * hands them to its owner (the torrent) through a callback table; the
 * owner keeps the protocol decisions (what to request, when to choke).
 *
 * A connection moves CONNECTING -> HANDSHAKE -> ACTIVE -> CLOSED through
 * peer_set_state(), which is the one place that changes it. Once CLOSED
 * the socket is gone and no callback fires again; the owner frees the
 * struct later, never from inside one of its callbacks.
 */
#ifndef PIECES_PEER_H
#define PIECES_PEER_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "loop.h"
#include "wire.h"

enum peer_state {
	PEER_CONNECTING,
	PEER_HANDSHAKE,
	PEER_ACTIVE,
	PEER_CLOSED,
};

#define PEER_NAME_LEN	  64
#define PEER_MAX_REQUESTS 512 /* blocks we keep in flight to one peer at most */
#define PEER_OUT_MAX	  (4u << 20)

struct peer;

struct peer_ops {
	/* The remote handshake arrived; return 0 to go on, <0 to close. */
	int (*handshake)(struct peer *p, const struct wire_handshake *hs);
	/* One decoded message (the peer is ACTIVE). */
	void (*message)(struct peer *p, const struct wire_msg *m);
	/* The output queue drained below half; the owner may queue more (uploads). */
	void (*writable)(struct peer *p);
	/* The connection ended (called once, reason is static text or p->close_reason). */
	void (*closed)(struct peer *p);
	/*
	 * Optional download rate limiting: how many bytes may be read now (0
	 * pauses reading until peer_resume_read()), and how many were read.
	 */
	size_t (*can_read)(struct peer *p);
	void (*did_read)(struct peer *p, size_t n);
};

struct peer_req {
	uint32_t piece;
	uint32_t block;
	uint64_t sent_ms;
};

/* A block the peer asked us for, not sent yet. */
struct peer_ureq {
	uint32_t piece;
	uint32_t begin;
	uint32_t len;
};

#define PEER_MAX_UPLOAD_QUEUE 1024 /* requests from one peer we keep; more are dropped */

struct peer {
	/* owner's links */
	struct peer *next;
	void *owner;
	const struct peer_ops *ops;

	struct loop *loop;
	struct loop_io *io;
	int fd;
	enum peer_state state;
	int incoming;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char name[PEER_NAME_LEN];  /* "1.2.3.4:5678" for logs */
	char ip[INET6_ADDRSTRLEN]; /* the address alone, made once: blocks are credited to it */
	char close_reason[128];
	uint64_t created_ms;
	uint64_t last_recv_ms;
	uint64_t last_send_ms;

	/* handshake */
	uint8_t info_hash[WIRE_HASH_LEN];
	uint8_t my_peer_id[WIRE_PEER_ID_LEN];
	uint8_t peer_id[WIRE_PEER_ID_LEN];
	int handshake_sent;

	/* framing */
	struct wire_limits limits;
	uint32_t piece_count;
	uint8_t *in;
	size_t in_len;
	size_t in_cap;
	struct buf out;

	/* protocol state, owned by the torrent */
	int am_choking, am_interested, peer_choking, peer_interested;
	uint8_t *have; /* the peer's bitfield, BEP 3 bit order */
	uint32_t have_count;
	struct peer_req *reqs; /* blocks requested and not yet received */
	unsigned nreqs;
	unsigned max_reqs;  /* current pipeline depth target */
	int strikes;	    /* unsolicited blocks */
	unsigned cancelled; /* requests cancelled that may still be answered */
	int snubbed;
	uint64_t downloaded, uploaded; /* payload bytes */
	uint64_t rate_bytes;	       /* payload received in the current second */
	double down_rate;	       /* bytes/s, smoothed */
	uint64_t last_piece_ms;	       /* when a block last arrived */
	uint64_t min_wait_ms;	       /* shortest request-to-block time seen + 1; 0: none yet */
	unsigned probe_reqs;	       /* queue grown while answers come without backlog */

	/* uploads: requests queued by the peer, served as the socket drains */
	struct peer_ureq *ureqs;
	unsigned nureqs;
	unsigned dropped_reqs;	/* requests dropped over the queue cap */
	unsigned bad_reqs;	/* requests for pieces we lack or bad ranges */
	uint64_t up_rate_bytes; /* payload sent in the current second */
	double up_rate;
	uint64_t choke_changed_ms; /* when we last choked or unchoked it */
	int optimistic;
	int read_paused;
};

/* Starts a non-blocking connect (NULL with errno on immediate failure), from
 * local when it is given (--bind) and of the same family; the handshake is
 * sent once connected. */
struct peer *peer_connect(struct loop *loop, const struct sockaddr *sa, socklen_t salen,
			  const struct sockaddr *local, socklen_t local_len,
			  const uint8_t info_hash[20], const uint8_t my_id[20],
			  uint32_t piece_count, const struct peer_ops *ops, void *owner);
/* Wraps an accepted socket; our handshake goes out after theirs is checked. */
struct peer *peer_accept(struct loop *loop, int fd, const struct sockaddr *sa, socklen_t salen,
			 const uint8_t info_hash[20], const uint8_t my_id[20], uint32_t piece_count,
			 const struct peer_ops *ops, void *owner);
/* Closes (idempotent); ops->closed runs once, synchronously. */
void peer_close(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void peer_free(struct peer *p);

/* Queue messages; they fail (and close the peer) only when the queue is full. */
void peer_send_state(struct peer *p, int id);
void peer_send_have(struct peer *p, uint32_t piece);
void peer_send_bitfield(struct peer *p, const uint8_t *bits);
void peer_send_request(struct peer *p, uint32_t piece, uint32_t begin, uint32_t len);
void peer_send_cancel(struct peer *p, uint32_t piece, uint32_t begin, uint32_t len);
void peer_send_keepalive(struct peer *p);
/* A piece message header followed by data (copied into the queue). */
void peer_send_piece(struct peer *p, uint32_t piece, uint32_t begin, const void *data,
		     uint32_t len);
/*
 * Queues a piece message for len bytes and returns where its block data
 * goes, so the caller can pread() straight into the output queue (no
 * intermediate copy). NULL when the queue is full (the peer is closed).
 */
uint8_t *peer_queue_piece(struct peer *p, uint32_t piece, uint32_t begin, uint32_t len);
/* Takes back the piece message just queued by peer_queue_piece(p, ..., len) (a failed read). */
void peer_unqueue_piece(struct peer *p, uint32_t len);
/* Reading was paused because can_read() said 0: start again. */
void peer_resume_read(struct peer *p);
/* Bytes queued and not yet written. */
size_t peer_queued(const struct peer *p);

static inline int
peer_has(const struct peer *p, uint32_t piece)
{
	return p->have != NULL && (p->have[piece >> 3] >> (7 - (piece & 7))) & 1;
}

/* The address alone ("1.2.3.4", "::1"), or "?". */
void peer_addr_host(const struct sockaddr *sa, char *out, size_t len);
/* Formats an address as "1.2.3.4:80" or "[::1]:80". */
void peer_addr_str(const struct sockaddr *sa, char *out, size_t len);

#endif
