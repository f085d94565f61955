/*
 * peer: socket I/O and framing for one connection.
 *
 * Input is read into a per-peer buffer sized for the largest frame this
 * torrent allows (it starts small and grows only when a valid header asks
 * for more, e.g. a large bitfield), so a peer can never make us buffer more
 * than one frame. Each frame's length is checked against its id by
 * wire_frame_check() before the body is waited for. Reads are capped per
 * wake-up so one fast peer cannot starve the others.
 *
 * Output is one bounded queue; POLLOUT is requested only while it holds
 * data, so the loop does not spin on writable sockets.
 */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IN_INITIAL  (64u << 10)
#define READ_BUDGET (512u << 10) /* bytes read from one peer per wake-up */

static const char *state_names[] = {"connecting", "handshake", "active", "closed"};

static void peer_on_io(struct loop_io *io, int fd, short revents, void *arg);

static void
peer_set_state(struct peer *p, enum peer_state s)
{
	/* The one place a connection changes state; kept tiny on purpose. */
	(void)state_names;
	p->state = s;
}

void
peer_addr_host(const struct sockaddr *sa, char *out, size_t len)
{
	const void *addr = NULL;

	if (sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (addr == NULL || inet_ntop(sa->sa_family, addr, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

void
peer_addr_str(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	peer_addr_host(sa, host, sizeof host);
	if (sa->sa_family == AF_INET)
		snprintf(out, len, "%s:%u", host,
			 ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port));
	else if (sa->sa_family == AF_INET6)
		snprintf(out, len, "[%s]:%u", host,
			 ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port));
	else
		snprintf(out, len, "?");
}

static struct peer *
peer_new(struct loop *loop, int fd, const struct sockaddr *sa, socklen_t salen,
	 const uint8_t info_hash[20], const uint8_t my_id[20], uint32_t piece_count,
	 const struct peer_ops *ops, void *owner)
{
	struct peer *p = calloc(1, sizeof *p);

	if (p == NULL)
		return NULL;
	p->loop = loop;
	p->fd = fd;
	p->ops = ops;
	p->owner = owner;
	if (salen > sizeof p->addr)
		salen = sizeof p->addr;
	memcpy(&p->addr, sa, salen);
	p->addrlen = salen;
	peer_addr_str(sa, p->name, sizeof p->name);
	peer_addr_host(sa, p->ip, sizeof p->ip);
	memcpy(p->info_hash, info_hash, 20);
	memcpy(p->my_peer_id, my_id, 20);
	p->piece_count = piece_count;
	p->limits.max_block = WIRE_BLOCK_SIZE;
	p->limits.max_request = WIRE_BLOCK_SIZE;
	p->limits.max_unknown = WIRE_DEFAULT_UNKNOWN;
	p->limits.max_frame = WIRE_DEFAULT_MAX_FRAME;
	p->in_cap = IN_INITIAL;
	p->in = malloc(p->in_cap);
	p->have = calloc(1, (piece_count + 7) / 8 + 1);
	p->reqs = calloc(PEER_MAX_REQUESTS, sizeof *p->reqs);
	p->ureqs = calloc(PEER_MAX_UPLOAD_QUEUE, sizeof *p->ureqs);
	buf_init(&p->out, PEER_OUT_MAX);
	p->am_choking = 1;
	p->peer_choking = 1;
	p->max_reqs = 32; /* until the peer's rate is known */
	p->created_ms = p->last_recv_ms = p->last_send_ms = loop_now_ms(loop);
	if (p->in == NULL || p->have == NULL || p->reqs == NULL || p->ureqs == NULL) {
		peer_free(p);
		return NULL;
	}
	return p;
}

static void
set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void
update_events(struct peer *p)
{
	short ev = POLLIN;

	if (p->state == PEER_CONNECTING)
		ev = POLLOUT;
	else if (p->out.len > 0)
		ev |= POLLOUT;
	if (p->read_paused && p->state != PEER_CONNECTING)
		ev &= (short)~POLLIN;
	if (p->io != NULL && loop_io_events(p->io) != ev)
		loop_io_set_events(p->io, ev);
}

static void
queue(struct peer *p, const void *data, size_t n)
{
	if (p->state == PEER_CLOSED)
		return;
	if (buf_append(&p->out, data, n) < 0) {
		peer_close(p, "output queue full");
		return;
	}
	update_events(p);
}

static void
send_handshake(struct peer *p)
{
	uint8_t hs[WIRE_HANDSHAKE_LEN];

	wire_handshake_build(hs, 0, p->info_hash, p->my_peer_id);
	queue(p, hs, sizeof hs);
	p->handshake_sent = 1;
}

struct peer *
peer_connect(struct loop *loop, const struct sockaddr *sa, socklen_t salen,
	     const struct sockaddr *local, socklen_t local_len, const uint8_t info_hash[20],
	     const uint8_t my_id[20], uint32_t piece_count, const struct peer_ops *ops, void *owner)
{
	struct peer *p;
	int fd;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (local != NULL && local_len > 0 && local->sa_family == sa->sa_family &&
	    bind(fd, local, local_len) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return NULL;
	}
	set_nodelay(fd);
	if ((p = peer_new(loop, fd, sa, salen, info_hash, my_id, piece_count, ops, owner)) ==
	    NULL) {
		close(fd);
		return NULL;
	}
	peer_set_state(p, PEER_CONNECTING);
	if ((p->io = loop_io_add(loop, fd, POLLOUT, peer_on_io, p)) == NULL) {
		peer_free(p);
		return NULL;
	}
	if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
		int e = errno;

		peer_free(p);
		errno = e;
		return NULL;
	}
	return p;
}

struct peer *
peer_accept(struct loop *loop, int fd, const struct sockaddr *sa, socklen_t salen,
	    const uint8_t info_hash[20], const uint8_t my_id[20], uint32_t piece_count,
	    const struct peer_ops *ops, void *owner)
{
	struct peer *p;

	set_nodelay(fd);
	if ((p = peer_new(loop, fd, sa, salen, info_hash, my_id, piece_count, ops, owner)) == NULL)
		return NULL;
	p->incoming = 1;
	peer_set_state(p, PEER_HANDSHAKE);
	if ((p->io = loop_io_add(loop, fd, POLLIN, peer_on_io, p)) == NULL) {
		p->fd = -1; /* the caller still owns fd on failure */
		peer_free(p);
		return NULL;
	}
	return p;
}

void
peer_close(struct peer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->state == PEER_CLOSED)
		return;
	va_start(ap, fmt);
	vsnprintf(p->close_reason, sizeof p->close_reason, fmt, ap);
	va_end(ap);
	peer_set_state(p, PEER_CLOSED);
	if (p->io != NULL) {
		loop_io_del(p->io);
		p->io = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->ops->closed != NULL)
		p->ops->closed(p);
}

