/*
 * Tests for the peer wire codec: handshake, encoders, the incremental frame
 * check (lengths judged from the header alone) and the decoder's checks.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "wire.h"

static const uint8_t hash20[20] = "ABCDEFGHIJKLMNOPQRST";
static const uint8_t id20[20] = "-PC0001-abcdefghijkl";

Test(wire, handshake_roundtrip)
{
	uint8_t hs[WIRE_HANDSHAKE_LEN];
	struct wire_handshake out;
	struct error err = {0};
	size_t need = 99;

	wire_handshake_build(hs, WIRE_RESERVED_EXTENSION | WIRE_RESERVED_DHT, hash20, id20);
	cr_assert_eq(hs[0], 19);
	cr_assert_eq(memcmp(hs + 1, "BitTorrent protocol", 19), 0);
	cr_assert_eq(hs[25], 0x10);
	cr_assert_eq(hs[27], 0x01);
	cr_assert_eq(hs[20] | hs[21] | hs[22] | hs[23] | hs[24] | hs[26], 0);
	cr_assert_eq(wire_handshake_parse(hs, sizeof hs, &out, &need, &err), WIRE_COMPLETE);
	cr_assert_eq(need, 0);
	cr_assert_eq(out.reserved, WIRE_RESERVED_EXTENSION | WIRE_RESERVED_DHT);
	cr_assert_eq(memcmp(out.info_hash, hash20, 20), 0);
	cr_assert_eq(memcmp(out.peer_id, id20, 20), 0);
}

Test(wire, handshake_no_reserved_bits)
{
	uint8_t hs[WIRE_HANDSHAKE_LEN];
	int i;

	wire_handshake_build(hs, 0, hash20, id20);
	for (i = 20; i < 28; i++)
		cr_assert_eq(hs[i], 0);
	cr_assert_eq(memcmp(hs + 28, hash20, 20), 0);
	cr_assert_eq(memcmp(hs + 48, id20, 20), 0);
}

Test(wire, handshake_incremental_and_bad)
{
	uint8_t hs[WIRE_HANDSHAKE_LEN];
	struct wire_handshake out;
	struct error err = {0};
	size_t need, n;

	wire_handshake_build(hs, 0, hash20, id20);
	for (n = 0; n < WIRE_HANDSHAKE_LEN; n++) {
		cr_assert_eq(wire_handshake_parse(hs, n, &out, &need, &err), WIRE_MORE);
		cr_assert_eq(need, WIRE_HANDSHAKE_LEN - n);
	}
	/* Garbage is refused at the first byte, before 68 bytes arrive. */
	hs[0] = 'G';
	cr_assert_eq(wire_handshake_parse(hs, 1, &out, &need, &err), -ERR_SYNTAX);
	hs[0] = 19;
	hs[5] = 'x';
	cr_assert_eq(wire_handshake_parse(hs, 10, &out, &need, &err), -ERR_SYNTAX);
	cr_assert_eq(err.offset, 5);
	/* ... but not before the bad byte itself arrived. */
	cr_assert_eq(wire_handshake_parse(hs, 5, &out, &need, &err), WIRE_MORE);
}

Test(wire, encoders_bytes)
{
	uint8_t b[32];

	cr_assert_eq(wire_encode_keepalive(b), 4);
	cr_assert_eq(memcmp(b, "\0\0\0\0", 4), 0);
	cr_assert_eq(wire_encode_state(b, WIRE_INTERESTED), 5);
	cr_assert_eq(memcmp(b, "\0\0\0\1\2", 5), 0);
	cr_assert_eq(wire_encode_state(b, WIRE_HAVE), 0);
	cr_assert_eq(wire_encode_state(b, -1), 0);
	cr_assert_eq(wire_encode_have(b, 0x01020304), 9);
	cr_assert_eq(memcmp(b, "\0\0\0\5\4\1\2\3\4", 9), 0);
	cr_assert_eq(wire_encode_request(b, 1, 0x4000, 0x4000), 17);
	cr_assert_eq(memcmp(b, "\0\0\0\x0d\6\0\0\0\1\0\0\x40\0\0\0\x40\0", 17), 0);
	cr_assert_eq(wire_encode_cancel(b, 1, 2, 3), 17);
	cr_assert_eq(b[4], 8);
	cr_assert_eq(wire_encode_piece_header(b, 7, 16384, 16384), 13);
	cr_assert_eq(memcmp(b, "\0\0\x40\x09\7\0\0\0\7\0\0\x40\0", 13), 0);
	cr_assert_eq(wire_encode_piece_header(b, 7, 0, UINT32_MAX - 8), 0);
	cr_assert_eq(wire_encode_port(b, 6881), 7);
	cr_assert_eq(memcmp(b, "\0\0\0\3\x09\x1a\xe1", 7), 0);
	cr_assert_eq(wire_encode_header(b, WIRE_EXTENDED, 10), 5);
	cr_assert_eq(memcmp(b, "\0\0\0\x0b\x14", 5), 0);
}

