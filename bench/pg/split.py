#!/usr/bin/env python3
"""The issue-16 workloads over one or several postoffice nodes that share a store (bench/pg/run.sh).

Built from the shared load generator (../shared/bench/pobench.py: its IMAP client, clean, wait-count,
CPU meter, SMTP sender and smtp-source arguments), so that with ONE node the two throughput
workloads are the shared bench's smtp_inbound and imap_fetch step for step; with several nodes the
load is split between them:

  smtp_inbound SETUP USER N SIZE SESSIONS NODE...
      smtp-source on every node at once (node i: its share of the N messages and of the SESSIONS,
      new connection per message, same arguments as the shared bench), all to the one mailbox USER;
      accepted = every smtp-source done; e2e = IMAP STATUS on the LAST node counts N. Meanwhile a
      probe client on the last node (SELECT INBOX) sends NOOP every 20 ms: noop_* fields (stalls).
  imap_fetch SETUP USER CLIENTS NODE...
      CLIENTS clients, client k on node k mod nodes; each: SELECT; UID FETCH 1:* (FLAGS INTERNALDATE
      RFC822.SIZE ENVELOPE BODYSTRUCTURE); UID FETCH 1:* BODY.PEEK[].
  latency SETUP USER COUNT NODE_A NODE_B
      one SMTP session on A, one IDLE client on B; COUNT times: DATA -> 250 on A -> '* n EXISTS' on B
      (one message at a time). A = B measures one node.
  table FILE...   the side-by-side table (medians over runs) of the JSON lines in FILE

NODE is HOST:SMTP_PORT:IMAP_PORT. Every record gets setup, nodes and loadavg (/proc/loadavg at the
start and the end of the workload). One JSON line per workload on stdout.
Env: SHARED_BENCH (dir of pobench.py), BENCH_PASSWORD, BENCH_RUN; BENCH_NOOP_PROBE=0 turns the probe off.
"""
import asyncio
import json
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.environ.get("SHARED_BENCH") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "bench"))
import pobench  # noqa: E402  (the shared load generator)
from pobench import CpuMeter, Imap, log  # noqa: E402

RUN = int(os.environ.get("BENCH_RUN", "0"))
NOOP_PROBE = os.environ.get("BENCH_NOOP_PROBE", "1") != "0"


def parse_node(s):
    host, smtp, imap = s.rsplit(":", 2)
    return {"host": host, "smtp": int(smtp), "imap": int(imap)}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def emit(setup, nodes, workload, la0, **fields):
    rec = {"setup": setup, "nodes": len(nodes), "run": RUN, "workload": workload,
           "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    rec.update(fields)
    rec["loadavg_start"] = la0
    rec["loadavg_end"] = loadavg()
    print(json.dumps(rec), flush=True)


def share(total, parts, i):
    """part i of total split into parts as evenly as possible (the first ones get the remainder)"""
    return total // parts + (1 if i < total % parts else 0)


async def imap_on(node, user):
    return await (await Imap().connect(node["host"], node["imap"])).login(user)


async def count_on(node, user):
    c = await imap_on(node, user)
    out = []
    await c.cmd("STATUS INBOX (MESSAGES)", out.append)
    await c.close()
    m = re.search(rb"MESSAGES (\d+)", b"".join(out))
    return int(m.group(1)) if m else 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None


# ------------------------------------------------------------------ smtp_inbound
async def _noop_probe(node, user, stop, out):
    c = await imap_on(node, user)
    await c.cmd("SELECT INBOX")
    while not stop.is_set():
        t0 = time.monotonic()
        await c.cmd("NOOP")
        out.append((time.monotonic() - t0) * 1000)
        try:
            await asyncio.wait_for(stop.wait(), 0.02)
        except asyncio.TimeoutError:
            pass
    await c.close()


async def _smtp_inbound(nodes, user, n, size, sessions):
    await _clean_on(nodes[-1], user)   # pobench.imap_clean
    stop, noops = asyncio.Event(), []
    probe = asyncio.create_task(_noop_probe(nodes[-1], user, stop, noops)) if NOOP_PROBE else None
    await asyncio.sleep(0.1 if probe else 0)
    cpu = CpuMeter()
    t0 = time.monotonic()
    procs = []
    for i, node in enumerate(nodes):
        m, s = share(n, len(nodes), i), max(1, share(sessions, len(nodes), i))
        if m == 0:
            continue
        # the shared bench's smtp-source line (pobench.smtp_source), aimed at this node
        procs.append(await asyncio.create_subprocess_exec(
            pobench.SMTP_SOURCE, "-s", str(s), "-m", str(m), "-l", str(size),
            "-f", "bench-sender@example.test", "-t", user, "-M", "loadgen.example.test",
            f"{node['host']}:{node['smtp']}", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE))
    errs = []
    for p in procs:
        _, err = await p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"smtp-source rc={p.returncode}: {err.decode()[-500:]}")
        errs.append(err.decode()[-200:])
    t_acc = time.monotonic() - t0
    # pobench.wait_count, on the last node: every message visible to a fresh STATUS there
    while True:
        got = await count_on(nodes[-1], user)
        if got >= n:
            break
        if time.monotonic() - t0 > 180:
            raise TimeoutError(f"{user}: only {got}/{n} messages after 180 s")
        await asyncio.sleep(0.1)
    t_all = time.monotonic() - t0
    c = cpu.stop()
    stop.set()
    if probe:
        await probe
    return t_acc, t_all, c, noops, "".join(errs) or None


