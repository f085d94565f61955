/*
 * libFuzzer target for udptrk: the bytes are a datagram from a UDP tracker,
 * decoded as the answer to a connect and to an announce, on IPv4 and IPv6
 * sockets, both with the transaction id the datagram carries (so decoding
 * goes past the id check) and with another one; then, as a C string, a
 * tracker URL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "udptrk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const uint8_t *data, size_t size, enum udptrk_action expect, uint32_t tid, int family)
{
	struct udptrk_reply r;
	struct error err;
	char s[ANNOUNCE_PEER_STRLEN];
	size_t i;
	int rc = udptrk_decode(data, size, expect, tid, family, &r, &err);

	if (rc < 0) {
		if (r.ann.peers != NULL || r.ann.failure != NULL || err.code != -rc)
			abort();
		return;
	}
	if (r.action != expect && r.action != UDPTRK_ACTION_ERROR)
		abort();
	if (r.action == UDPTRK_ACTION_ERROR &&
	    (r.ann.failure == NULL || strlen(r.ann.failure) > ANNOUNCE_MAX_MESSAGE))
		abort();
	if (r.ann.npeers > ANNOUNCE_MAX_PEERS || r.ann.interval < ANNOUNCE_INTERVAL_MIN ||
	    r.ann.interval > ANNOUNCE_INTERVAL_MAX)
		abort();
	for (i = 0; i < r.ann.npeers; i++) {
		if (r.ann.peers[i].port == 0 ||
		    announce_peer_str(&r.ann.peers[i], s, sizeof s) != 0)
			abort();
	}
	udptrk_reply_free(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t tid = 0x12345678;
	char host[256], *url;
	uint16_t port;

	if (size >= 8)
		tid = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 |
		      data[7];
	check(data, size, UDPTRK_ACTION_CONNECT, tid, AF_INET);
	check(data, size, UDPTRK_ACTION_ANNOUNCE, tid, AF_INET);
	check(data, size, UDPTRK_ACTION_ANNOUNCE, tid, AF_INET6);
	check(data, size, UDPTRK_ACTION_ANNOUNCE, tid ^ 1, AF_INET6);

	if ((url = malloc(size + 1)) == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	if (udptrk_parse_url(url, host, sizeof host, &port, NULL) == 0 &&
	    (port == 0 || strlen(host) == 0))
		abort();
	free(url);
	return 0;
}
