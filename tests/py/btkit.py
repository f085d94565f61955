"""What the hand-written test peers and trackers share: a bencode decoder
that keeps the info dictionary's raw bytes (for its hash), a torrent's
facts, and a tracker that answers every request with one fixed body."""
import hashlib
import http.server
import sys


def bdecode(b, i=0):
    """Returns (value, end); dict values also keep their raw span in
    a side table so that the info dictionary can be hashed verbatim."""
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            start = i
            v, i = bdecode(b, i)
            out[k] = v
            out[b"__span_" + k] = (start, i)
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


def torrent_facts(path):
    """(info-hash, piece length, total size, piece count) of a .torrent."""
    raw = open(path, "rb").read()
    top, _ = bdecode(raw)
    s, e = top[b"__span_info"]
    info = top[b"info"]
    plen = info[b"piece length"]
    if b"length" in info:
        total = info[b"length"]
    else:
        total = sum(f[b"length"] for f in info[b"files"])
    npieces = len(info[b"pieces"]) // 20
    return hashlib.sha1(raw[s:e]).digest(), plen, total, npieces


def fixed_reply_server(name, body, port=0, wrap=None):
    """An HTTP server on 127.0.0.1:port (0: any free port) that answers
    every GET with body, logging each request on stderr as "name: ..."
    with the User-Agent in brackets. wrap, when given, wraps the listening
    socket (TLS). Returns the server; serve_forever() runs it."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            sys.stderr.write("%s: %s [%s]\n"
                             % (name, fmt % args, self.headers.get("User-Agent", "")))
            sys.stderr.flush()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if wrap is not None:
        srv.socket = wrap(srv.socket)
    return srv
