#!/usr/bin/python3
"""An HTTPS tracker for the integration tests, on 127.0.0.1 only.

    tls_tracker.py CERT KEY PEER...

Serves HTTPS with the certificate and key in the PEM files CERT and KEY,
on any free port of 127.0.0.1, and answers every announce with the
compact peer list of the PEER arguments (IPv4 HOST:PORT each) and an
interval of 1800 s. opentracker speaks no TLS, hence this. Prints
"ready port=N" once listening, logs one line per request on stderr (with
the User-Agent in brackets), runs until killed."""
import signal
import socket
import ssl
import struct
import sys

from btkit import fixed_reply_server


def main():
    cert, key = sys.argv[1], sys.argv[2]
    peers = b""
    for arg in sys.argv[3:]:
        host, port = arg.rsplit(":", 1)
        peers += socket.inet_aton(host) + struct.pack(">H", int(port))
    body = b"d8:intervali1800e5:peers%d:%se" % (len(peers), peers)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = fixed_reply_server("tls_tracker", body,
                             wrap=lambda s: ctx.wrap_socket(s, server_side=True))
    print("ready port=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
