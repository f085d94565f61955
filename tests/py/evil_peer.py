#!/usr/bin/python3
"""A misbehaving BitTorrent peer for the seeding tests (raw sockets, BEP 3).

    evil_peer.py HOST PORT TORRENT MODE [--timeout SECS] [--count N]

Connects to the seeder at HOST:PORT and, depending on MODE:
  missing   handshakes, says interested, waits to be unchoked, then asks
            (--count, default 300) blocks of the pieces the seeder's
            BITFIELD/HAVE messages say it lacks, reading everything it is sent;
  badreq    the same with requests no piece can satisfy: index past the
            last piece, offset past the piece's end, length 0, length 1 MiB;
  flood     handshakes, interested, waits for the unchoke, then sends
            --count (default 20000) REQUESTs for blocks the seeder has
            without reading a byte of the answers;
  bigframe  handshakes, then sends a frame whose length prefix says
            2 GiB - 16 (a PIECE message) and streams random bytes after it;
  garbage   sends random bytes instead of a handshake.
Then it waits (reading and discarding, except in flood mode until every
request is sent) until the seeder closes the connection or --timeout
(default 30 s) passes. Prints one line
    local_port=P closed=yes|no secs=S sent=B recv=B lacking_blocks=K info=...
where lacking_blocks counts the PIECE messages received for pieces the seeder
said it lacked (missing mode). Exit status: 0 when the seeder closed the
connection, 1 when it was still open at the timeout, 2 when the test could
not be set up (no connection, no handshake, never unchoked, nothing lacking).
"""
import argparse
import os
import random
import select
import socket
import struct
import sys
import time

from btkit import torrent_facts


class Peer:
    def __init__(self, host, port, deadline):
        self.deadline = deadline
        self.s = socket.create_connection((host, port), timeout=5)
        self.s.setblocking(False)
        self.local_port = self.s.getsockname()[1]
        self.buf = b""
        self.sent = 0
        self.recv_bytes = 0
        self.closed = False
        self.why = ""

    def _left(self):
        return max(0.0, self.deadline - time.monotonic())

    def send_all(self, data):
        """Sends data; returns False once the peer has closed (or time ran out)."""
        view = memoryview(data)
        while view:
            if self.closed:
                return False
            left = self._left()
            if left <= 0:
                return False
            _, w, _ = select.select([], [self.s], [], min(left, 0.5))
            if not w:
                continue
            try:
                n = self.s.send(view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError) as e:
                self.closed = True
                self.why = "send: " + type(e).__name__
                return False
            self.sent += n
            view = view[n:]
        return True

    def fill(self, wait):
        """Reads what is there (waiting up to `wait` s for something);
        returns False once the peer has closed."""
        if self.closed:
            return False
        r, _, _ = select.select([self.s], [], [], min(wait, self._left()))
        if not r:
            return True
        try:
            d = self.s.recv(1 << 16)
        except BlockingIOError:
            return True
        except ConnectionResetError:
            self.closed = True
            self.why = "recv: ConnectionResetError"
            return False
        if not d:
            self.closed = True
            self.why = "recv: EOF"
            return False
        self.recv_bytes += len(d)
        self.buf += d
        return True

    def read_exact(self, n):
        while len(self.buf) < n:
            if self._left() <= 0 or not self.fill(0.5):
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def messages(self):
        """Yields the complete (id, payload) messages now in the buffer."""
        while len(self.buf) >= 4:
            (n,) = struct.unpack(">I", self.buf[:4])
            if len(self.buf) < 4 + n:
                return
            body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
            if n:
                yield body[0], body[1:]

    def wait_closed(self):
        while not self.closed and self._left() > 0:
            self.fill(0.5)
            self.buf = self.buf[-(1 << 20):] if len(self.buf) > (1 << 20) else self.buf
        return self.closed


def msg(mid, payload=b""):
    return struct.pack(">IB", 1 + len(payload), mid) + payload