Test(wire, encode_bitfield_clears_spare_bits)
{
	uint8_t bits[2] = {0xff, 0xff};
	uint8_t out[16];
	struct wire_msg m;
	struct error err = {0};

	cr_assert_eq(wire_encode_bitfield(out, sizeof out, bits, 10), 7);
	cr_assert_eq(memcmp(out, "\0\0\0\3\5\xff\xc0", 7), 0);
	cr_assert_eq(wire_decode(out, 7, NULL, 10, &m, &err), 0);
	cr_assert_eq(m.type, WIRE_BITFIELD);
	cr_assert_eq(m.data_len, 2);
	cr_assert_eq(m.data, out + 5);
	cr_assert_eq(wire_encode_bitfield(out, 6, bits, 10), -ERR_LIMIT);
	cr_assert_eq(wire_encode_bitfield(out, 3, bits, 10), -ERR_LIMIT);
	cr_assert_eq(wire_encode_bitfield(out, sizeof out, bits, 0), -ERR_LIMIT);
	cr_assert_eq(wire_encode_bitfield(out, 6, bits, 8), 6);
}

Test(wire, frame_check_incremental)
{
	uint8_t b[WIRE_REQUEST_LEN];
	struct wire_frame f;
	struct error err = {0};
	size_t n;

	wire_encode_request(b, 3, 0, 16384);
	for (n = 0; n < 4; n++) {
		cr_assert_eq(wire_frame_check(b, n, NULL, 100, &f, &err), WIRE_MORE);
		cr_assert_eq(f.need, 4 - n);
		cr_assert_eq(f.len, 0);
	}
	cr_assert_eq(wire_frame_check(b, 4, NULL, 100, &f, &err), WIRE_MORE);
	cr_assert_eq(f.need, 1);
	for (n = 5; n < sizeof b; n++) {
		cr_assert_eq(wire_frame_check(b, n, NULL, 100, &f, &err), WIRE_MORE);
		cr_assert_eq(f.len, 17);
		cr_assert_eq(f.need, 17 - n);
		cr_assert_eq(f.id, WIRE_REQUEST);
	}
	cr_assert_eq(wire_frame_check(b, sizeof b, NULL, 100, &f, &err), WIRE_COMPLETE);
	cr_assert_eq(f.len, 17);
	cr_assert_eq(f.need, 0);
}

Test(wire, frame_check_keepalive_and_stream)
{
	/* keep-alive, unchoke, have 2, all in one buffer. */
	uint8_t s[4 + 5 + 9];
	struct wire_frame f;
	struct wire_msg m;
	struct error err = {0};
	size_t pos = 0;
	int types[3], k = 0;

	wire_encode_keepalive(s);
	wire_encode_state(s + 4, WIRE_UNCHOKE);
	wire_encode_have(s + 9, 2);
	while (pos < sizeof s) {
		cr_assert_eq(wire_frame_check(s + pos, sizeof s - pos, NULL, 3, &f, &err),
			     WIRE_COMPLETE);
		cr_assert_eq(wire_decode(s + pos, f.len, NULL, 3, &m, &err), 0, "%s", err.msg);
		types[k++] = m.type;
		pos += f.len;
	}
	cr_assert_eq(k, 3);
	cr_assert_eq(types[0], WIRE_KEEPALIVE);
	cr_assert_eq(types[1], WIRE_UNCHOKE);
	cr_assert_eq(types[2], WIRE_HAVE);
	cr_assert_eq(m.index, 2);
}

/* A 5-byte header claiming `len` for `id`: the verdict before any body arrives. */
static int
header_verdict(uint32_t len, uint8_t id, const struct wire_limits *lim, uint32_t pieces)
{
	uint8_t h[5] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
			(uint8_t)len, id};
	struct wire_frame f;
	struct error err = {0};

	return wire_frame_check(h, sizeof h, lim, pieces, &f, &err);
}

