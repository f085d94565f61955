/*
 * wire: peer protocol framing (BEP 3) without sockets.
 *
 * The peer module owns the socket and the input buffer; this file only
 * answers "is there a frame, how long, and is that length legal for its id"
 * and turns a complete frame into a struct wire_msg. Lengths are judged per
 * id from the 5-byte header alone, so a hostile peer cannot make us buffer a
 * megabyte for what should be a 13-byte request. Integers are big-endian.
 */
#include "wire.h"

#include <string.h>

static uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Fills in defaults for zero fields and clamps the block caps. */
static void
limits_resolve(const struct wire_limits *in, struct wire_limits *out)
{
	if (in != NULL)
		*out = *in;
	else
		memset(out, 0, sizeof *out);
	if (out->max_block == 0)
		out->max_block = WIRE_BLOCK_SIZE;
	if (out->max_block > WIRE_MAX_BLOCK_CAP)
		out->max_block = WIRE_MAX_BLOCK_CAP;
	if (out->max_request == 0)
		out->max_request = WIRE_BLOCK_SIZE;
	if (out->max_request > WIRE_MAX_BLOCK_CAP)
		out->max_request = WIRE_MAX_BLOCK_CAP;
	if (out->max_unknown == 0)
		out->max_unknown = WIRE_DEFAULT_UNKNOWN;
	if (out->max_frame == 0)
		out->max_frame = WIRE_DEFAULT_MAX_FRAME;
}

static const char *
id_name(int id)
{
	static const char *const names[] = {
	    "choke",	"unchoke", "interested", "not interested", "have",
	    "bitfield", "request", "piece",	 "cancel",	   "port",
	};

	if (id >= 0 && (size_t)id < sizeof names / sizeof names[0])
		return names[id];
	return "unknown";
}

/* Judges the length prefix `len` (id byte included) of a frame with this id. */
static int
check_length(uint32_t len, uint8_t id, const struct wire_limits *lim, uint32_t piece_count,
	     struct error *err)
{
	uint32_t want = 0;

	switch (id) {
	case WIRE_CHOKE:
	case WIRE_UNCHOKE:
	case WIRE_INTERESTED:
	case WIRE_NOT_INTERESTED:
		want = 1;
		break;
	case WIRE_HAVE:
		want = 5;
		break;
	case WIRE_REQUEST:
	case WIRE_CANCEL:
		want = 13;
		break;
	case WIRE_PORT:
		want = 3;
		break;
	case WIRE_PIECE:
		if (len <= 9)
			return error_set(err, ERR_SYNTAX, 0,
					 "piece message of %u bytes has no block", len);
		if (len - 9 > lim->max_block)
			return error_set(err, ERR_LIMIT, 0, "piece block of %u bytes exceeds %u",
					 len - 9, lim->max_block);
		return 0;
	case WIRE_BITFIELD:
		if (piece_count == WIRE_PIECES_UNKNOWN) {
			if (len < 2)
				return error_set(err, ERR_SYNTAX, 0, "empty bitfield");
			return 0;
		}
		/* 64-bit so a piece count near 2^32 cannot wrap. */
		if ((uint64_t)len != 1 + ((uint64_t)piece_count + 7) / 8)
			return error_set(err, ERR_SYNTAX, 0,
					 "bitfield of %u bytes for %u pieces (want %llu)", len - 1,
					 piece_count,
					 (unsigned long long)(((uint64_t)piece_count + 7) / 8));
		return 0;
	default:
		if (len - 1 > lim->max_unknown)
			return error_set(err, ERR_LIMIT, 0, "message id %u of %u bytes exceeds %u",
					 id, len - 1, lim->max_unknown);
		return 0;
	}
	if (len != want)
		return error_set(err, ERR_SYNTAX, 0, "%s message of length %u (want %u)",
				 id_name(id), len, want);
	return 0;
}

int
wire_frame_check(const uint8_t *p, size_t n, const struct wire_limits *lim, uint32_t piece_count,
		 struct wire_frame *f, struct error *err)
{
	struct wire_limits l;
	uint32_t len;
	int rc;

	f->len = 0;
	f->need = 0;
	f->id = -1;
	if (n < 4) {
		f->need = 4 - n;
		return WIRE_MORE;
	}
	len = get_be32(p);
	if (len == 0) {
		f->len = 4;
		f->id = WIRE_KEEPALIVE;
		return WIRE_COMPLETE;
	}
	limits_resolve(lim, &l);
	if (len > l.max_frame)
		return error_set(err, ERR_LIMIT, 0, "frame of %u bytes exceeds %u", len,
				 l.max_frame);
	if (n < 5) {
		f->need = 1;
		return WIRE_MORE;
	}
	rc = check_length(len, p[4], &l, piece_count, err);
	if (rc < 0)
		return rc;
	f->id = p[4];
	f->len = 4 + (size_t)len;
	if (n < f->len) {
		f->need = f->len - n;
		return WIRE_MORE;
	}
	return WIRE_COMPLETE;
}

