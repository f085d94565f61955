#!/usr/bin/python3
"""A python3-libtorrent leecher for the integration tests, confined to loopback.

    lt_leech.py TORRENT SAVE_DIR [--ip IP] [--port PORT] [--peer HOST:PORT]...
                [--download-limit BYTES] [--timeout SECS] [--status SECS]

Listens on IP:PORT (default 127.0.0.1, port 0 = any) with DHT, LSD, UPnP,
NAT-PMP, PEX and uTP off, adds TORRENT with an empty SAVE_DIR and prints
    ready port=N
Then it announces to the torrent's trackers (if it has any) and connects to
every --peer (connect_peer; repeated every 3 s while nothing is connected,
so a peer that starts late is still found), and exits 0 once every piece is
downloaded and verified, after printing
    done bytes=B secs=S rate=R peers=P
where B is the payload downloaded, S the time from the first payload byte
to the last verified piece and R = B / S (bytes per second). On timeout it
prints the state on stderr and exits 1. SIGTERM/SIGINT end it (exit 2).
With --status, every SECS it also prints
    status t=T bytes=B peers=P unchoked=U
T being time.monotonic() (one clock for every process on the machine, so
the lines of several leechers can be merged), B the payload downloaded so
far, P the peers connected and U how many of them do not choke us, and
once more just before the "done" line."""
import argparse
import signal
import sys
import time

import libtorrent as lt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torrent")
    ap.add_argument("save_dir")
    ap.add_argument("--ip", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--peer", action="append", default=[])
    ap.add_argument("--download-limit", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--status", type=float, default=0.0)
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(2))

    settings = {
        "listen_interfaces": "%s:%d" % (a.ip, a.port),
        "outgoing_interfaces": a.ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification,
        "user_agent": "lt_leech/" + lt.__version__,
    }
    ses = lt.session(settings)
    if a.download_limit:
        # Loopback peers are in the "local" class that no limit applies to.
        f = lt.ip_filter()
        f.add_rule("0.0.0.0", "255.255.255.255", 1 << ses.global_peer_class_id)
        ses.set_peer_class_filter(f)
        ses.apply_settings({"download_rate_limit": a.download_limit})
    ses.add_extension("ut_metadata")

    ti = lt.torrent_info(a.torrent)
    p = lt.add_torrent_params()
    p.ti = ti
    p.save_path = a.save_dir
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(p)
    print("ready port=%d" % ses.listen_port(), flush=True)

    peers = []
    for s in a.peer:
        host, _, port = s.rpartition(":")
        peers.append((host, int(port)))

    start = time.monotonic()
    deadline = start + a.timeout
    first = None
    last_dial = -100.0
    next_status = start
    while True:
        for al in ses.pop_alerts():
            if isinstance(al, lt.listen_failed_alert):
                print("listen failed: %s" % al.message(), file=sys.stderr)
                sys.exit(1)
        st = h.status()
        now = time.monotonic()
        if first is None and st.total_payload_download > 0:
            first = now
        if peers and st.num_peers == 0 and now - last_dial > 3 and st.state in (
                lt.torrent_status.downloading, lt.torrent_status.finished,
                lt.torrent_status.seeding, lt.torrent_status.downloading_metadata):
            for pr in peers:
                h.connect_peer(pr)
            last_dial = now
        done = st.is_seeding or st.is_finished
        if a.status > 0 and (now >= next_status or done):
            unchoked = sum(1 for pi in h.get_peer_info()
                           if not pi.flags & lt.peer_info.remote_choked)
            print("status t=%.3f bytes=%d peers=%d unchoked=%d"
                  % (now, st.total_payload_download, st.num_peers, unchoked), flush=True)
            next_status = now + a.status
        if done:
            secs = max(now - (first or start), 1e-6)
            b = st.total_payload_download
            print("done bytes=%d secs=%.3f rate=%.0f peers=%d" % (b, secs, b / secs, st.num_peers),
                  flush=True)
            # Let the storage threads finish writing before the session goes.
            h.flush_cache()
            time.sleep(0.3)
            del h
            del ses
            return 0
        if now > deadline:
            print("not done after %gs: state %s, %d/%d pieces, %d bytes, %d peers, error %r"
                  % (a.timeout, st.state, st.num_pieces, ti.num_pieces(),
                     st.total_payload_download, st.num_peers, st.errc.message()),
                  file=sys.stderr)
            return 1
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