def request(index, begin, length):
    return msg(6, struct.pack(">III", index, begin, length))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("torrent")
    ap.add_argument("mode", choices=["missing", "badreq", "flood", "bigframe", "garbage"])
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--count", type=int, default=0)
    a = ap.parse_args()

    ih, plen, total, npieces = torrent_facts(a.torrent)
    rng = random.Random(os.getpid())
    t0 = time.monotonic()
    info = ""
    lacking_blocks = 0

    def report(closed, extra=""):
        print("local_port=%d closed=%s secs=%.1f sent=%d recv=%d lacking_blocks=%d info=%s%s"
              % (p.local_port, "yes" if closed else "no", time.monotonic() - t0, p.sent,
                 p.recv_bytes, lacking_blocks, info or "-", (" why=" + p.why) if p.why else ""),
              flush=True)
        if extra:
            print(extra, file=sys.stderr)

    try:
        p = Peer(a.host, a.port, t0 + a.timeout)
    except OSError as e:
        print("cannot connect: %s" % e, file=sys.stderr)
        return 2

    if a.mode == "garbage":
        # A few random bytes whose first is not 19, then a megabyte more.
        junk = bytes([rng.randrange(20, 256)]) + rng.randbytes((1 << 20) - 1)
        p.send_all(junk)
        closed = p.wait_closed()
        report(closed)
        return 0 if closed else 1

    peer_id = b"-EV0001-" + rng.randbytes(12)
    p.send_all(b"\x13BitTorrent protocol" + bytes(8) + ih + peer_id)
    hs = p.read_exact(68)
    if hs is None or hs[:20] != b"\x13BitTorrent protocol" or hs[28:48] != ih:
        report(p.closed, "no valid handshake from the seeder")
        return 2

    if a.mode == "bigframe":
        p.send_all(struct.pack(">IB", 0x7FFFFFF0, 7) + struct.pack(">II", 0, 0))
        for _ in range(64):  # up to 4 MiB of the "block"
            if not p.send_all(rng.randbytes(1 << 16)):
                break
        closed = p.wait_closed()
        report(closed)
        return 0 if closed else 1

    # Interested; collect the seeder's BITFIELD/HAVE and wait for UNCHOKE.
    have = [False] * npieces
    unchoked = False
    p.send_all(msg(2))
    unchoke_deadline = time.monotonic() + min(25.0, a.timeout / 2)
    while not unchoked and time.monotonic() < unchoke_deadline:
        if not p.fill(0.2):
            break
        for mid, pl in p.messages():
            if mid == 1:
                unchoked = True
            elif mid == 0:
                unchoked = False
            elif mid == 5:
                for i in range(npieces):
                    if i // 8 < len(pl) and pl[i // 8] & (0x80 >> (i % 8)):
                        have[i] = True
            elif mid == 4 and len(pl) == 4:
                (i,) = struct.unpack(">I", pl)
                if i < npieces:
                    have[i] = True
    if not unchoked:
        report(p.closed, "never unchoked by the seeder")
        return 2
    t_unchoke = time.monotonic() - t0
    info = "unchoked_after=%.1fs,seeder_has=%d/%d" % (t_unchoke, sum(have), npieces)

    def blocks(pieces):
        for i in pieces:
            psize = min(plen, total - i * plen)
            for b in range(0, psize, 16384):
                yield i, b, min(16384, psize - b)

    if a.mode in ("missing", "badreq"):
        lacking = [i for i in range(npieces) if not have[i]]
        if a.mode == "missing":
            if not lacking:
                report(p.closed, "the seeder has every piece: nothing to ask for")
                return 2
            want = list(blocks(lacking))
            reqs = [want[k % len(want)] for k in range(a.count or 300)]
        else:
            owned = [i for i in range(npieces) if have[i]] or [0]
            # In-range pieces with impossible blocks first, then pieces
            # past the end of the torrent.
            bad = [(owned[0], plen, 16384), (owned[0], 0, 0),
                   (owned[0], 0xFFFFC000, 16384), (owned[0], 0, 1 << 20),
                   (npieces, 0, 16384), (0xFFFFFFFF, 0, 16384)]
            reqs = [bad[k % len(bad)] for k in range(a.count or 300)]
        for r in reqs:
            if not p.send_all(request(*r)):
                break
            # Read as we go: a well-behaved peer would.
            while p.fill(0):
                before = len(p.buf)
                for mid, pl in p.messages():
                    if mid == 7 and len(pl) >= 8:
                        (i,) = struct.unpack(">I", pl[:4])
                        if i >= npieces or not have[i]:
                            lacking_blocks += 1
                if len(p.buf) == before or not p.buf:
                    break
        while not p.closed and time.monotonic() < p.deadline:
            p.fill(0.5)
            for mid, pl in p.messages():
                if mid == 7 and len(pl) >= 8:
                    (i,) = struct.unpack(">I", pl[:4])
                    if i >= npieces or not have[i]:
                        lacking_blocks += 1
        report(p.closed)
        return 0 if p.closed else 1

    # flood: every block the seeder has, round and round, never reading.
    owned = [i for i in range(npieces) if have[i]]
    want = list(blocks(owned))
    n = a.count or 20000
    batch = b"".join(request(*want[k % len(want)]) for k in range(n))
    before = p.sent
    p.send_all(batch)
    info += ",requests_sent=%d" % ((p.sent - before) // 17)
    closed = p.wait_closed()
    report(closed)
    return 0 if closed else 1


if __name__ == "__main__":
    sys.exit(main())
