#!/usr/bin/python3
"""Run one benchmarked client and measure it (bench/download.sh).

    runone.py --json OUT --timeout S [--done-file F] [--stop-signal SIG]
              [--watch-pids P,P,...] -- COMMAND [ARG]...

Starts COMMAND in its own process group and waits for it with wait4(), so
the CPU time (user + sys) and the peak RSS (ru_maxrss) are those of the
client and of the children it waited for, nothing else. It also samples the
client's /proc/PID/status every 20 ms for the peak of RssAnon (RSS without
file-backed pages: libtorrent maps its files, so its VmHWM counts page
cache).

The run ends when COMMAND exits, or, with --done-file, as soon as F exists
(for clients that never exit on their own, e.g. transmission-cli with a
"torrent done" script that creates F): the wall time stops there and the
group gets --stop-signal, then SIGKILL after a grace period. After
--timeout seconds the group gets SIGTERM, then SIGKILL.

--watch-pids: processes (the seeders) whose CPU time used between the start
and the end is reported too, for information.

Writes one JSON object to OUT: wall, user, sys, maxrss_kb, anon_peak_kb,
exit (code, or -signal), timed_out, done_file_seen, watched_cpu.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    except (OSError, ValueError, IndexError):
        return 0.0


def anon_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def killpg(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--timeout", type=float, default=300.0)
    ap.add_argument("--done-file")
    ap.add_argument("--stop-signal", default="INT")
    ap.add_argument("--grace", type=float, default=20.0)
    ap.add_argument("--watch-pids", default="")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    stopsig = getattr(signal, "SIG" + a.stop_signal.upper().replace("SIG", ""))
    watched = [int(p) for p in a.watch_pids.split(",") if p.strip()]

    # Ours to forward: a TERM/INT to this runner ends the client too.
    child = None

    def on_signal(signum, _frame):
        if child is not None:
            killpg(child.pid, signal.SIGKILL)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    w0 = sum(cpu_of(p) for p in watched)
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, start_new_session=True)
    pid = child.pid
    t_end = None          # wall time stops here
    done_seen = False
    timed_out = False
    kill_at = None        # SIGKILL the group at this time
    anon_peak = 0
    w1 = None
    n = 0
    while True:
        r_pid, status, ru = os.wait4(pid, os.WNOHANG)
        now = time.monotonic()
        if r_pid == pid:
            break
        if n % 2 == 0:
            anon_peak = max(anon_peak, anon_kb(pid))
        n += 1
        if t_end is None and a.done_file and os.path.exists(a.done_file):
            t_end = now
            done_seen = True
            w1 = sum(cpu_of(p) for p in watched)
            killpg(pid, stopsig)
            kill_at = now + a.grace
        if not timed_out and t_end is None and now - t0 > a.timeout:
            timed_out = True
            t_end = now
            w1 = sum(cpu_of(p) for p in watched)
            killpg(pid, signal.SIGTERM)
            kill_at = now + a.grace
        if kill_at is not None and now > kill_at:
            killpg(pid, signal.SIGKILL)
            kill_at = now + 5
        time.sleep(0.01)
    if t_end is None:
        t_end = now
        w1 = sum(cpu_of(p) for p in watched)
    killpg(pid, signal.SIGKILL)  # leftovers of the group, if any
    code = os.waitstatus_to_exitcode(status)
    res = {
        "cmd": cmd,
        "wall": round(t_end - t0, 3),
        "exit_wall": round(now - t0, 3),
        "user": round(ru.ru_utime, 3),
        "sys": round(ru.ru_stime, 3),
        "maxrss_kb": ru.ru_maxrss,
        "anon_peak_kb": anon_peak,
        "exit": code,
        "timed_out": timed_out,
        "done_file_seen": done_seen,
        "watched_cpu": round((w1 or 0) - w0, 2),
    }
    with open(a.json, "w") as f:
        json.dump(res, f)
        f.write("\n")


if __name__ == "__main__":
    main()