/* Spare bits past piece_count in the last byte must be zero (BEP 3). */
static int
check_spare_bits(const uint8_t *bits, size_t nbytes, uint32_t piece_count, struct error *err)
{
	unsigned used = piece_count % 8;
	uint8_t mask;

	if (used == 0 || nbytes == 0)
		return 0;
	mask = (uint8_t)(0xffu >> used);
	if (bits[nbytes - 1] & mask)
		return error_set(err, ERR_INVALID, (long long)(5 + nbytes - 1),
				 "bitfield has bits set past piece %u", piece_count - 1);
	return 0;
}

static int
check_index(uint32_t index, uint32_t piece_count, const char *what, struct error *err)
{
	if (piece_count != WIRE_PIECES_UNKNOWN && index >= piece_count)
		return error_set(err, ERR_INVALID, 5, "%s for piece %u of %u", what, index,
				 piece_count);
	return 0;
}

int
wire_decode(const uint8_t *frame, size_t len, const struct wire_limits *lim, uint32_t piece_count,
	    struct wire_msg *out, struct error *err)
{
	struct wire_limits l;
	struct wire_frame f;
	int rc;

	memset(out, 0, sizeof *out);
	rc = wire_frame_check(frame, len, lim, piece_count, &f, err);
	if (rc < 0)
		return rc;
	if (rc == WIRE_MORE || f.len != len)
		return error_set(err, ERR_SYNTAX, 0, "frame is %zu bytes, its prefix says %zu", len,
				 f.len);
	if (f.id == WIRE_KEEPALIVE) {
		out->type = WIRE_KEEPALIVE;
		return 0;
	}
	limits_resolve(lim, &l);
	out->id = frame[4];
	out->type = frame[4];
	switch (out->id) {
	case WIRE_CHOKE:
	case WIRE_UNCHOKE:
	case WIRE_INTERESTED:
	case WIRE_NOT_INTERESTED:
		return 0;
	case WIRE_HAVE:
		out->index = get_be32(frame + 5);
		return check_index(out->index, piece_count, "have", err);
	case WIRE_BITFIELD:
		out->data = frame + 5;
		out->data_len = len - 5;
		if (piece_count == WIRE_PIECES_UNKNOWN)
			return 0;
		return check_spare_bits(out->data, out->data_len, piece_count, err);
	case WIRE_REQUEST:
	case WIRE_CANCEL:
		out->index = get_be32(frame + 5);
		out->begin = get_be32(frame + 9);
		out->length = get_be32(frame + 13);
		rc = check_index(out->index, piece_count, id_name(out->id), err);
		if (rc < 0)
			return rc;
		if (out->length == 0)
			return error_set(err, ERR_INVALID, 13, "%s of zero bytes",
					 id_name(out->id));
		if (out->length > l.max_request)
			return error_set(err, ERR_LIMIT, 13, "%s of %u bytes exceeds %u",
					 id_name(out->id), out->length, l.max_request);
		return 0;
	case WIRE_PIECE:
		out->index = get_be32(frame + 5);
		out->begin = get_be32(frame + 9);
		out->data = frame + 13;
		out->data_len = len - 13;
		out->length = (uint32_t)out->data_len;
		return check_index(out->index, piece_count, "piece", err);
	case WIRE_PORT:
		out->port = (uint16_t)(frame[5] << 8 | frame[6]);
		return 0;
	default:
		out->type = WIRE_UNKNOWN;
		out->data = frame + 5;
		out->data_len = len - 5;
		return 0;
	}
}

int
wire_check_block(uint32_t begin, uint32_t length, uint32_t piece_size)
{
	if (length == 0 || begin >= piece_size || length > piece_size - begin)
		return -ERR_INVALID;
	return 0;
}

void
wire_handshake_build(uint8_t out[WIRE_HANDSHAKE_LEN], uint64_t reserved,
		     const uint8_t info_hash[WIRE_HASH_LEN],
		     const uint8_t peer_id[WIRE_PEER_ID_LEN])
{
	int i;

	out[0] = WIRE_PSTR_LEN;
	memcpy(out + 1, WIRE_PSTR, WIRE_PSTR_LEN);
	for (i = 0; i < 8; i++)
		out[20 + i] = (uint8_t)(reserved >> (56 - 8 * i));
	memcpy(out + 28, info_hash, WIRE_HASH_LEN);
	memcpy(out + 48, peer_id, WIRE_PEER_ID_LEN);
}