async def _clean_on(node, user):
    c = await imap_on(node, user)
    exists = []
    await c.cmd("SELECT INBOX", exists.append)
    k = 0
    for line in exists:
        m = re.match(rb"\* (\d+) EXISTS", line)
        if m:
            k = int(m.group(1))
    if k:
        await c.cmd("UID STORE 1:* +FLAGS.SILENT (\\Deleted)")
        await c.cmd("EXPUNGE")
    await c.close()


def w_smtp_inbound(setup, user, n, size, sessions, *nodes):
    nodes = [parse_node(x) for x in nodes]
    n, size, sessions = int(n), int(size), int(sessions)
    la0 = loadavg()
    t_acc, t_all, c, noops, err = asyncio.run(_smtp_inbound(nodes, user, n, size, sessions))
    probe = {}
    if noops:
        probe = {"noop_count": len(noops), "noop_median_ms": round(statistics.median(noops), 1),
                 "noop_p99_ms": round(pct(noops, 0.99), 1), "noop_max_ms": round(max(noops), 1)}
    emit(setup, nodes, "smtp_inbound", la0, msgs=n, msg_bytes=size, sessions=sessions, conn_per_msg=True,
         accepted_msgs_per_s=round(n / t_acc, 1), accept_s=round(t_acc, 2), delivered_s=round(t_all, 2),
         e2e_msgs_per_s=round(n / t_all, 1), **probe, smtp_source_stderr=err, **c)


# ------------------------------------------------------------------ imap_fetch
async def _fetch_client(node, user, res):
    # pobench._fetch_client, on a given node
    c = await imap_on(node, user)
    cnt = [0, 0]

    def meta(line):
        if b" FETCH " in line[:40]:
            cnt[0] += 1

    def body(line):
        if b" FETCH " in line[:40]:
            cnt[1] += 1

    await c.cmd("SELECT INBOX")
    b0 = c.bytes
    await c.cmd("UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)", meta)
    b1 = c.bytes
    await c.cmd("UID FETCH 1:* BODY.PEEK[]", body)
    b2 = c.bytes
    await c.close()
    res.append((cnt[0], cnt[1], b1 - b0, b2 - b1))


def w_imap_fetch(setup, user, clients, *nodes):
    nodes = [parse_node(x) for x in nodes]
    clients = int(clients)
    expect = asyncio.run(count_on(nodes[0], user))
    if expect == 0:
        raise RuntimeError(f"{user} mailbox is empty; run smtp_inbound first")
    res = []

    async def main():
        await asyncio.gather(*[_fetch_client(nodes[k % len(nodes)], user, res) for k in range(clients)])

    la0 = loadavg()
    cpu = CpuMeter()
    asyncio.run(main())
    c = cpu.stop()
    meta = sum(r[0] for r in res)
    bodies = sum(r[1] for r in res)
    nbytes = sum(r[2] + r[3] for r in res)
    if bodies != expect * clients:
        log(f"warning: fetched {bodies} bodies, expected {expect * clients}")
    emit(setup, nodes, "imap_fetch", la0, mailbox_msgs=expect, clients=clients, meta_fetched=meta,
         bodies_fetched=bodies, msgs_per_s=round(bodies / c["wall_s"], 1),
         mb_per_s=round(nbytes / c["wall_s"] / 1e6, 2), bytes=nbytes, **c)