void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	if (p->io != NULL)
		loop_io_del(p->io);
	if (p->fd >= 0)
		close(p->fd);
	free(p->in);
	free(p->have);
	free(p->reqs);
	free(p->ureqs);
	buf_free(&p->out);
	free(p);
}

static void
flush_out(struct peer *p)
{
	size_t off = 0;

	while (off < p->out.len) {
		ssize_t w = send(p->fd, p->out.data + off, p->out.len - off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			peer_close(p, "send: %s", strerror(errno));
			return;
		}
		off += (size_t)w;
	}
	if (off > 0) {
		memmove(p->out.data, p->out.data + off, p->out.len - off);
		p->out.len -= off;
		p->last_send_ms = loop_now_ms(p->loop);
	}
}

/* Grows the input buffer to hold a frame of `need` bytes (already validated). */
static int
in_reserve(struct peer *p, size_t need)
{
	uint8_t *n;

	if (need <= p->in_cap)
		return 0;
	if ((n = realloc(p->in, need)) == NULL)
		return -1;
	p->in = n;
	p->in_cap = need;
	return 0;
}

/* Parses every complete frame at the start of the input buffer. */
static void
process_input(struct peer *p)
{
	size_t off = 0;
	struct error err;

	while (p->state != PEER_CLOSED) {
		const uint8_t *at = p->in + off;
		size_t avail = p->in_len - off;

		if (p->state == PEER_HANDSHAKE) {
			struct wire_handshake hs;
			size_t need = 0;
			int rc = wire_handshake_parse(at, avail, &hs, &need, &err);

			if (rc < 0) {
				peer_close(p, "bad handshake: %s", err.msg);
				return;
			}
			if (rc == WIRE_MORE)
				break;
			off += WIRE_HANDSHAKE_LEN;
			memcpy(p->peer_id, hs.peer_id, 20);
			if (memcmp(hs.info_hash, p->info_hash, 20) != 0) {
				peer_close(p, "handshake for another torrent");
				return;
			}
			if (!p->handshake_sent)
				send_handshake(p);
			peer_set_state(p, PEER_ACTIVE);
			if (p->ops->handshake(p, &hs) < 0) {
				peer_close(p, "refused after handshake");
				return;
			}
			continue;
		} else {
			struct wire_frame f;
			struct wire_msg m;
			int rc = wire_frame_check(at, avail, &p->limits, p->piece_count, &f, &err);

			if (rc < 0) {
				peer_close(p, "protocol error: %s", err.msg);
				return;
			}
			if (rc == WIRE_MORE) {
				if (f.len > p->in_cap && in_reserve(p, f.len) < 0)
					peer_close(p, "out of memory");
				break;
			}
			if (wire_decode(at, f.len, &p->limits, p->piece_count, &m, &err) < 0) {
				peer_close(p, "protocol error: %s", err.msg);
				return;
			}
			off += f.len;
			if (m.type != WIRE_KEEPALIVE && m.type != WIRE_UNKNOWN)
				p->ops->message(p, &m);
		}
	}
	if (p->state == PEER_CLOSED)
		return;
	if (off > 0) {
		memmove(p->in, p->in + off, p->in_len - off);
		p->in_len -= off;
	}
}

