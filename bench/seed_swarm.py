#!/usr/bin/python3
"""Three python3-libtorrent leechers against one seeder (bench/seed.sh).

    seed_swarm.py --seeder-pid PID --peer HOST:PORT --json OUT
                  [--ips 127.0.0.2,127.0.0.3,127.0.0.4] [--timeout S]
                  TORRENT DIR...

Starts one leecher process per DIR (each an empty folder), leecher i bound
to the i-th address of --ips. Each leecher uses libtorrent's default
settings apart from what a loopback swarm needs (DHT, LSD, UPnP, NAT-PMP,
uTP off, several connections per IP allowed, plain-text BitTorrent) and an
IP filter that admits only the seeder's address, so the leechers cannot
trade pieces among themselves: every byte comes from the seeder.

Once every leecher has its torrent loaded and says "ready", this script
resets the seeder's peak RSS (writes 5 to /proc/PID/clear_refs), samples
its CPU time (utime + stime of every thread, /proc/PID/stat), then sends
"go": each leecher dials the seeder with connect_peer(). Timing starts at
"go" and stops when the last leecher has every piece hash-checked; the
seeder's CPU time, VmHWM and highest RssAnon (sampled every ~20 ms) are
taken over that interval. Then each leecher flushes its writes and exits.

Writes one JSON object to OUT: wall, seeder_cpu (user, sys), seeder_hwm_kb,
seeder_anon_peak_kb, seeder_rss_peak_kb (sampled), uploaded (payload bytes
the leechers received, wasted ones included), leechers (per-leecher done
time, bytes, CPU), ok, error.

Run with --leech (internal) it is one leecher:
    seed_swarm.py --leech --ip IP --peer HOST:PORT TORRENT DIR
"""
import argparse
import json
import os
import selectors
import signal
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


# --- one leecher -------------------------------------------------------------
def leech(a):
    import libtorrent as lt

    host, port = a.peer.rsplit(":", 1)
    port = int(port)
    ses = lt.session({
        "listen_interfaces": "%s:0" % a.ip,
        "outgoing_interfaces": a.ip,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_incoming_utp": False,
        "enable_outgoing_utp": False,
        "allow_multiple_connections_per_ip": True,
        # Plain BitTorrent: pieces speaks no MSE; a first encrypted attempt
        # would only add a reconnect to its numbers.
        "out_enc_policy": int(lt.enc_policy.disabled),
        "alert_mask": (lt.alert.category_t.status_notification
                       | lt.alert.category_t.error_notification
                       | lt.alert.category_t.storage_notification),
        "user_agent": "bench_leech/" + lt.__version__,
    })
    # Only the seeder: no leecher-to-leecher trading (e.g. through PEX).
    f = lt.ip_filter()
    f.add_rule("0.0.0.0", "255.255.255.255", 1)
    f.add_rule(host, host, 0)
    ses.set_ip_filter(f)
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(a.torrent)
    p.save_path = a.dir
    p.flags &= ~lt.torrent_flags.auto_managed
    p.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(p)
    deadline = time.monotonic() + 60
    while h.status().state in (lt.torrent_status.checking_files,
                               lt.torrent_status.checking_resume_data):
        if time.monotonic() > deadline:
            print("error: still checking", flush=True)
            os._exit(1)
        time.sleep(0.01)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        os._exit(1)
    h.connect_peer((host, port), 0)
    last_dial = time.monotonic()
    done = False
    while not done:
        ses.wait_for_alert(20)
        for al in ses.pop_alerts():
            if isinstance(al, (lt.file_error_alert, lt.torrent_error_alert)):
                print("error: %s" % al.message(), flush=True)
                os._exit(1)
            if isinstance(al, lt.torrent_finished_alert):
                done = True
        s = h.status()
        if s.is_seeding:
            done = True
        elif s.num_peers == 0 and time.monotonic() - last_dial > 1.0:
            # Dropped or refused: dial again (the caller bounds the time).
            h.connect_peer((host, port), 0)
            last_dial = time.monotonic()
    t_done = time.monotonic()
    s = h.status()
    print("done %.6f %d %d %d" % (t_done, s.total_payload_download,
                                  s.total_redundant_bytes, s.total_failed_bytes),
          flush=True)
    h.flush_cache()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ses.wait_for_alert(100)
        for al in ses.pop_alerts():
            if isinstance(al, lt.cache_flushed_alert):
                print("flushed", flush=True)
                os._exit(0)
    print("error: no cache_flushed_alert after flush_cache()", flush=True)
    os._exit(1)


# --- the controller ----------------------------------------------------------
def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK  # utime, stime


def status_kb(pid, *keys):
    out = dict.fromkeys(keys, 0)
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in out:
                    out[k] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return out