# ------------------------------------------------------------------ latency
async def _latency(a, b, user, count, timeout=10.0):
    await _clean_on(b, user)
    c = await imap_on(b, user)
    await c.cmd("SELECT INBOX")
    c.n += 1
    c.w.write(b"a%d IDLE\r\n" % c.n)
    await c.w.drain()
    line = await c.r.readline()
    if not line.startswith(b"+"):
        raise RuntimeError(f"IDLE refused on {b['host']}: {line!r}")
    r, w = await asyncio.open_connection(a["host"], a["smtp"])
    await r.readline()
    w.write(b"EHLO loadgen.example.test\r\n")
    await w.drain()
    while (await r.readline())[3:4] == b"-":
        pass
    lat, missed = [], 0
    buffered = asyncio.Queue()

    async def reader():
        while True:
            line = await c.r.readline()
            if not line:
                await buffered.put(None)
                return
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                await buffered.put((int(m.group(1)), time.monotonic()))

    rt = asyncio.create_task(reader())
    for i in range(count):
        t250 = await pobench._smtp_send(r, w, user, i)   # the shared bench's SMTP transaction
        end = t250 + timeout
        seen = None
        while seen is None:
            try:
                item = await asyncio.wait_for(buffered.get(), max(0.001, end - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if item is None:
                raise ConnectionError("IDLE connection closed")
            if item[0] >= i + 1:
                seen = item[1]
        if seen is None:
            missed += 1
            log(f"latency: no EXISTS for message {i + 1} within {timeout} s")
        else:
            lat.append(max(0.0, (seen - t250) * 1000))
        await asyncio.sleep(0.01)   # the next message after a short quiet gap
    w.write(b"QUIT\r\n")
    await w.drain()
    w.close()
    c.w.write(b"DONE\r\n")
    await c.w.drain()
    await asyncio.sleep(0.05)
    rt.cancel()
    c.w.close()
    await _clean_on(b, user)
    return lat, missed


def w_latency(setup, user, count, a, b):
    na, nb = parse_node(a), parse_node(b)
    la0 = loadavg()
    cpu = CpuMeter()
    lat, missed = asyncio.run(_latency(na, nb, user, int(count)))
    c = cpu.stop()
    nodes = [na] if a == b else [na, nb]
    emit(setup, nodes, "latency", la0, path="A->B" if a != b else "A->A", samples=len(lat), missed=missed,
         median_ms=round(statistics.median(lat), 2) if lat else None,
         p90_ms=round(pct(lat, 0.90), 2) if lat else None, p99_ms=round(pct(lat, 0.99), 2) if lat else None,
         max_ms=round(max(lat), 2) if lat else None, **c)


# ------------------------------------------------------------------ table
COLUMNS = [
    ("smtp acc/s", "smtp_inbound", "accepted_msgs_per_s"),
    ("smtp e2e/s", "smtp_inbound", "e2e_msgs_per_s"),
    ("noop max ms", "smtp_inbound", "noop_max_ms"),
    ("fetch msg/s", "imap_fetch", "msgs_per_s"),
    ("fetch MB/s", "imap_fetch", "mb_per_s"),
    ("lat med ms", "latency", "median_ms"),
    ("lat p99 ms", "latency", "p99_ms"),
]


def table(*paths):
    recs = []
    for p in paths:
        with open(p) as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if "setup" in r and not r.get("summary"):
                    recs.append(r)
    setups = list(dict.fromkeys(r["setup"] for r in recs))
    rows, summaries = [], []
    head = ["setup", "runs"] + [c[0] for c in COLUMNS] + ["loadavg 1m", "errors"]
    for s in setups:
        rs = [r for r in recs if r["setup"] == s]
        ok = [r for r in rs if "error" not in r]
        summ = {"summary": True, "setup": s, "nodes": max((r.get("nodes", 1) for r in rs), default=1),
                "runs": len({r["run"] for r in rs})}
        row = [s, str(summ["runs"])]
        for name, wl, key in COLUMNS:
            vals = [r[key] for r in ok if r["workload"] == wl and isinstance(r.get(key), (int, float))]
            v = round(statistics.median(vals), 1) if vals else None
            summ[f"{wl}.{key}"] = v
            row.append("-" if v is None else f"{v:g}")
        las = [x for r in rs for x in (r.get("loadavg_start", [None])[0], r.get("loadavg_end", [None])[0]) if x is not None]
        summ["loadavg_1m_min"], summ["loadavg_1m_max"] = (min(las), max(las)) if las else (None, None)
        row.append(f"{min(las):.1f}-{max(las):.1f}" if las else "-")
        errs = sum(1 for r in rs if "error" in r) + sum(r.get("missed", 0) for r in ok)
        summ["errors"] = errs
        row.append(str(errs))
        rows.append(row)
        summaries.append(summ)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    lines = [fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(r) for r in rows]
    return lines, summaries


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    w, a = sys.argv[1], sys.argv[2:]
    if w == "table":
        lines, summaries = table(*a)
        for s in summaries:
            print(json.dumps(s))
        print("\n".join(lines), file=sys.stderr)
        return
    if w == "count":
        print(asyncio.run(count_on(parse_node(a[0]), a[1])))
        return
    if w == "clean":
        asyncio.run(_clean_on(parse_node(a[0]), a[1]))
        return
    fn = globals().get("w_" + w)
    if not fn:
        sys.exit(f"unknown workload {w}")
    fn(*a)


if __name__ == "__main__":
    main()
