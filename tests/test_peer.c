/* Unit tests for src/peer.c over a socketpair: handshake order, framing of
 * messages split across reads, closing on protocol errors, output queue. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "peer.h"

static const uint8_t HASH[20] = "0123456789abcdefghij";
static const uint8_t MYID[20] = "-PC0010-aaaaaaaaaaaa";
static const uint8_t THEIRID[20] = "-XX0000-bbbbbbbbbbbb";

struct seen {
	int handshakes, closed, msgs;
	int types[64];
	uint32_t idx[64];
};

static int
on_hs(struct peer *p, const struct wire_handshake *hs)
{
	struct seen *s = p->owner;

	s->handshakes++;
	cr_assert(memcmp(hs->peer_id, THEIRID, 20) == 0);
	return 0;
}

static void
on_msg(struct peer *p, const struct wire_msg *m)
{
	struct seen *s = p->owner;

	if (s->msgs < 64) {
		s->types[s->msgs] = m->type;
		s->idx[s->msgs] = m->index;
	}
	s->msgs++;
}

static void
on_closed(struct peer *p)
{
	((struct seen *)p->owner)->closed++;
}

static const struct peer_ops ops = {
    .handshake = on_hs,
    .message = on_msg,
    .closed = on_closed,
};

static void
run(struct loop *l, int rounds)
{
	while (rounds-- > 0)
		loop_run_once(l, 10);
}

static void
send_all(int fd, const void *p, size_t n)
{
	cr_assert_eq(write(fd, p, n), (ssize_t)n);
}

static struct peer *
setup(struct loop **l, int *other, struct seen *s)
{
	int sv[2];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct peer *p;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	*l = loop_new();
	cr_assert_not_null(*l);
	memset(s, 0, sizeof *s);
	p = peer_accept(*l, sv[0], (struct sockaddr *)&sa, sizeof sa, HASH, MYID, 10, &ops, s);
	cr_assert_not_null(p);
	*other = sv[1];
	return p;
}

Test(peer, incoming_handshake_then_split_messages)
{
	struct loop *l;
	struct seen s;
	int fd;
	struct peer *p = setup(&l, &fd, &s);
	uint8_t hs[WIRE_HANDSHAKE_LEN], buf[256], have[WIRE_HAVE_LEN], bf[WIRE_HEADER_LEN + 2];
	uint8_t bits[2] = {0xff, 0xc0};
	ssize_t n;
	size_t i;

	/* Nothing is sent to an incoming peer before its handshake is checked. */
	run(l, 2);
	cr_assert_eq(recv(fd, buf, sizeof buf, MSG_DONTWAIT), -1);
	wire_handshake_build(hs, 0, HASH, THEIRID);
	send_all(fd, hs, 30); /* in two parts */
	run(l, 2);
	cr_assert_eq(s.handshakes, 0);
	send_all(fd, hs + 30, sizeof hs - 30);
	run(l, 2);
	cr_assert_eq(s.handshakes, 1);
	cr_assert_eq(p->state, PEER_ACTIVE);
	n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
	cr_assert_eq(n, WIRE_HANDSHAKE_LEN);
	cr_assert(memcmp(buf + 48, MYID, 20) == 0);

	/* A bitfield and a have, fed one byte at a time. */
	cr_assert_eq(wire_encode_bitfield(bf, sizeof bf, bits, 10), (int)sizeof bf);
	wire_encode_have(have, 7);
	for (i = 0; i < sizeof bf; i++) {
		send_all(fd, bf + i, 1);
		run(l, 1);
	}
	for (i = 0; i < sizeof have; i++) {
		send_all(fd, have + i, 1);
		run(l, 1);
	}
	cr_assert_eq(s.msgs, 2);
	cr_assert_eq(s.types[0], WIRE_BITFIELD);
	cr_assert_eq(s.types[1], WIRE_HAVE);
	cr_assert_eq(s.idx[1], 7);
	cr_assert_eq(s.closed, 0);
	peer_free(p);
	loop_free(l);
	close(fd);
}

Test(peer, wrong_info_hash_closes)
{
	struct loop *l;
	struct seen s;
	int fd;
	struct peer *p = setup(&l, &fd, &s);
	uint8_t hs[WIRE_HANDSHAKE_LEN];

	wire_handshake_build(hs, 0, (const uint8_t *)"XXXXXXXXXXXXXXXXXXXX", THEIRID);
	send_all(fd, hs, sizeof hs);
	run(l, 3);
	cr_assert_eq(s.closed, 1);
	cr_assert_eq(p->state, PEER_CLOSED);
	cr_assert(strstr(p->close_reason, "another torrent") != NULL, "%s", p->close_reason);
	peer_free(p);
	loop_free(l);
	close(fd);
}

Test(peer, oversized_frame_closes_before_buffering)
{
	struct loop *l;
	struct seen s;
	int fd;
	struct peer *p = setup(&l, &fd, &s);
	uint8_t hs[WIRE_HANDSHAKE_LEN];
	/* A HAVE that claims 100000 bytes: refused from its header alone. */
	uint8_t bad[5] = {0x00, 0x01, 0x86, 0xa0, WIRE_HAVE};

	wire_handshake_build(hs, 0, HASH, THEIRID);
	send_all(fd, hs, sizeof hs);
	run(l, 2);
	send_all(fd, bad, sizeof bad);
	run(l, 3);
	cr_assert_eq(s.closed, 1);
	cr_assert(strstr(p->close_reason, "protocol error") != NULL, "%s", p->close_reason);
	cr_assert_leq(p->in_cap, 64u << 10);
	peer_free(p);
	loop_free(l);
	close(fd);
}

Test(peer, eof_and_queue_full)
{
	struct loop *l;
	struct seen s;
	int fd;
	struct peer *p = setup(&l, &fd, &s);
	uint8_t hs[WIRE_HANDSHAKE_LEN], *dst;

	wire_handshake_build(hs, 0, HASH, THEIRID);
	send_all(fd, hs, sizeof hs);
	run(l, 2);
	/* The other side never reads: queueing past PEER_OUT_MAX closes the peer. */
	while ((dst = peer_queue_piece(p, 0, 0, 16384)) != NULL)
		memset(dst, 0, 16384);
	cr_assert_eq(p->state, PEER_CLOSED);
	cr_assert(strstr(p->close_reason, "queue full") != NULL, "%s", p->close_reason);
	cr_assert_eq(s.closed, 1);
	peer_free(p);
	loop_free(l);
	close(fd);
}
