#!/usr/bin/env python3
"""Measures a fleet of Weft agents and a fleet of serf agents, one after the other, in one run.

Run by serf_bench.sh inside a private network namespace (only 127.0.0.1 exists there), so the
namespace's UDP counters count only the agents' own datagrams. For each N and each system it:
  1. starts agent 0, waits until it answers, then starts agents 1..N-1 as fast as it can, each
     joining agent 0, and measures the time from the first launch until every agent has been
     seen to list all N members alive (convergence);
  2. lets the fleet settle, then over a window in which nobody polls any agent reads the
     namespace's UDP OutDatagrams and each agent's utime+stime (/proc/PID/stat) and VmRSS
     (/proc/PID/status) (steady state);
  3. kill -9 the last agent and measures until every survivor has been seen to mark it failed
     (failure detection);
  4. SIGSTOPs agent 1 for each pause, SIGCONTs it, and counts the survivors that were ever seen
     marking it failed, observing until it is alive everywhere again (flaps).
Polling reads members over a kept-alive connection per agent (HTTP for Weft, serf's msgpack RPC
for serf) and polls only agents whose answer is still pending, so a round costs a few ms per
agent. A state that lasts less than one polling round can be missed; the round time is reported.

Prints one JSON object per (system, N) on stdout, and a markdown table at the end.
Only the standard library; no msgpack module (a minimal codec for serf's RPC is below).
"""
import argparse
import http.client
import json
import math
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def now():
    return time.monotonic()


def log(*a):
    print("#", *a, file=sys.stderr, flush=True)


# ---- minimal msgpack (what serf's RPC uses: maps, arrays, raw/str, ints, bools, nil) ----

def mp_pack(o):
    if o is None:
        return b"\xc0"
    if o is True:
        return b"\xc3"
    if o is False:
        return b"\xc2"
    if isinstance(o, int):
        if 0 <= o < 128:
            return bytes([o])
        if 0 <= o < 2 ** 32:
            return b"\xce" + struct.pack(">I", o)
        return b"\xd3" + struct.pack(">q", o)
    if isinstance(o, str):
        b = o.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b  # raw16: old codecs lack str8
    if isinstance(o, dict):
        assert len(o) < 16
        return bytes([0x80 | len(o)]) + b"".join(mp_pack(k) + mp_pack(v) for k, v in o.items())
    raise TypeError(type(o))


class Short(Exception):
    pass


def mp_unpack(buf, i):
    """Decodes one object at buf[i:]; returns (object, next index); raises Short if incomplete."""
    def need(n):
        if i + n > len(buf):
            raise Short()

    need(1)
    b = buf[i]
    i += 1

    def raw(n, i):
        if i + n > len(buf):
            raise Short()
        s = bytes(buf[i:i + n])
        try:
            return s.decode(), i + n
        except UnicodeDecodeError:
            return s, i + n

    def seq(n, i, pairs):
        out = {} if pairs else []
        for _ in range(n):
            k, i = mp_unpack(buf, i)
            if pairs:
                v, i = mp_unpack(buf, i)
                out[k if not isinstance(k, bytes) else k.decode("latin-1")] = v
            else:
                out.append(k)
        return out, i

    def fixed(fmt, n, i):
        if i + n > len(buf):
            raise Short()
        return struct.unpack(fmt, bytes(buf[i:i + n]))[0], i + n

    if b <= 0x7F:
        return b, i
    if b >= 0xE0:
        return b - 256, i
    if 0x80 <= b <= 0x8F:
        return seq(b & 0x0F, i, True)
    if 0x90 <= b <= 0x9F:
        return seq(b & 0x0F, i, False)
    if 0xA0 <= b <= 0xBF:
        return raw(b & 0x1F, i)
    if b == 0xC0:
        return None, i
    if b == 0xC2:
        return False, i
    if b == 0xC3:
        return True, i
    table = {0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8),
             0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8),
             0xCA: (">f", 4), 0xCB: (">d", 8)}
    if b in table:
        return fixed(*table[b], i)
    if b in (0xC4, 0xD9):
        n, i = fixed(">B", 1, i)
        return raw(n, i)
    if b in (0xC5, 0xDA):
        n, i = fixed(">H", 2, i)
        return raw(n, i)
    if b in (0xC6, 0xDB):
        n, i = fixed(">I", 4, i)
        return raw(n, i)
    if b == 0xDC:
        n, i = fixed(">H", 2, i)
        return seq(n, i, False)
    if b == 0xDD:
        n, i = fixed(">I", 4, i)
        return seq(n, i, False)
    if b == 0xDE:
        n, i = fixed(">H", 2, i)
        return seq(n, i, True)
    if b == 0xDF:
        n, i = fixed(">I", 4, i)
        return seq(n, i, True)
    raise ValueError("msgpack byte 0x%02x" % b)


