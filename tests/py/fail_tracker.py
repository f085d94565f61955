#!/usr/bin/python3
"""A tracker that refuses everything, for the integration tests.

    fail_tracker.py TEXT [PORT]

Serves HTTP on 127.0.0.1:PORT (default: any free port) and answers every
GET, announce and scrape alike, with the bencoded dictionary
{"failure reason": TEXT}. Prints "ready port=N" once listening, logs one
line per request on stderr (with the User-Agent in brackets), runs until
killed."""
import signal
import sys

from btkit import fixed_reply_server


def main():
    text = sys.argv[1].encode()
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    body = b"d14:failure reason%d:%se" % (len(text), text)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = fixed_reply_server("fail_tracker", body, port)
    print("ready port=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
