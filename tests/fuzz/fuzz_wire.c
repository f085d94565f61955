/*
 * libFuzzer target for the peer wire codec. The input is treated as what a
 * peer sends after connecting: a handshake, then a stream of frames. Each
 * frame is also offered in every truncated form the network could deliver,
 * to check that wire_frame_check's "need" arithmetic agrees with the final
 * length, and decoded messages are checked to point inside their frame.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void
check_prefixes(const uint8_t *p, size_t full, uint32_t pieces)
{
	struct wire_frame f;
	struct error err;
	size_t n;
	int rc;

	/* Every prefix of a valid frame is "more", and says how much is missing. */
	for (n = 0; n < full && n < 32; n++) {
		rc = wire_frame_check(p, n, NULL, pieces, &f, &err);
		CHECK(rc == WIRE_MORE);
		CHECK(f.need > 0);
		if (f.len != 0)
			CHECK(f.len == full && n + f.need == full);
	}
}

static void
check_msg(const uint8_t *frame, size_t len, const struct wire_msg *m)
{
	uint8_t out[WIRE_REQUEST_LEN];

	if (m->data != NULL)
		CHECK(m->data >= frame && m->data_len <= len &&
		      (size_t)(m->data - frame) <= len - m->data_len);
	/* Fixed-size messages re-encode to the same bytes. */
	switch (m->type) {
	case WIRE_HAVE:
		CHECK(wire_encode_have(out, m->index) == len);
		break;
	case WIRE_REQUEST:
		CHECK(wire_encode_request(out, m->index, m->begin, m->length) == len);
		break;
	case WIRE_CANCEL:
		CHECK(wire_encode_cancel(out, m->index, m->begin, m->length) == len);
		break;
	case WIRE_PORT:
		CHECK(wire_encode_port(out, m->port) == len);
		break;
	case WIRE_CHOKE:
	case WIRE_UNCHOKE:
	case WIRE_INTERESTED:
	case WIRE_NOT_INTERESTED:
		CHECK(wire_encode_state(out, m->type) == len);
		break;
	default:
		return;
	}
	for (size_t i = 0; i < len; i++)
		CHECK(out[i] == frame[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_handshake hs;
	struct wire_limits lim = {0};
	struct wire_frame f;
	struct wire_msg m;
	struct error err;
	size_t pos = 0, need;
	uint32_t pieces;
	int rc;

	rc = wire_handshake_parse(data, size, &hs, &need, &err);
	if (rc == WIRE_COMPLETE)
		pos = WIRE_HANDSHAKE_LEN;
	else if (rc == WIRE_MORE)
		CHECK(size + need == WIRE_HANDSHAKE_LEN);
	/* Vary the piece count (0 = unknown) and the limits from the input itself. */
	pieces = size > 0 ? data[size - 1] * 7u : 0;
	if (size > 1 && (data[size - 2] & 1))
		lim.max_block = 1u << (data[size - 2] & 0x1f);
	while (pos < size) {
		rc = wire_frame_check(data + pos, size - pos, &lim, pieces, &f, &err);
		if (rc != WIRE_COMPLETE)
			break;
		CHECK(f.len >= 4 && f.len <= size - pos);
		check_prefixes(data + pos, f.len, pieces);
		if (wire_decode(data + pos, f.len, &lim, pieces, &m, &err) == 0)
			check_msg(data + pos, f.len, &m);
		pos += f.len;
	}
	/* The whole input as one frame: almost always a length mismatch. */
	(void)wire_decode(data, size, NULL, pieces, &m, &err);
	return 0;
}
