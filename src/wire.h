/*
 * wire: the BitTorrent peer protocol's framing (BEP 3), as pure functions.
 *
 * Nothing here touches a socket. The peer connection feeds whatever bytes it
 * has buffered to wire_frame_check(), which looks at the 4-byte length and
 * the 1-byte id as soon as they arrive and refuses a frame whose length is
 * wrong for its id before the body is buffered. Once the whole frame is in,
 * wire_decode() turns it into a struct wire_msg whose pointers refer to the
 * frame bytes (no copies). Encoders write into fixed-size caller arrays;
 * a piece message is encoded as its 13-byte header only, so the block can be
 * sent from its own buffer without copying.
 *
 * Protocol errors are reported as -ERR_SYNTAX (wrong length for the id),
 * -ERR_LIMIT (a size cap was exceeded) or -ERR_INVALID (well-formed but
 * wrong, e.g. an index past the last piece), with the byte offset in the
 * frame and a one-line reason in struct error. Any of them closes the peer.
 */
#ifndef PIECES_WIRE_H
#define PIECES_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define WIRE_PSTR	       "BitTorrent protocol"
#define WIRE_PSTR_LEN	       19
#define WIRE_HANDSHAKE_LEN     68
#define WIRE_HASH_LEN	       20
#define WIRE_PEER_ID_LEN       20
#define WIRE_BLOCK_SIZE	       16384u
#define WIRE_MAX_BLOCK_CAP     131072u	  /* no limit may be raised past 128 KiB */
#define WIRE_DEFAULT_UNKNOWN   65536u	  /* payload cap of ids we do not know */
#define WIRE_DEFAULT_MAX_FRAME (1u << 20) /* bitfields for up to ~8M pieces */

/* Reserved handshake bits, as a big-endian 64-bit value (byte 0 = bits 63..56). */
#define WIRE_RESERVED_DHT	((uint64_t)0x01)       /* BEP 5: byte 7, 0x01 */
#define WIRE_RESERVED_FAST	((uint64_t)0x04)       /* BEP 6: byte 7, 0x04 */
#define WIRE_RESERVED_EXTENSION ((uint64_t)0x10 << 16) /* BEP 10: byte 5, 0x10 */

/* Sizes of the encoded messages, including the 4-byte length prefix. */
#define WIRE_KEEPALIVE_LEN    4
#define WIRE_HEADER_LEN	      5 /* length + id: a state message, or a bitfield's header */
#define WIRE_HAVE_LEN	      9
#define WIRE_REQUEST_LEN      17 /* request and cancel */
#define WIRE_PIECE_HEADER_LEN 13 /* length, id, index, begin; the block follows */
#define WIRE_PORT_LEN	      7

/* Message ids on the wire; KEEPALIVE and UNKNOWN are decoder-only tags. */
enum wire_id {
	WIRE_CHOKE = 0,
	WIRE_UNCHOKE = 1,
	WIRE_INTERESTED = 2,
	WIRE_NOT_INTERESTED = 3,
	WIRE_HAVE = 4,
	WIRE_BITFIELD = 5,
	WIRE_REQUEST = 6,
	WIRE_PIECE = 7,
	WIRE_CANCEL = 8,
	WIRE_PORT = 9,
	WIRE_EXTENDED = 20, /* BEP 10; decoded as WIRE_UNKNOWN for now */
	WIRE_KEEPALIVE = 256,
	WIRE_UNKNOWN = 257,
};

/*
 * Caps applied to frames from a peer. A zero field means "use the default";
 * max_block and max_request are clamped to WIRE_MAX_BLOCK_CAP.
 */
struct wire_limits {
	uint32_t max_block;   /* piece message block length; default 16 KiB */
	uint32_t max_request; /* request/cancel length a peer may ask; default 16 KiB */
	uint32_t max_unknown; /* payload of an unknown id; default 64 KiB */
	uint32_t max_frame;   /* any frame longer than this (after the prefix); default 1 MiB */
};

/* piece_count 0 means "not known yet" (a magnet link before the metadata). */
#define WIRE_PIECES_UNKNOWN 0u

/* Return values of wire_frame_check() and wire_handshake_parse() besides errors. */
enum wire_status {
	WIRE_COMPLETE = 0, /* the whole frame (or handshake) is at the start of the input */
	WIRE_MORE = 1,	   /* valid so far; more bytes are needed */
};

struct wire_frame {
	size_t len;  /* bytes of the whole frame, prefix included; 0 until the header is in */
	size_t need; /* bytes still missing (0 when complete); read at least this many */
	int id;	     /* enum wire_id, or the raw id when unknown; -1 until known */
};