class SerfRpc:
    """One kept-alive connection to a serf agent's RPC port: handshake once, then members."""

    def __init__(self, port, timeout_s):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.buf = bytearray()
        self.seq = 0
        self._call("handshake", {"Version": 1}, body=False)

    def _read(self):
        while True:
            try:
                obj, n = mp_unpack(self.buf, 0)
                del self.buf[:n]
                return obj
            except Short:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("serf rpc closed")
                self.buf += chunk

    def _call(self, cmd, arg=None, body=True):
        self.seq += 1
        msg = mp_pack({"Command": cmd, "Seq": self.seq})
        if arg is not None:
            msg += mp_pack(arg)
        self.sock.sendall(msg)
        hdr = self._read()
        if hdr.get("Error"):
            raise RuntimeError("serf rpc: %s" % hdr["Error"])
        return self._read() if body else None

    def members(self):
        return {m["Name"]: m["Status"] for m in self._call("members")["Members"]}

    def close(self):
        self.sock.close()


class WeftHttp:
    def __init__(self, port, timeout_s):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)

    def members(self):
        self.conn.request("GET", "/v1/agent/members")
        r = self.conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError("HTTP %d" % r.status)
        return {m["Name"]: m["State"] for m in json.loads(body)}

    def close(self):
        self.conn.close()


# ---- fleets ----

class Fleet:
    """N agents of one system, ports distinct per agent, all on 127.0.0.1."""

    def __init__(self, system, n, args, workdir):
        self.system, self.n, self.args = system, n, args
        self.dir = os.path.join(workdir, "%s-%d" % (system, n))
        os.makedirs(self.dir, exist_ok=True)
        self.procs = [None] * n
        self.clients = [None] * n
        self.prefix = "w" if system == "weft" else "s"

    def name(self, i):
        return "%s%d" % (self.prefix, i)

    # Weft: gossip, http, rpc, dns = 10000 + 4i + 0..3.  Serf: bind, rpc = 30000 + 2i + 0..1.
    def gossip_port(self, i):
        return 10000 + 4 * i if self.system == "weft" else 30000 + 2 * i

    def poll_port(self, i):
        return 10000 + 4 * i + 1 if self.system == "weft" else 30000 + 2 * i + 1

    def argv(self, i):
        join = [] if i == 0 else None
        if self.system == "weft":
            p = 10000 + 4 * i
            d = os.path.join(self.dir, self.name(i))
            os.makedirs(d, exist_ok=True)
            a = [self.args.agent, "-node_name=" + self.name(i), "-data_dir=" + d, "-bind_addr=127.0.0.1",
                 "-ports.gossip=%d" % p, "-ports.http=%d" % (p + 1), "-ports.rpc=%d" % (p + 2),
                 "-ports.dns=%d" % (p + 3), "-gossip.profile=lan", "-log_level=warn"]
            if self.args.key:
                a.append("-encrypt=" + self.args.key)
            if i:
                a.append("-join=127.0.0.1:%d" % self.gossip_port(0))
        else:
            p = 30000 + 2 * i
            a = [self.args.serf, "agent", "-node=" + self.name(i), "-bind=127.0.0.1:%d" % p,
                 "-rpc-addr=127.0.0.1:%d" % (p + 1), "-log-level=warn"]
            if self.args.key:
                a.append("-encrypt=" + self.args.key)
            if i:
                a += ["-join", "127.0.0.1:%d" % self.gossip_port(0)]
        del join
        return a

    def start(self, i):
        out = open(os.path.join(self.dir, self.name(i) + ".log"), "ab")
        self.procs[i] = subprocess.Popen(self.argv(i), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        out.close()

    def view(self, i):
        """Members as agent i sees them ({name: state}), or None if it did not answer."""
        for attempt in (0, 1):
            try:
                if self.clients[i] is None:
                    cls = WeftHttp if self.system == "weft" else SerfRpc
                    self.clients[i] = cls(self.poll_port(i), self.args.poll_timeout)
                return self.clients[i].members()
            except (OSError, ConnectionError, RuntimeError, http.client.HTTPException, ValueError):
                self.drop_client(i)
        return None

    def drop_client(self, i):
        if self.clients[i] is not None:
            try:
                self.clients[i].close()
            except OSError:
                pass
            self.clients[i] = None

    def pids(self, idx):
        return [self.procs[i].pid for i in idx]

    def stop(self):
        for i in range(self.n):
            self.drop_client(i)
        for p in self.procs:
            if p is not None and p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    p.kill()
                except ProcessLookupError:
                    pass
        for p in self.procs:
            if p is not None:
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass


def udp_out():
    """OutDatagrams and InDatagrams of this network namespace (Udp line of /proc/net/snmp)."""
    with open("/proc/net/snmp") as f:
        lines = [l.split() for l in f if l.startswith("Udp:")]
    h, v = lines[0], lines[1]
    d = dict(zip(h[1:], map(int, v[1:])))
    return d["OutDatagrams"], d["InDatagrams"]


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)