int
wire_handshake_parse(const uint8_t *p, size_t n, struct wire_handshake *hs, size_t *need,
		     struct error *err)
{
	size_t i, check;

	*need = 0;
	if (n > 0 && p[0] != WIRE_PSTR_LEN)
		return error_set(err, ERR_SYNTAX, 0, "handshake protocol length %u (want %u)", p[0],
				 WIRE_PSTR_LEN);
	/* Compare as much of the protocol string as has arrived. */
	check = n < 1 + WIRE_PSTR_LEN ? n : 1 + WIRE_PSTR_LEN;
	for (i = 1; i < check; i++)
		if (p[i] != (uint8_t)WIRE_PSTR[i - 1])
			return error_set(err, ERR_SYNTAX, (long long)i,
					 "handshake protocol is not \"" WIRE_PSTR "\"");
	if (n < WIRE_HANDSHAKE_LEN) {
		*need = WIRE_HANDSHAKE_LEN - n;
		return WIRE_MORE;
	}
	hs->reserved = 0;
	for (i = 0; i < 8; i++)
		hs->reserved = hs->reserved << 8 | p[20 + i];
	memcpy(hs->info_hash, p + 28, WIRE_HASH_LEN);
	memcpy(hs->peer_id, p + 48, WIRE_PEER_ID_LEN);
	return WIRE_COMPLETE;
}

size_t
wire_encode_header(uint8_t out[WIRE_HEADER_LEN], uint8_t id, uint32_t payload_len)
{
	if (payload_len == UINT32_MAX)
		return 0;
	put_be32(out, payload_len + 1);
	out[4] = id;
	return WIRE_HEADER_LEN;
}

size_t
wire_encode_keepalive(uint8_t out[WIRE_KEEPALIVE_LEN])
{
	put_be32(out, 0);
	return WIRE_KEEPALIVE_LEN;
}

size_t
wire_encode_state(uint8_t out[WIRE_HEADER_LEN], int id)
{
	if (id < WIRE_CHOKE || id > WIRE_NOT_INTERESTED)
		return 0;
	return wire_encode_header(out, (uint8_t)id, 0);
}

size_t
wire_encode_have(uint8_t out[WIRE_HAVE_LEN], uint32_t index)
{
	wire_encode_header(out, WIRE_HAVE, 4);
	put_be32(out + 5, index);
	return WIRE_HAVE_LEN;
}

static size_t
encode_block_ref(uint8_t *out, uint8_t id, uint32_t index, uint32_t begin, uint32_t length)
{
	wire_encode_header(out, id, 12);
	put_be32(out + 5, index);
	put_be32(out + 9, begin);
	put_be32(out + 13, length);
	return WIRE_REQUEST_LEN;
}

size_t
wire_encode_request(uint8_t out[WIRE_REQUEST_LEN], uint32_t index, uint32_t begin, uint32_t length)
{
	return encode_block_ref(out, WIRE_REQUEST, index, begin, length);
}

size_t
wire_encode_cancel(uint8_t out[WIRE_REQUEST_LEN], uint32_t index, uint32_t begin, uint32_t length)
{
	return encode_block_ref(out, WIRE_CANCEL, index, begin, length);
}

size_t
wire_encode_piece_header(uint8_t out[WIRE_PIECE_HEADER_LEN], uint32_t index, uint32_t begin,
			 uint32_t block_len)
{
	if (block_len > UINT32_MAX - 9)
		return 0;
	put_be32(out, 9 + block_len);
	out[4] = WIRE_PIECE;
	put_be32(out + 5, index);
	put_be32(out + 9, begin);
	return WIRE_PIECE_HEADER_LEN;
}

size_t
wire_encode_port(uint8_t out[WIRE_PORT_LEN], uint16_t port)
{
	wire_encode_header(out, WIRE_PORT, 2);
	out[5] = (uint8_t)(port >> 8);
	out[6] = (uint8_t)port;
	return WIRE_PORT_LEN;
}

int
wire_encode_bitfield(uint8_t *out, size_t cap, const uint8_t *bits, uint32_t piece_count)
{
	size_t nbytes = ((size_t)piece_count + 7) / 8;
	unsigned used = piece_count % 8;

	if (piece_count == 0 || cap < WIRE_HEADER_LEN || nbytes > cap - WIRE_HEADER_LEN)
		return -ERR_LIMIT;
	wire_encode_header(out, WIRE_BITFIELD, (uint32_t)nbytes);
	memcpy(out + WIRE_HEADER_LEN, bits, nbytes);
	if (used != 0)
		out[WIRE_HEADER_LEN + nbytes - 1] &= (uint8_t)(0xff00u >> used);
	return (int)(WIRE_HEADER_LEN + nbytes);
}