/*
 * Looks at the bytes at the start of a peer's input stream. Returns
 * WIRE_COMPLETE when a whole frame of f->len bytes is there, WIRE_MORE when
 * f->need more bytes are needed, or a negative ERR_* code (err set) when the
 * peer broke the protocol. The length is checked against the id as soon as
 * the id byte arrives: choke..not-interested 1, have 5, request/cancel 13,
 * port 3, piece 9 + 1..max_block, bitfield 1 + ceil(piece_count / 8) (any
 * length up to max_frame when the piece count is unknown), unknown ids at
 * most 1 + max_unknown. lim may be NULL for the defaults.
 */
int wire_frame_check(const uint8_t *p, size_t n, const struct wire_limits *lim,
		     uint32_t piece_count, struct wire_frame *f, struct error *err);

/*
 * A decoded frame. Pointers refer into the frame passed to wire_decode().
 * Which fields are meaningful depends on type:
 *   HAVE: index. REQUEST, CANCEL: index, begin, length.
 *   PIECE: index, begin, data/data_len (the block; length == data_len).
 *   BITFIELD: data/data_len (the bits, BEP 3 order: piece 0 is 0x80 of byte 0).
 *   PORT: port. UNKNOWN: id (raw), data/data_len (the payload after the id).
 */
struct wire_msg {
	int type; /* enum wire_id */
	uint8_t id;
	uint32_t index;
	uint32_t begin;
	uint32_t length;
	const uint8_t *data;
	size_t data_len;
	uint16_t port;
};

/*
 * Decodes exactly one complete frame of len bytes (as reported by
 * wire_frame_check). Besides the length checks it refuses: indices >=
 * piece_count (when known), non-zero spare bits at the end of a bitfield,
 * request/cancel lengths of 0 or above max_request. Whether begin+length
 * fits the piece is for the caller: see wire_check_block().
 * Returns 0 or a negative ERR_* code with err set.
 */
int wire_decode(const uint8_t *frame, size_t len, const struct wire_limits *lim,
		uint32_t piece_count, struct wire_msg *out, struct error *err);

/* 0 when a block [begin, begin+length) is non-empty and lies inside a piece of piece_size
 * bytes, else -ERR_INVALID. */
int wire_check_block(uint32_t begin, uint32_t length, uint32_t piece_size);

struct wire_handshake {
	uint64_t reserved; /* big-endian bits, see WIRE_RESERVED_* */
	uint8_t info_hash[WIRE_HASH_LEN];
	uint8_t peer_id[WIRE_PEER_ID_LEN];
};

/* Writes the 68-byte handshake. reserved: WIRE_RESERVED_* bits we advertise (0 for now). */
void wire_handshake_build(uint8_t out[WIRE_HANDSHAKE_LEN], uint64_t reserved,
			  const uint8_t info_hash[WIRE_HASH_LEN],
			  const uint8_t peer_id[WIRE_PEER_ID_LEN]);

/*
 * Parses a handshake at the start of p. Returns WIRE_COMPLETE with *hs filled
 * when 68 bytes are there (the frames follow them), WIRE_MORE with *need set
 * when the bytes so far are a valid prefix, or -ERR_SYNTAX when the protocol
 * string is wrong (checked byte by byte, so garbage is refused early).
 * Checking the info-hash against ours is the caller's job.
 */
int wire_handshake_parse(const uint8_t *p, size_t n, struct wire_handshake *hs, size_t *need,
			 struct error *err);

/*
 * Encoders. Each writes one message into out (sized by the matching
 * WIRE_*_LEN) and returns the bytes written, or 0 when the arguments cannot
 * be encoded (an id that is not a state message, a length that overflows).
 */
size_t wire_encode_keepalive(uint8_t out[WIRE_KEEPALIVE_LEN]);
/* choke, unchoke, interested, not interested. */
size_t wire_encode_state(uint8_t out[WIRE_HEADER_LEN], int id);
size_t wire_encode_have(uint8_t out[WIRE_HAVE_LEN], uint32_t index);
size_t wire_encode_request(uint8_t out[WIRE_REQUEST_LEN], uint32_t index, uint32_t begin,
			   uint32_t length);
size_t wire_encode_cancel(uint8_t out[WIRE_REQUEST_LEN], uint32_t index, uint32_t begin,
			  uint32_t length);
/* Header of a piece message carrying block_len bytes; send the block right after it. */
size_t wire_encode_piece_header(uint8_t out[WIRE_PIECE_HEADER_LEN], uint32_t index, uint32_t begin,
				uint32_t block_len);
size_t wire_encode_port(uint8_t out[WIRE_PORT_LEN], uint16_t port);
/* Length prefix and id of any message with payload_len bytes after the id (bitfield, BEP 10). */
size_t wire_encode_header(uint8_t out[WIRE_HEADER_LEN], uint8_t id, uint32_t payload_len);
/*
 * Writes a whole bitfield message for piece_count pieces into out[0..cap),
 * clearing the spare bits past the last piece. Returns its length, or
 * -ERR_LIMIT when cap is too small or piece_count is 0.
 */
int wire_encode_bitfield(uint8_t *out, size_t cap, const uint8_t *bits, uint32_t piece_count);

#endif