Test(wire, frame_lengths_per_id)
{
	struct wire_limits lim = {0};
	int id;

	for (id = WIRE_CHOKE; id <= WIRE_NOT_INTERESTED; id++) {
		cr_assert_eq(header_verdict(1, (uint8_t)id, NULL, 10), WIRE_COMPLETE);
		cr_assert_eq(header_verdict(2, (uint8_t)id, NULL, 10), -ERR_SYNTAX);
	}
	cr_assert_eq(header_verdict(5, WIRE_HAVE, NULL, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(4, WIRE_HAVE, NULL, 10), -ERR_SYNTAX);
	cr_assert_eq(header_verdict(6, WIRE_HAVE, NULL, 10), -ERR_SYNTAX);
	cr_assert_eq(header_verdict(13, WIRE_REQUEST, NULL, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(14, WIRE_REQUEST, NULL, 10), -ERR_SYNTAX);
	cr_assert_eq(header_verdict(12, WIRE_CANCEL, NULL, 10), -ERR_SYNTAX);
	cr_assert_eq(header_verdict(3, WIRE_PORT, NULL, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(5, WIRE_PORT, NULL, 10), -ERR_SYNTAX);
	/* piece: 9 + 1..16 KiB by default. */
	cr_assert_eq(header_verdict(9, WIRE_PIECE, NULL, 10), -ERR_SYNTAX);
	cr_assert_eq(header_verdict(10, WIRE_PIECE, NULL, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(9 + 16384, WIRE_PIECE, NULL, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(9 + 16385, WIRE_PIECE, NULL, 10), -ERR_LIMIT);
	lim.max_block = 32768;
	cr_assert_eq(header_verdict(9 + 32768, WIRE_PIECE, &lim, 10), WIRE_MORE);
	lim.max_block = 1u << 30; /* clamped to 128 KiB */
	cr_assert_eq(header_verdict(9 + 131072, WIRE_PIECE, &lim, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(9 + 131073, WIRE_PIECE, &lim, 10), -ERR_LIMIT);
	/* bitfield: exactly ceil(pieces / 8). */
	cr_assert_eq(header_verdict(1 + 2, WIRE_BITFIELD, NULL, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(1 + 1, WIRE_BITFIELD, NULL, 10), -ERR_SYNTAX);
	cr_assert_eq(header_verdict(1 + 3, WIRE_BITFIELD, NULL, 10), -ERR_SYNTAX);
	cr_assert_eq(header_verdict(1 + 1, WIRE_BITFIELD, NULL, 8), WIRE_MORE);
	cr_assert_eq(header_verdict(1 + 1000, WIRE_BITFIELD, NULL, WIRE_PIECES_UNKNOWN), WIRE_MORE);
	cr_assert_eq(header_verdict(1, WIRE_BITFIELD, NULL, WIRE_PIECES_UNKNOWN), -ERR_SYNTAX);
	/* unknown ids: skippable up to max_unknown. */
	cr_assert_eq(header_verdict(1 + 65536, WIRE_EXTENDED, NULL, 10), WIRE_MORE);
	cr_assert_eq(header_verdict(1 + 65537, WIRE_EXTENDED, NULL, 10), -ERR_LIMIT);
	cr_assert_eq(header_verdict(1, 200, NULL, 10), WIRE_COMPLETE);
	/* anything past max_frame is refused from the 4-byte prefix alone. */
	lim = (struct wire_limits){.max_frame = 100};
	cr_assert_eq(header_verdict(101, WIRE_BITFIELD, &lim, 800), -ERR_LIMIT);
}

Test(wire, max_frame_refused_from_prefix)
{
	uint8_t h[4] = {0x7f, 0xff, 0xff, 0xff};
	struct wire_frame f;
	struct error err = {0};

	cr_assert_eq(wire_frame_check(h, 4, NULL, 10, &f, &err), -ERR_LIMIT);
	cr_assert(strstr(err.msg, "exceeds") != NULL);
}

Test(wire, decode_messages)
{
	uint8_t b[WIRE_REQUEST_LEN];
	struct wire_msg m;
	struct error err = {0};

	wire_encode_request(b, 9, 32768, 16384);
	cr_assert_eq(wire_decode(b, 17, NULL, 10, &m, &err), 0);
	cr_assert_eq(m.type, WIRE_REQUEST);
	cr_assert_eq(m.index, 9);
	cr_assert_eq(m.begin, 32768);
	cr_assert_eq(m.length, 16384);

	wire_encode_piece_header(b, 4, 100, 3);
	memcpy(b + 13, "xyz", 3);
	cr_assert_eq(wire_decode(b, WIRE_PIECE_HEADER_LEN + 3, NULL, 10, &m, &err), 0);
	cr_assert_eq(m.type, WIRE_PIECE);
	cr_assert_eq(m.index, 4);
	cr_assert_eq(m.begin, 100);
	cr_assert_eq(m.length, 3);
	cr_assert_eq(m.data, b + 13);
	cr_assert_eq(m.data_len, 3);

	wire_encode_port(b, 51413);
	cr_assert_eq(wire_decode(b, 7, NULL, 10, &m, &err), 0);
	cr_assert_eq(m.type, WIRE_PORT);
	cr_assert_eq(m.port, 51413);

	wire_encode_header(b, WIRE_EXTENDED, 2);
	b[5] = 0;
	b[6] = 'd';
	cr_assert_eq(wire_decode(b, 7, NULL, 10, &m, &err), 0);
	cr_assert_eq(m.type, WIRE_UNKNOWN);
	cr_assert_eq(m.id, WIRE_EXTENDED);
	cr_assert_eq(m.data, b + 5);
	cr_assert_eq(m.data_len, 2);
}

Test(wire, decode_refuses_bad_values)
{
	uint8_t b[32];
	struct wire_msg m;
	struct error err = {0};
	struct wire_limits lim = {.max_request = 32768};

	wire_encode_have(b, 10);
	cr_assert_eq(wire_decode(b, 9, NULL, 10, &m, &err), -ERR_INVALID);
	cr_assert_eq(err.offset, 5);
	cr_assert_eq(wire_decode(b, 9, NULL, 11, &m, &err), 0);
	cr_assert_eq(wire_decode(b, 9, NULL, WIRE_PIECES_UNKNOWN, &m, &err), 0);

	wire_encode_request(b, 1, 0, 0);
	cr_assert_eq(wire_decode(b, 17, NULL, 10, &m, &err), -ERR_INVALID);
	wire_encode_request(b, 1, 0, 16385);
	cr_assert_eq(wire_decode(b, 17, NULL, 10, &m, &err), -ERR_LIMIT);
	cr_assert_eq(wire_decode(b, 17, &lim, 10, &m, &err), 0);
	wire_encode_cancel(b, 10, 0, 16384);
	cr_assert_eq(wire_decode(b, 17, NULL, 10, &m, &err), -ERR_INVALID);

	wire_encode_piece_header(b, 12, 0, 1);
	b[13] = 0;
	cr_assert_eq(wire_decode(b, 14, NULL, 10, &m, &err), -ERR_INVALID);

	/* Spare bits: 10 pieces use 2 bits of the second byte. */
	wire_encode_header(b, WIRE_BITFIELD, 2);
	b[5] = 0xff;
	b[6] = 0xe0;
	cr_assert_eq(wire_decode(b, 7, NULL, 10, &m, &err), -ERR_INVALID);
	cr_assert_eq(err.offset, 6);
	b[6] = 0xc0;
	cr_assert_eq(wire_decode(b, 7, NULL, 10, &m, &err), 0);

	/* The frame must be exactly one frame. */
	wire_encode_have(b, 1);
	cr_assert_eq(wire_decode(b, 8, NULL, 10, &m, &err), -ERR_SYNTAX);
	cr_assert_eq(wire_decode(b, 10, NULL, 10, &m, &err), -ERR_SYNTAX);
	cr_assert_eq(wire_decode(b, 3, NULL, 10, &m, &err), -ERR_SYNTAX);
}

Test(wire, check_block)
{
	cr_assert_eq(wire_check_block(0, 16384, 16384), 0);
	cr_assert_eq(wire_check_block(16384, 1, 16384), -ERR_INVALID);
	cr_assert_eq(wire_check_block(0, 0, 16384), -ERR_INVALID);
	cr_assert_eq(wire_check_block(16000, 385, 16384), -ERR_INVALID);
	cr_assert_eq(wire_check_block(16000, 384, 16384), 0);
	/* begin + length would wrap in 32 bits. */
	cr_assert_eq(wire_check_block(0xffffff00u, 0x200, 0xffffffffu), -ERR_INVALID);
}