def control(a):
    me = os.path.abspath(__file__)
    ips = a.ips.split(",")
    if len(ips) < len(a.dirs):
        sys.exit("seed_swarm.py: fewer --ips than folders")
    procs = []
    res = {"ok": False, "error": None, "leechers": []}

    def finish():
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
        with open(a.json, "w") as f:
            json.dump(res, f)
            f.write("\n")

    def on_signal(signum, _frame):
        res["error"] = "signal %d" % signum
        finish()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sel = selectors.DefaultSelector()
    for i, d in enumerate(a.dirs):
        p = subprocess.Popen([sys.executable, me, "--leech", "--ip", ips[i], "--peer", a.peer,
                              a.torrent, d],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             start_new_session=True)
        procs.append(p)
        sel.register(p.stdout.fileno(), selectors.EVENT_READ, i)
    lines = [[] for _ in procs]
    partial = [b""] * len(procs)
    ended = [False] * len(procs)

    def pump(timeout):
        for key, _ in sel.select(timeout):
            i = key.data
            chunk = os.read(key.fd, 4096)
            if not chunk:
                sel.unregister(key.fd)
                ended[i] = True
                continue
            buf = partial[i] + chunk
            *done, partial[i] = buf.split(b"\n")
            lines[i].extend(l.decode(errors="replace").split() for l in done)

    def has(i, word):
        return any(w and w[0] == word for w in lines[i])

    def failed():
        for i in range(len(procs)):
            if has(i, "error") or (ended[i] and not has(i, "flushed")):
                return "leecher %s: %s" % (ips[i], " ".join(
                    " ".join(w) for w in lines[i] if w and w[0] == "error") or
                    "exited %s" % procs[i].poll())
        return None

    deadline = time.monotonic() + 60
    while not all(has(i, "ready") for i in range(len(procs))):
        pump(0.05)
        err = failed()
        if err or time.monotonic() > deadline:
            res["error"] = err or "leechers not ready in 60 s"
            finish()
            return 1

    spid = a.seeder_pid
    try:
        with open("/proc/%d/clear_refs" % spid, "w") as f:
            f.write("5")  # VmHWM := VmRSS
    except OSError as e:
        res["hwm_reset_error"] = str(e)
    u0, s0 = cpu_of(spid)
    t0 = time.monotonic()
    for p in procs:
        p.stdin.write(b"go\n")
        p.stdin.flush()
    anon_peak = rss_peak = 0
    u1 = s1 = hwm = None
    last_sample = 0.0
    deadline = t0 + a.timeout
    while True:
        pump(0.005)
        now = time.monotonic()
        if now - last_sample >= 0.02:
            last_sample = now
            st = status_kb(spid, "RssAnon", "VmRSS")
            anon_peak = max(anon_peak, st["RssAnon"])
            rss_peak = max(rss_peak, st["VmRSS"])
        if u1 is None and all(has(i, "done") for i in range(len(procs))):
            u1, s1 = cpu_of(spid)
            st = status_kb(spid, "VmHWM", "RssAnon", "VmRSS")
            hwm = st["VmHWM"]
            anon_peak = max(anon_peak, st["RssAnon"])
            rss_peak = max(rss_peak, st["VmRSS"])
        if u1 is not None and all(ended):
            break
        err = failed()
        if err:
            res["error"] = err
            break
        if now > deadline:
            res["error"] = "timeout after %g s" % a.timeout
            break
    if not os.path.exists("/proc/%d" % spid):
        res["error"] = res["error"] or "the seeder died"
    if u1 is None:
        try:
            u1, s1 = cpu_of(spid)
        except OSError:
            u1, s1 = u0, s0
    done_t = []
    up = 0
    for i, p in enumerate(procs):
        try:
            _, status, ru = os.wait4(p.pid, 0 if ended[i] else os.WNOHANG)
        except ChildProcessError:
            status, ru = None, None
        d = [w for w in lines[i] if w and w[0] == "done"]
        rec = {"ip": ips[i]}
        if d:
            rec.update(done=round(float(d[0][1]) - t0, 3), bytes=int(d[0][2]),
                       redundant=int(d[0][3]), failed=int(d[0][4]))
            done_t.append(float(d[0][1]))
            up += int(d[0][2])
        if ru is not None:
            rec.update(cpu=round(ru.ru_utime + ru.ru_stime, 3),
                       exit=os.waitstatus_to_exitcode(status))
        res["leechers"].append(rec)
    res.update(
        wall=round(max(done_t) - t0, 3) if len(done_t) == len(procs) else round(now - t0, 3),
        seeder_user=round(u1 - u0, 3), seeder_sys=round(s1 - s0, 3),
        seeder_hwm_kb=hwm or 0, seeder_anon_peak_kb=anon_peak,
        seeder_rss_peak_kb=rss_peak, uploaded=up,
        leechers_cpu=round(sum(r.get("cpu", 0) for r in res["leechers"]), 3))
    res["ok"] = res["error"] is None
    finish()
    return 0 if res["ok"] else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("torrent")
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--leech", action="store_true")
    ap.add_argument("--ip", default="127.0.0.2")
    ap.add_argument("--ips", default="127.0.0.2,127.0.0.3,127.0.0.4")
    ap.add_argument("--peer", required=True)
    ap.add_argument("--seeder-pid", type=int)
    ap.add_argument("--json")
    ap.add_argument("--timeout", type=float, default=300.0)
    a = ap.parse_args()
    if a.leech:
        a.dir = a.dirs[0]
        leech(a)
        return 0
    if not a.seeder_pid or not a.json:
        ap.error("--seeder-pid and --json are needed")
    return control(a)


if __name__ == "__main__":
    sys.exit(main())