def sched_ns(pid):
    """On-CPU time of every thread of pid, in ns (/proc/PID/task/*/schedstat, first field):
    nanosecond resolution where utime+stime counts 10 ms ticks."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
    except FileNotFoundError:
        pass
    return total


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def survivors_poll(fleet, observers, pred, deadline, on_view=None):
    """Polls each observer still pending until pred(view) holds for it; returns
    ({observer: time first seen true}, longest round in s). Bounded by deadline."""
    pending = list(observers)
    seen = {}
    round_max = 0.0
    while pending and now() < deadline:
        t_round = now()
        still = []
        for i in pending:
            v = fleet.view(i)
            t = now()
            if on_view is not None and v is not None:
                on_view(i, v, t)
            if v is not None and pred(v):
                seen[i] = t
            else:
                still.append(i)
        pending = still
        round_max = max(round_max, now() - t_round)
        if pending:
            time.sleep(0.02)
    return seen, round_max


def min_suspicion_s(n):
    # memberlist (and Weft's lan profile): suspicion_mult * max(1, log10(n)) * probe_interval.
    return 4 * max(1.0, math.log10(max(n, 1))) * 1.0


def run_fleet(system, n, args, workdir):
    fleet = Fleet(system, n, args, workdir)
    r = {"system": system, "n": n, "load_start": loadavg()}
    try:
        names = [fleet.name(i) for i in range(n)]
        all_alive = lambda v: sum(1 for s in v.values() if s == "alive") >= n
        # 1. convergence.
        t0 = now()
        fleet.start(0)
        ready, _ = survivors_poll(fleet, [0], lambda v: True, t0 + 15)
        if not ready:
            raise RuntimeError("%s agent 0 did not answer within 15 s" % system)
        for i in range(1, n):
            fleet.start(i)
        r["launch_s"] = now() - t0
        seen, rnd = survivors_poll(fleet, range(n), all_alive, t0 + args.converge_timeout)
        r["converge_round_max_s"] = rnd
        if len(seen) < n:
            r["converge_s"] = None
            r["converged_agents"] = len(seen)
            log("%s N=%d: only %d/%d agents converged within %ds" % (system, n, len(seen), n, args.converge_timeout))
        else:
            r["converge_s"] = max(seen.values()) - t0
        log("%s N=%d: converged in %s s" % (system, n, r.get("converge_s")))
        dead = [i for i in range(n) if fleet.procs[i].poll() is not None]
        if dead:
            raise RuntimeError("%s agents exited: %s" % (system, dead))

        # 2. steady state: nobody polls during the window.
        for i in range(n):
            fleet.drop_client(i)  # idle connections would still cost the agents nothing, but be sure
        time.sleep(args.settle)
        pids = fleet.pids(range(n))
        u0, in0 = udp_out()
        c0 = [cpu_ticks(p) for p in pids]
        s0 = [sched_ns(p) for p in pids]
        ts0 = now()
        rss = [[] for _ in pids]
        samples = 5
        for k in range(samples):
            for j, p in enumerate(pids):
                rss[j].append(rss_kib(p))
            if k < samples - 1:
                time.sleep(args.window / (samples - 1))
        u1, in1 = udp_out()
        c1 = [cpu_ticks(p) for p in pids]
        s1 = [sched_ns(p) for p in pids]
        dt = now() - ts0
        r["window_s"] = dt
        r["load_window"] = loadavg()
        r["udp_out_per_agent_s"] = (u1 - u0) / n / dt
        r["udp_in_per_agent_s"] = (in1 - in0) / n / dt
        cpu_ms = [(b - a) * 1000.0 / CLK_TCK / dt for a, b in zip(c0, c1)]
        r["cpu_ms_per_agent_s"] = sum(cpu_ms) / n
        r["cpu_ms_per_agent_s_max"] = max(cpu_ms)
        sched_ms = [(b - a) / 1e6 / dt for a, b in zip(s0, s1)]
        r["cpu_sched_ms_per_agent_s"] = sum(sched_ms) / n
        r["cpu_sched_ms_per_agent_s_max"] = max(sched_ms)
        means = [sum(x) / len(x) for x in rss]
        r["rss_mib_avg"] = sum(means) / n / 1024
        r["rss_mib_max"] = max(max(x) for x in rss) / 1024
        log("%s N=%d: udp %.2f/agent/s, cpu %.3f (sched %.3f) ms/agent/s, rss %.2f/%.2f MiB" % (
            system, n, r["udp_out_per_agent_s"], r["cpu_ms_per_agent_s"], r["cpu_sched_ms_per_agent_s"], r["rss_mib_avg"], r["rss_mib_max"]))

        # 3. failure detection: kill -9 an agent, args.detect_reps times. Detection time is a
        # random variable (where the victim sits in each prober's round, who probes it first), so
        # one kill says little: every repetition but the last kills a different agent, measures,
        # restarts it under the same name and waits until all N see all N alive again; the last
        # kills agent N-1 and leaves it dead, as the phases below expect.
        reps = max(1, min(args.detect_reps, n - 2))
        victims = [n - 2 - k for k in range(reps - 1)] + [n - 1]
        detects, firsts = [], []
        for k, victim in enumerate(victims):
            vname = names[victim]
            survivors = [i for i in range(n) if i != victim]
            fleet.drop_client(victim)
            t_kill = now()
            os.kill(fleet.procs[victim].pid, signal.SIGKILL)
            fleet.procs[victim].wait()
            seen, rnd = survivors_poll(fleet, survivors, lambda v: v.get(vname) == "failed",
                                       t_kill + args.detect_timeout)
            r["detect_round_max_s"] = max(r.get("detect_round_max_s", 0.0), rnd)
            if len(seen) < len(survivors):
                r["detect_missed"] = r.get("detect_missed", 0) + 1
                log("%s N=%d: kill %d of %d: only %d of %d survivors marked %s failed" % (
                    system, n, k + 1, reps, len(seen), len(survivors), vname))
            else:
                detects.append(max(seen.values()) - t_kill)
                firsts.append(min(seen.values()) - t_kill)
                log("%s N=%d: kill %d of %d: %s failed everywhere in %.2f s (first %.2f)" % (
                    system, n, k + 1, reps, vname, detects[-1], firsts[-1]))
            if k < len(victims) - 1:
                fleet.start(victim)
                back, _ = survivors_poll(fleet, range(n), all_alive, now() + args.converge_timeout)
                if len(back) < n:
                    raise RuntimeError("%s N=%d: %s did not rejoin within %ds" % (system, n, vname, args.converge_timeout))
        r["detect_reps"] = reps
        r["detect_all_s"] = detects
        if detects and not r.get("detect_missed"):
            r["detect_s"] = sum(detects) / len(detects)
            r["detect_median_s"] = statistics.median(detects)
            r["detect_max_s"] = max(detects)
            r["detect_min_s"] = min(detects)
            r["detect_first_s"] = sum(firsts) / len(firsts)
        else:
            r["detect_s"] = None
        log("%s N=%d: failure detected everywhere in %s s mean of %d (first %s)" % (
            system, n, r.get("detect_s"), reps, r.get("detect_first_s")))

        # 4. flaps: SIGSTOP agent 1, SIGCONT, count observers that ever marked it failed.
        paused = 1
        pname = names[paused]
        observers = [i for i in range(n - 1) if i != paused]
        flaps = {}
        for pause in args.pauses:
            ok, _ = survivors_poll(fleet, observers, lambda v: v.get(pname) == "alive", now() + 60)
            if len(ok) < len(observers):
                log("%s N=%d: %s not alive everywhere before the %gs pause" % (system, n, pname, pause))
            failed_by, suspect_by = set(), set()
            rounds = []

            def watch(i, v, t):
                st = v.get(pname)
                if st == "failed":
                    failed_by.add(i)
                elif st == "suspect":
                    suspect_by.add(i)

            fleet.drop_client(paused)
            t_stop = now()
            os.kill(fleet.procs[paused].pid, signal.SIGSTOP)
            while now() < t_stop + pause:  # observe during the pause, all observers each round
                t_r = now()
                for i in observers:
                    v = fleet.view(i)
                    if v is not None:
                        watch(i, v, now())
                    if now() >= t_stop + pause:
                        break
                rounds.append(now() - t_r)
                time.sleep(0.02)
            os.kill(fleet.procs[paused].pid, signal.SIGCONT)
            t_cont = now()
            # after the pause: every observer each round, until all see it alive (and at least
            # flap_tail seconds have passed), bounded.
            victim_view_failed = 0
            while now() < t_cont + args.flap_timeout:
                t_r = now()
                alive_all = True
                for i in observers:
                    v = fleet.view(i)
                    if v is None:
                        alive_all = False
                        continue
                    watch(i, v, now())
                    if v.get(pname) != "alive":
                        alive_all = False
                vv = fleet.view(paused)  # the paused agent's own view: does it fail others?
                if vv is not None:
                    victim_view_failed = max(victim_view_failed, sum(
                        1 for k, s in vv.items() if s == "failed" and k != vname))
                rounds.append(now() - t_r)
                if alive_all and now() >= t_cont + args.flap_tail:
                    break
                time.sleep(0.02)
            recovered = now() - t_cont
            flaps[str(pause)] = {"failed_by": len(failed_by), "suspect_by": len(suspect_by),
                                 "observers": len(observers), "alive_again_s": recovered,
                                 "recovered": now() < t_cont + args.flap_timeout,
                                 "paused_agent_marked_failed": victim_view_failed,
                                 "round_max_s": max(rounds) if rounds else None}
            log("%s N=%d: pause %gs: %d/%d observers marked %s failed (%d suspect), alive again after %.1fs" % (
                system, n, pause, len(failed_by), len(observers), pname, len(suspect_by), recovered))
        r["flaps"] = flaps

        # 5. failure detection of a hung agent: SIGSTOP agent 1 for good. Unlike kill -9 on
        # loopback, nothing answers its port with ICMP or TCP refusals: only silence.
        ok, _ = survivors_poll(fleet, observers, lambda v: v.get(pname) == "alive", now() + 60)
        fleet.drop_client(paused)
        t_stop = now()
        os.kill(fleet.procs[paused].pid, signal.SIGSTOP)
        suspected = {}

        def first_suspect(i, v, t):
            if v.get(pname) in ("suspect", "failed") and i not in suspected:
                suspected[i] = t

        seen, rnd = survivors_poll(fleet, observers, lambda v: v.get(pname) == "failed",
                                   t_stop + args.detect_timeout, first_suspect)
        r["hang_detect_round_max_s"] = rnd
        if suspected:  # Weft only: serf's RPC never shows "suspect"
            r["hang_suspect_first_s"] = min(suspected.values()) - t_stop
            r["hang_suspect_last_s"] = max(suspected.values()) - t_stop
        if len(seen) < len(observers):
            r["hang_detect_s"] = None
            r["hang_detected_by"] = len(seen)
        else:
            r["hang_detect_s"] = max(seen.values()) - t_stop
            r["hang_detect_first_s"] = min(seen.values()) - t_stop
        log("%s N=%d: hung agent detected everywhere in %s s (first %s)" % (
            system, n, r.get("hang_detect_s"), r.get("hang_detect_first_s")))
        r["exited"] = [i for i in range(n - 1) if fleet.procs[i].poll() is not None]
        r["load_end"] = loadavg()
    finally:
        fleet.stop()
    return r


def fmt(x, nd=2):
    if x is None:
        return "—"
    if isinstance(x, float):
        return ("%." + str(nd) + "f") % x
    return str(x)


def ratio(a, b, nd=2):
    if a is None or b is None or b == 0:
        return "—"
    return ("%." + str(nd) + "f") % (a / b)


def table(results, pauses):
    out = []
    by = {(r["system"], r["n"]): r for r in results}
    for n in sorted({r["n"] for r in results}):
        w, s = by.get(("weft", n), {}), by.get(("serf", n), {})
        out.append("### N = %d (minimum suspicion time %.1f s; kill -9 repeated %s / %s times)\n" % (
            n, min_suspicion_s(n), w.get("detect_reps", "—"), s.get("detect_reps", "—")))
        out.append("| metric | Weft | Serf | Weft/Serf |")
        out.append("|---|---:|---:|---:|")
        rows = [("convergence, s (all see all N alive)", "converge_s", 2),
                ("failure detection, s (kill -9 until every survivor: failed), mean", "detect_s", 2),
                ("  median", "detect_median_s", 2),
                ("  fastest / slowest kill", "detect_minmax", 2),
                ("  first survivor to mark it failed, s (mean)", "detect_first_s", 2),
                ("failure detection of a hung agent, s (SIGSTOP until every survivor: failed)", "hang_detect_s", 2),
                ("  first survivor to mark it failed, s", "hang_detect_first_s", 2),
                ("  first / last survivor seen marking it suspect (or failed), s", "hang_suspect", 2),
                ("UDP datagrams sent per agent per s", "udp_out_per_agent_s", 2),
                ("CPU ms per agent per s (utime+stime, mean)", "cpu_ms_per_agent_s", 3),
                ("CPU ms per agent per s (schedstat ns, mean)", "cpu_sched_ms_per_agent_s", 3),
                ("CPU ms per agent per s (schedstat ns, busiest agent)", "cpu_sched_ms_per_agent_s_max", 3),
                ("resident memory per agent, MiB (mean)", "rss_mib_avg", 2),
                ("resident memory per agent, MiB (max)", "rss_mib_max", 2)]
        for label, k, nd in rows:
            if k == "detect_minmax":
                cell = lambda x: "—" if x.get("detect_min_s") is None else "%.2f / %.2f" % (x["detect_min_s"], x["detect_max_s"])
                out.append("| %s | %s | %s | %s |" % (label, cell(w), cell(s), ratio(w.get("detect_max_s"), s.get("detect_max_s"))))
                continue
            if k == "hang_suspect":
                out.append("| %s | %s / %s | | |" % (label, fmt(w.get("hang_suspect_first_s"), nd), fmt(w.get("hang_suspect_last_s"), nd)))
                continue
            out.append("| %s | %s | %s | %s |" % (label, fmt(w.get(k), nd), fmt(s.get(k), nd),
                                                   ratio(w.get(k), s.get(k))))
        for p in pauses:
            fw = w.get("flaps", {}).get(str(p), {})
            fs = s.get("flaps", {}).get(str(p), {})
            cell = lambda f: "—" if not f else "%d of %d%s" % (
                f["failed_by"], f["observers"], "" if f["recovered"] else " (not alive again)")
            out.append("| flaps, SIGSTOP %g s: survivors that marked it failed | %s | %s | |" % (p, cell(fw), cell(fs)))
        for p in pauses:
            fw = w.get("flaps", {}).get(str(p), {})
            if fw:
                out.append("| Weft, SIGSTOP %g s: survivors that saw it suspect; alive everywhere again after, s | %d; %.1f | | |" % (
                    p, fw["suspect_by"], fw["alive_again_s"]))
        out.append("| load average (1 min) at start / end | %s / %s | %s / %s | |" % (
            fmt(w.get("load_start")), fmt(w.get("load_end")), fmt(s.get("load_start")), fmt(s.get("load_end"))))
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("--serf", default="serf")
    ap.add_argument("--key", default="")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--sizes", default="20,50,100")
    ap.add_argument("--systems", default="weft,serf")
    ap.add_argument("--pauses", default="2,4,6,8")
    ap.add_argument("--window", type=float, default=20.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--converge-timeout", type=float, default=90.0)
    ap.add_argument("--detect-timeout", type=float, default=90.0)
    ap.add_argument("--detect-reps", type=int, default=10)
    ap.add_argument("--flap-timeout", type=float, default=60.0)
    ap.add_argument("--flap-tail", type=float, default=5.0)
    ap.add_argument("--poll-timeout", type=float, default=2.0)
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    args.pauses = [float(p) if "." in p else int(p) for p in args.pauses.split(",") if p]
    results = []
    for n in [int(x) for x in args.sizes.split(",") if x]:
        for system in [s for s in args.systems.split(",") if s]:
            try:
                r = run_fleet(system, n, args, args.workdir)
            except RuntimeError as e:
                log("ERROR:", e)
                r = {"system": system, "n": n, "error": str(e)}
            results.append(r)
            print(json.dumps(r), flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(results, f, indent=1)
            time.sleep(2)
    print(table(results, args.pauses))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    main()