static void
read_input(struct peer *p)
{
	size_t budget = READ_BUDGET;

	while (budget > 0 && p->state != PEER_CLOSED) {
		size_t room = p->in_cap - p->in_len;
		ssize_t r;

		if (p->ops->can_read != NULL) {
			size_t allow = p->ops->can_read(p);

			if (allow == 0) {
				p->read_paused = 1;
				update_events(p);
				return;
			}
			if (room > allow)
				room = allow;
		}
		if (room == 0) {
			/* A full buffer with no complete frame cannot happen: frames fit. */
			peer_close(p, "input buffer overflow");
			return;
		}
		r = recv(p->fd, p->in + p->in_len, room, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			peer_close(p, "recv: %s", strerror(errno));
			return;
		}
		if (r == 0) {
			peer_close(p, "connection closed by peer");
			return;
		}
		p->in_len += (size_t)r;
		p->last_recv_ms = loop_now_ms(p->loop);
		if (p->ops->did_read != NULL)
			p->ops->did_read(p, (size_t)r);
		budget -= (size_t)r < budget ? (size_t)r : budget;
		process_input(p);
		if ((size_t)r < room)
			return; /* drained the socket */
	}
}

static void
peer_on_io(struct loop_io *io, int fd, short revents, void *arg)
{
	struct peer *p = arg;

	if (p->state == PEER_CONNECTING) {
		int soerr = 0;
		socklen_t len = sizeof soerr;

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
			soerr = errno;
		if (soerr != 0) {
			peer_close(p, "connect: %s", strerror(soerr));
			return;
		}
		if (!(revents & POLLOUT))
			return;
		peer_set_state(p, PEER_HANDSHAKE);
		send_handshake(p);
		update_events(p);
		return;
	}
	if (revents & POLLIN)
		read_input(p);
	else if (revents & (POLLERR | POLLHUP | POLLNVAL))
		read_input(p); /* recv reports the error or EOF */
	if (p->state == PEER_CLOSED)
		return;
	if (revents & POLLOUT || p->out.len > 0) {
		size_t before = p->out.len;

		flush_out(p);
		if (p->state == PEER_CLOSED)
			return;
		if (p->ops->writable != NULL && before > 0 && p->out.len < PEER_OUT_MAX / 8)
			p->ops->writable(p);
	}
	if (p->state != PEER_CLOSED)
		update_events(p);
}

void
peer_send_state(struct peer *p, int id)
{
	uint8_t m[WIRE_HEADER_LEN];

	queue(p, m, wire_encode_state(m, id));
}

void
peer_send_have(struct peer *p, uint32_t piece)
{
	uint8_t m[WIRE_HAVE_LEN];

	queue(p, m, wire_encode_have(m, piece));
}

void
peer_send_bitfield(struct peer *p, const uint8_t *bits)
{
	size_t n = WIRE_HEADER_LEN + (p->piece_count + 7) / 8;
	uint8_t *m = malloc(n);
	int len;

	if (m == NULL) {
		peer_close(p, "out of memory");
		return;
	}
	len = wire_encode_bitfield(m, n, bits, p->piece_count);
	if (len > 0)
		queue(p, m, (size_t)len);
	free(m);
}

void
peer_send_request(struct peer *p, uint32_t piece, uint32_t begin, uint32_t len)
{
	uint8_t m[WIRE_REQUEST_LEN];

	queue(p, m, wire_encode_request(m, piece, begin, len));
}

void
peer_send_cancel(struct peer *p, uint32_t piece, uint32_t begin, uint32_t len)
{
	uint8_t m[WIRE_REQUEST_LEN];

	queue(p, m, wire_encode_cancel(m, piece, begin, len));
}

void
peer_send_keepalive(struct peer *p)
{
	uint8_t m[WIRE_KEEPALIVE_LEN];

	queue(p, m, wire_encode_keepalive(m));
}

void
peer_send_piece(struct peer *p, uint32_t piece, uint32_t begin, const void *data, uint32_t len)
{
	uint8_t h[WIRE_PIECE_HEADER_LEN];

	queue(p, h, wire_encode_piece_header(h, piece, begin, len));
	queue(p, data, len);
}

void
peer_resume_read(struct peer *p)
{
	if (!p->read_paused || p->state == PEER_CLOSED)
		return;
	p->read_paused = 0;
	update_events(p);
}

uint8_t *
peer_queue_piece(struct peer *p, uint32_t piece, uint32_t begin, uint32_t len)
{
	uint8_t *h;

	if (p->state == PEER_CLOSED)
		return NULL;
	h = buf_extend(&p->out, WIRE_PIECE_HEADER_LEN + (size_t)len);
	if (h == NULL) {
		peer_close(p, "output queue full");
		return NULL;
	}
	wire_encode_piece_header(h, piece, begin, len);
	update_events(p);
	return h + WIRE_PIECE_HEADER_LEN;
}

void
peer_unqueue_piece(struct peer *p, uint32_t len)
{
	size_t n = WIRE_PIECE_HEADER_LEN + (size_t)len;

	p->out.len -= n < p->out.len ? n : p->out.len;
}

size_t
peer_queued(const struct peer *p)
{
	return p->out.len;
}
