/*
 * libFuzzer target for announce: the bytes are an HTTP tracker reply, and
 * (as a C string) an announce URL base. Invariants the rest of the engine
 * relies on are checked, so a violation crashes the run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "announce.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct announce_reply r;
	struct announce_req req;
	struct error err;
	struct buf b;
	char s[ANNOUNCE_PEER_STRLEN], *url;
	size_t i;

	if (announce_parse_reply(data, size, &r, &err) == 0) {
		if (r.npeers > ANNOUNCE_MAX_PEERS || r.interval < ANNOUNCE_INTERVAL_MIN ||
		    r.interval > ANNOUNCE_INTERVAL_MAX || (r.npeers > 0 && r.peers == NULL))
			abort();
		if (r.failure != NULL && strlen(r.failure) > ANNOUNCE_MAX_MESSAGE)
			abort();
		if (r.warning != NULL && strlen(r.warning) > ANNOUNCE_MAX_MESSAGE)
			abort();
		for (i = 0; i < r.npeers; i++) {
			if (r.peers[i].port == 0 ||
			    (r.peers[i].family != AF_INET && r.peers[i].family != AF_INET6))
				abort();
			if (announce_peer_str(&r.peers[i], s, sizeof s) != 0)
				abort();
		}
		announce_reply_free(&r);
	} else if (r.peers != NULL || r.failure != NULL || r.npeers != 0) {
		abort(); /* a refused reply must come back empty */
	}

	/* The same bytes as a tracker URL. */
	if ((url = malloc(size + 1)) == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	memset(&req, 0xa5, sizeof req);
	req.event = ANNOUNCE_EVENT_STARTED;
	req.numwant = 50;
	req.tracker_id = url;
	buf_init(&b, 16384);
	announce_build_url(&b, url, &req, &err);
	buf_free(&b);
	free(url);
	return 0;
}
