#!/usr/bin/env python3
"""Turns the raw output of bench/run.sh into tables (standard library only).

  summarize.py main DIR      DIR/runs.tsv, idle.tsv, raw/*.txt -> results.md, results.csv,
                             cpu_per_req.dat (for chart.gp)
  summarize.py scaling DIR   DIR/runs.tsv, raw/*.txt -> scaling.md, scaling.csv

Every figure is the median over the rounds that completed; errors are summed over rounds.
Ratios are median(contender) / median(reference) for the same scenario in the same run, where
the reference is the best peer (the best of HAProxy, HAProxy with splice and nginx at that
figure), the floor contender, HAProxy or nginx. A second view pairs each slb run with the peers'
runs of the same round ("round by round"): the median of those per-round ratios, their range and
the number of rounds slb was level or better, which is what says whether a ratio of medians near 1
is more than noise.

Whole-machine CPU per request ("machine") is the busy time of all CPUs (/proc/stat: user, nice,
system, irq, softirq) over the measured run, divided by the requests, minus the same figure for
`direct` (no proxy) in the same scenario: what the proxy costs the machine, its TCP work in other
tasks' softirq included. "procs" is the same from process accounting (contender + backend + wrk,
minus direct's backend + wrk): blind to work outside those processes, but not to other tenants.
"""
import csv
import os
import re
import statistics
import sys

BASELINE = "haproxy"
PEERS = ("haproxy", "haproxy-splice", "nginx-stream")
FLOOR = "floor"
SCENARIO_TEXT = {
    "small-keepalive": "small, keep-alive, 50 conns",
    "1MiB": "1 MiB, keep-alive, 10 conns",
    "conn-close": "small, conn per request, 50 conns",
    "conn-close-500": "small, conn per request, 500 conns",
    "c1000-keepalive": "small, keep-alive, 1000 conns",
    "tls-conn-close": "TLS handshake per request (passthrough, routed by SNI), 50 conns",
}
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}
UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def read_meta(d):
    meta = {}
    with open(os.path.join(d, "meta.env")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    return meta


def parse_wrk(path):
    """requests, seconds, rps, p50/p99 (ms) and error counts from one wrk --latency output."""
    r = {"requests": None, "seconds": None, "rps": None, "p50": None, "p99": None,
         "connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": 0}
    try:
        text = open(path).read()
    except OSError:
        return r
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(ms|s|m|h),", text, re.M)
    if m:
        r["requests"] = int(m.group(1))
        r["seconds"] = float(m.group(2)) * UNIT_S[m.group(3)]
    m = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if m:
        r["rps"] = float(m.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m|h)\s*$" % pct, text, re.M)
        if m:
            r[key] = float(m.group(1)) * UNIT_MS[m.group(2)]
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        r["connect"], r["read"], r["write"], r["timeout"] = map(int, m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    return r


def read_tsv(path, fields):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2:
                continue
            parts += [""] * (len(fields) - len(parts))
            rows.append(dict(zip(fields, parts)))
    return rows


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def load_runs(d):
    """{(scenario, contender): {metric: [per-round values], ...}} plus orders of appearance."""
    ncpu = int(read_meta(d).get("cpus", "1") or 1)
    runs = read_tsv(os.path.join(d, "runs.tsv"),
                    ["round", "scenario", "contender", "status", "file", "cpu_s", "hwm_kb", "backend_s",
                     "wrk_s", "busy_s", "steal_s", "wall_s", "turns", "tw_wrk", "tw_proxy", "ipi_load", "ipi_proxy", "ctxt", "busy_load",
                     "busy_proxy"])
    groups, scenarios, contenders = {}, [], []
    for run in runs:
        sc, c = run["scenario"], run["contender"]
        if sc not in scenarios:
            scenarios.append(sc)
        if c not in contenders:
            contenders.append(c)
        g = groups.setdefault((sc, c), {"rps": [], "p50": [], "p99": [], "cpu_us": [], "cpu_pct": [], "other": [],
                                        "mach_raw": [], "procs_raw": [], "turns": [], "wrk_first": [],
                                        "ipi_load": [], "ipi_proxy": [], "ctxt": [], "busy_load": [],
                                        "busy_proxy": [],
                                        "hwm_mib": [], "requests": [], "errors": 0, "connect": 0,
                                        "read": 0, "write": 0, "timeout": 0, "non2xx": 0,
                                        "rounds": 0, "statuses": [], "per_round": {}})
        g["statuses"].append(run["status"])
        if run["status"] == "start-failed":
            continue
        w = parse_wrk(os.path.join(d, "raw", run["file"]))
        for k in ("connect", "read", "write", "timeout", "non2xx"):
            g[k] += w[k]
            g["errors"] += w[k]
        if run["status"] != "ok" or not w["requests"]:
            continue
        g["rounds"] += 1
        g["per_round"][run["round"]] = {"rps": w["rps"], "p99": w["p99"], "mach_raw": None}
        g["rps"].append(w["rps"])
        g["p50"].append(w["p50"])
        g["p99"].append(w["p99"])
        g["requests"].append(w["requests"])
        if run["busy_s"] and run["wall_s"]:
            # CPU time on the machine not used by the contender, the backend or wrk:
            # other tenants, plus hypervisor steal, as a share of all CPUs between the two readings.
            other = (float(run["busy_s"]) + float(run["steal_s"] or 0) - float(run["cpu_s"] or 0)
                     - float(run["backend_s"] or 0) - float(run["wrk_s"] or 0))
            g["other"].append(max(0.0, 100.0 * other / (float(run["wall_s"]) * ncpu)))
            g["mach_raw"].append(float(run["busy_s"]) * 1e6 / w["requests"])
            g["per_round"][run["round"]]["mach_raw"] = g["mach_raw"][-1]
        if run["backend_s"] and run["wrk_s"]:
            ours = float(run["cpu_s"] or 0) + float(run["backend_s"]) + float(run["wrk_s"])
            g["procs_raw"].append(ours * 1e6 / w["requests"])
        if run["turns"]:
            g["turns"].append(int(run["turns"]) / w["requests"])
        for k in ("ipi_load", "ipi_proxy", "ctxt"):
            if run[k]:
                g[k].append(int(run[k]) / w["requests"])
        for k in ("busy_load", "busy_proxy"):
            if run[k]:
                g[k].append(float(run[k]) * 1e6 / w["requests"])
        if run["tw_wrk"] and run["tw_proxy"] and int(run["tw_wrk"]) + int(run["tw_proxy"]):
            g["wrk_first"].append(100.0 * int(run["tw_wrk"]) / (int(run["tw_wrk"]) + int(run["tw_proxy"])))
        if c != "direct" and run["cpu_s"]:
            cpu = float(run["cpu_s"])
            g["cpu_us"].append(cpu * 1e6 / w["requests"])
            if w["seconds"]:
                g["cpu_pct"].append(100.0 * cpu / w["seconds"])
            g["hwm_mib"].append(int(run["hwm_kb"]) / 1024.0)
    summary = {}
    for key, g in groups.items():
        s = {m: median(g[m]) for m in ("rps", "p50", "p99", "cpu_us", "cpu_pct", "hwm_mib", "requests", "other",
                                       "mach_raw", "procs_raw", "turns", "wrk_first",
                                       "ipi_load", "ipi_proxy", "ctxt", "busy_load", "busy_proxy")}
        s["other_max"] = max(g["other"]) if g["other"] else None
        s["rps_min"] = min(g["rps"]) if g["rps"] else None
        s["rps_max"] = max(g["rps"]) if g["rps"] else None
        s["rps_spread"] = (100.0 * (s["rps_max"] - s["rps_min"]) / s["rps"]) if g["rps"] and s["rps"] else None
        for k in ("errors", "connect", "read", "write", "timeout", "non2xx", "rounds"):
            s[k] = g[k]
        failed = [st for st in g["statuses"] if st != "ok"]
        s["note"] = ", ".join(sorted(set(failed))) if failed else ""
        s["runs"] = len(g["statuses"])
        s["per_round"] = g["per_round"]
        summary[key] = s
    # The proxy's whole cost: the machine's (or the processes') per request, minus direct's.
    for (sc, c), s in summary.items():
        d = summary.get((sc, "direct"))
        for k in ("mach", "procs"):
            base = d[k + "_raw"] if d else None
            s[k] = s[k + "_raw"] - base if c != "direct" and s[k + "_raw"] is not None and base is not None \
                else None
    return summary, scenarios, contenders


def ratio(a, b):
    """a / b, or None when either is missing or not positive (a CPU figure minus direct's can go
    negative on a noisy machine, and a ratio of such figures means nothing)."""
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b


def fmt(v, spec, none="n/a"):
    return none if v is None else format(v, spec)


def fmt_ms(v):
    if v is None:
        return "n/a"
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def fmt_errors(s):
    if not s["errors"]:
        return "0"
    parts = [f"{k} {s[k]}" for k in ("connect", "read", "write", "timeout", "non2xx") if s[k]]
    return f"{s['errors']} ({', '.join(parts)})"


def header_lines(meta, title):
    return [
        f"# {title}",
        "",
        f"- date: {meta.get('date', '?')}",
        f"- kernel: {meta.get('kernel', '?')}",
        f"- CPU: {meta.get('cpu_model', '?')}, {meta.get('cpus', '?')} CPUs",
        f"- slb: {meta.get('slb_rev', '?')} (Release build), HAProxy {meta.get('haproxy', '?')}, "
        f"nginx {meta.get('nginx', '?')}, wrk {meta.get('wrk', '?')}",
        f"- command: `{meta.get('command', '?')}`: {meta.get('rounds', '?')} rounds, "
        f"{meta.get('duration', '?')} s per run after a {meta.get('warmup', '?')} s warm-up",
        "",
    ]


def csv_prefix(meta):
    return {"date": meta.get("date", ""), "kernel": meta.get("kernel", ""), "cpu_model": meta.get("cpu_model", "")}


# (key in summary, label, True when higher is better) for the ratio table.
RATIO_FIGURES = (("rps", "req/s", True), ("p99", "p99", False), ("mach", "machine", False),
                 ("cpu_us", "own", False))


def best_peer(summary, sc, key, higher):
    """(contender, value) of the peer with the best median of key in scenario sc, or (None, None)."""
    vals = [(c, summary[(sc, c)][key]) for c in PEERS
            if (sc, c) in summary and summary[(sc, c)]["rounds"] and summary[(sc, c)][key] is not None]
    if not vals:
        return None, None
    return (max if higher else min)(vals, key=lambda cv: cv[1])


def ranked(summary, sc, contenders):
    """The contenders of scenario sc, cheapest whole-machine CPU per request first; direct first,
    contenders without a figure last."""
    present = [c for c in contenders if (sc, c) in summary]

    def rank(c):
        s = summary[(sc, c)]
        if c == "direct":
            return (0, 0.0)
        return (1, s["mach"]) if s["rounds"] and s["mach"] is not None else (2, 0.0)
    return sorted(present, key=rank)


def ratio_table(summary, scenarios, contenders):
    """Markdown lines: the best peer at each figure, then every other contender's figures as ratios
    to the best peer, to the floor contender, to HAProxy and to nginx (whole-machine CPU)."""
    md = ["", "## Ratios to the best peer and to the floor", "",
          "Best peer: the best of haproxy, haproxy-splice and nginx-stream at that figure, in that scenario",
          "(req/s: the highest; p99 and CPU: the lowest). Ratios of medians; req/s above 1 is better,",
          "the others below 1.", "",
          "| scenario | best req/s | best p99 ms | best machine us/req | best own us/req |",
          "|---|---|---|---|---|"]
    for sc in scenarios:
        cells = []
        for key, _, higher in RATIO_FIGURES:
            c, v = best_peer(summary, sc, key, higher)
            spec = ",.0f" if key == "rps" else ".2f" if key == "p99" else ".1f"
            cells.append(f"{c} {fmt(v, spec)}" if c else "n/a")
        md.append(f"| {sc} | " + " | ".join(cells) + " |")
    md += ["", "| scenario | contender | req/s x best | p99 x best | machine x best | own x best "
               "| req/s x floor | p99 x floor | machine x floor | own x floor | machine x hap | machine x nginx |",
           "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for sc in scenarios:
        fl = summary.get((sc, FLOOR))
        hap = summary.get((sc, "haproxy"))
        ngx = summary.get((sc, "nginx-stream"))
        for c in ranked(summary, sc, contenders):
            s = summary[(sc, c)]
            if c == "direct" or c in PEERS or not s["rounds"]:
                continue
            cells = []
            for key, _, higher in RATIO_FIGURES:
                cells.append(fmt(ratio(s[key], best_peer(summary, sc, key, higher)[1]), ".2f"))
            for key, _, _ in RATIO_FIGURES:
                cells.append(fmt(ratio(s[key], fl[key]) if fl and fl["rounds"] else None, ".2f"))
            for ref in (hap, ngx):
                cells.append(fmt(ratio(s["mach"], ref["mach"]) if ref and ref["rounds"] else None, ".2f"))
            md.append(f"| {sc} | {c} | " + " | ".join(cells) + " |")
    return md


def round_value(summary, sc, c, rnd, key):
    """Contender c's figure key in round rnd of scenario sc; for "mach", minus direct's of the same
    round. None when the run failed or a figure is missing."""
    s = summary.get((sc, c))
    v = s["per_round"].get(rnd, {}) if s else {}
    if key != "mach":
        return v.get(key)
    d = summary.get((sc, "direct"))
    base = d["per_round"].get(rnd, {}).get("mach_raw") if d else None
    return v["mach_raw"] - base if v.get("mach_raw") is not None and base is not None else None


def paired_ratios(summary, sc, c, key, higher):
    """Per round: c's figure over the best peer's in that same round (the peers ran minutes apart
    from c at most, so a slow drift of the machine cancels out)."""
    out = []
    for rnd in summary[(sc, c)]["per_round"]:
        peers = [round_value(summary, sc, p, rnd, key) for p in PEERS]
        peers = [v for v in peers if v is not None and v > 0]
        r = ratio(round_value(summary, sc, c, rnd, key), (max if higher else min)(peers)) if peers else None
        if r is not None:
            out.append(r)
    return out


def round_table(summary, scenarios, contenders):
    """Markdown lines: each slb contender against the best peer of the same round, for the three
    figures the targets name: median of the per-round ratios, their range, and the rounds in which
    slb was at least level with the best peer. A target met in 3 rounds of 8 is inside the noise,
    whatever the ratio of medians says."""
    md = ["", "## Round by round against the best peer", "",
          "Each round's ratio is slb's figure over the best peer's in the same round (for machine us/req,",
          "each minus direct's of the same round). Median of those ratios [lowest-highest], then the",
          "rounds where slb was level or better (req/s >= 1, p99 and machine <= 1) out of those measured.", "",
          "| scenario | contender | req/s x best | level or better | p99 x best | level or better "
          "| machine x best | level or better |", "|---|---|--:|--:|--:|--:|--:|--:|"]
    for sc in scenarios:
        for c in contenders:
            if not c.startswith("slb") or (sc, c) not in summary or not summary[(sc, c)]["rounds"]:
                continue
            cells = []
            for key, _, higher in RATIO_FIGURES[:3]:
                rs = paired_ratios(summary, sc, c, key, higher)
                if not rs:
                    cells += ["n/a", "n/a"]
                    continue
                good = sum(1 for r in rs if (r >= 1 if higher else r <= 1))
                cells += [f"{median(rs):.2f} [{min(rs):.2f}-{max(rs):.2f}]", f"{good}/{len(rs)}"]
            md.append(f"| {sc} | {c} | " + " | ".join(cells) + " |")
    return md


def wakeup_table(summary, scenarios, contenders):
    """Markdown lines: wake-ups per request, where a proxy's CPU cost hides on a virtual machine.
    Each wake-up interrupt is a VM exit on the CPU that sends it, so a proxy that sleeps and is
    woken often costs the load's CPU (the limit of req/s here) more than its own CPU time says."""
    rows = [(sc, c) for sc in scenarios for c in contenders
            if (sc, c) in summary and summary[(sc, c)]["ctxt"] is not None]
    if not rows:
        return []
    md = ["", "## Where the cost lands, and wake-ups per request", "",
          "Busy time (/proc/stat) of the load's CPU (wrk and the backend) and of the contender's, per",
          "request, raw (not minus direct's: direct's row is the load alone); rescheduling and",
          "function-call interrupts (/proc/interrupts RES + CAL) received by each of the two CPUs, and",
          "context switches of the whole machine, per request. Medians over rounds. With the load's",
          "CPU the limit of req/s, 'load CPU us' is what decides throughput.", "",
          "| scenario | contender | load CPU us | contender CPU us | IPIs to load CPU | IPIs to contender CPU "
          "| context switches | turns/req |",
          "|---|---|--:|--:|--:|--:|--:|--:|"]
    for sc, c in rows:
        s = summary[(sc, c)]
        md.append(f"| {sc} | {c} | {fmt(s['busy_load'], '.1f')} | {fmt(s['busy_proxy'], '.1f')} "
                  f"| {fmt(s['ipi_load'], '.2f')} | {fmt(s['ipi_proxy'], '.2f')} "
                  f"| {fmt(s['ctxt'], '.2f')} | {fmt(s['turns'], '.2f')} |")
    return md


def close_order_table(summary, scenarios, contenders):
    """Markdown lines: per connection-per-request run, the share of client connections whose
    TIME_WAIT ended on wrk's side (wrk closed first, before the proxy passed the backend's FIN
    on), median over rounds, with each round's value."""
    rows = [(sc, c) for sc in scenarios for c in contenders
            if (sc, c) in summary and summary[(sc, c)]["wrk_first"] is not None]
    if not rows:
        return []
    md = ["", "## Who closes the client connection first", "",
          "Connection per request: the backend closes first; a proxy passes its FIN on. Where wrk closes",
          "its end before that FIN arrived, the connection's TIME_WAIT is on wrk's side (counted with `ss`",
          "on the run's own port, warm-up included). Median over rounds.", "",
          "| scenario | contender | wrk closed first % |", "|---|---|--:|"]
    for sc, c in rows:
        md.append(f"| {sc} | {c} | {fmt(summary[(sc, c)]['wrk_first'], '.1f')} |")
    return md


def main_report(d):
    meta = read_meta(d)
    summary, scenarios, contenders = load_runs(d)
    md = header_lines(meta, "slb benchmark: L4 proxies on loopback")
    md += [
        "wrk and the nginx backend pinned to CPU 0, the contender (one worker/thread) alone on CPU 1.",
        "Medians over rounds. Contenders are ranked by **machine us/req**: the busy time of both CPUs",
        "(/proc/stat) per request, minus direct's (no proxy) in the same scenario: the proxy's whole",
        "cost, with the TCP work it causes in other tasks' softirq. 'procs us/req' is the same from the",
        "CPU time of the contender, the backend and wrk only (immune to other tenants). 'own us/req' and",
        "'CPU %' are the contender's own utime+stime. direct's row shows its raw machine and procs",
        "figures (the amounts subtracted). 'spread' is (max - min) / median of req/s over the rounds;",
        "'other %' is the busy time of anything but the contender, the backend and wrk (other tenants,",
        "hypervisor steal, kernel threads) as a share of all CPUs: where it is high, distrust req/s,",
        "latency and machine us/req; own and procs us/req much less so.",
        "",
        "Scenarios (wrk -t1, nginx backend): " + "; ".join(
            f"{k} = {v}" for k, v in SCENARIO_TEXT.items() if k in scenarios) + ".",
        "",
        "| scenario | contender | req/s | spread | p50 ms | p99 ms | machine us/req | procs us/req "
        "| own us/req | CPU % | peak RSS MiB | turns/req | errors | other % |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|",
    ]
    rows = []
    for sc in scenarios:
        for c in ranked(summary, sc, contenders):
            s = summary[(sc, c)]
            if s["rounds"] == 0:
                md.append(f"| {sc} | {c} | {s['note'] or 'failed'} | | | | | | | | | | {fmt_errors(s)} | |")
                rows.append({"scenario": sc, "contender": c, "rounds_ok": 0, "note": s["note"] or "failed"})
                continue
            name = c + (f" ({s['rounds']}/{s['runs']} ok)" if s["rounds"] < s["runs"] else "")
            mach = f"({fmt(s['mach_raw'], '.1f')})" if c == "direct" else fmt(s["mach"], ".1f")
            procs = f"({fmt(s['procs_raw'], '.1f')})" if c == "direct" else fmt(s["procs"], ".1f")
            md.append(
                f"| {sc} | {name} | {fmt(s['rps'], ',.0f')} | {fmt(s['rps_spread'], '.0f')}% "
                f"| {fmt_ms(s['p50'])} | {fmt_ms(s['p99'])} | {mach} | {procs} "
                f"| {fmt(s['cpu_us'], '.1f')} | {fmt(s['cpu_pct'], '.0f')} | {fmt(s['hwm_mib'], '.1f')} "
                f"| {fmt(s['turns'], '.2f')} | {fmt_errors(s)} | {fmt(s['other'], '.0f')} |")
            base = summary.get((sc, BASELINE))
            r = {k: ratio(s[k], base[k]) if base and base["rounds"] else None
                 for k in ("rps", "p50", "p99", "cpu_us", "hwm_mib", "mach")}
            row = {
                "scenario": sc, "contender": c, "rounds_ok": s["rounds"],
                "rps": fmt(s["rps"], ".1f", ""), "rps_min": fmt(s["rps_min"], ".1f", ""),
                "rps_max": fmt(s["rps_max"], ".1f", ""), "p50_ms": fmt(s["p50"], ".4f", ""),
                "p99_ms": fmt(s["p99"], ".4f", ""), "cpu_us_per_req": fmt(s["cpu_us"], ".3f", ""),
                "machine_us_per_req": fmt(s["mach"], ".3f", ""), "machine_raw_us_per_req": fmt(s["mach_raw"], ".3f", ""),
                "procs_us_per_req": fmt(s["procs"], ".3f", ""), "procs_raw_us_per_req": fmt(s["procs_raw"], ".3f", ""),
                "cpu_pct": fmt(s["cpu_pct"], ".1f", ""), "other_load_pct": fmt(s["other"], ".1f", ""),
                "other_load_pct_max": fmt(s["other_max"], ".1f", ""), "peak_rss_mib": fmt(s["hwm_mib"], ".2f", ""),
                "loop_turns_per_req": fmt(s["turns"], ".3f", ""),
                "wrk_closed_first_pct": fmt(s["wrk_first"], ".1f", ""),
                "ipis_to_load_cpu_per_req": fmt(s["ipi_load"], ".3f", ""),
                "ipis_to_contender_cpu_per_req": fmt(s["ipi_proxy"], ".3f", ""),
                "context_switches_per_req": fmt(s["ctxt"], ".3f", ""),
                "load_cpu_us_per_req": fmt(s["busy_load"], ".3f", ""),
                "contender_cpu_busy_us_per_req": fmt(s["busy_proxy"], ".3f", ""),
                "errors": s["errors"], "err_connect": s["connect"], "err_read": s["read"],
                "err_write": s["write"], "err_timeout": s["timeout"], "err_non2xx": s["non2xx"],
                "rps_vs_haproxy": fmt(r["rps"], ".3f", ""), "p50_vs_haproxy": fmt(r["p50"], ".3f", ""),
                "p99_vs_haproxy": fmt(r["p99"], ".3f", ""), "cpu_vs_haproxy": fmt(r["cpu_us"], ".3f", ""),
                "machine_vs_haproxy": fmt(r["mach"], ".3f", ""),
                "rss_vs_haproxy": fmt(r["hwm_mib"], ".3f", ""), "note": s["note"],
            }
            for key, label, higher in RATIO_FIGURES:
                _, bv = best_peer(summary, sc, key, higher)
                fl = summary.get((sc, FLOOR))
                row[f"{key}_vs_best_peer"] = fmt(ratio(s[key], bv), ".3f", "")
                row[f"{key}_vs_floor"] = fmt(ratio(s[key], fl[key]) if fl and fl["rounds"] else None, ".3f", "")
            rows.append(row)
    md += ratio_table(summary, scenarios, contenders)
    md += round_table(summary, scenarios, contenders)
    md += wakeup_table(summary, scenarios, contenders)
    md += close_order_table(summary, scenarios, contenders)

    # Memory per idle connection.
    idle = read_tsv(os.path.join(d, "idle.tsv"),
                    ["round", "contender", "status", "rest_kb", "idle_kb", "req_kb", "opened", "answered"])
    n = int(meta.get("idle_conns", "5000"))
    per = {}
    order = []
    for row in idle:
        c = row["contender"]
        if c not in order:
            order.append(c)
        p = per.setdefault(c, {"rest": [], "held": [], "idle": [], "req": [], "opened": [], "answered": [],
                               "bad": []})
        if row["status"] != "ok" or not row["rest_kb"]:
            p["bad"].append(row["status"])
            continue
        rest, idl, req = int(row["rest_kb"]), int(row["idle_kb"]), int(row["req_kb"])
        opened, answered = int(row["opened"]), int(row["answered"])
        p["rest"].append(rest / 1024.0)
        p["held"].append(req / 1024.0)
        p["opened"].append(opened)
        p["answered"].append(answered)
        p["idle"].append((idl - rest) * 1024.0 / opened if opened else None)
        p["req"].append((req - rest) * 1024.0 / opened if opened else None)
    med = {c: {k: median(v) for k, v in p.items() if k != "bad"} for c, p in per.items()}
    if order:
        base = med.get(BASELINE, {})
        md += [
            "",
            f"## Memory per idle connection ({n} connections held {meta.get('idle_hold', '?')} s)",
            "",
            "RSS of the contender (VmRSS summed over its processes) with the connections open, minus its RSS",
            f"at rest, divided by {n}. 'silent': connected, nothing sent; 'after 1 req': each then did one",
            "GET /small (keep-alive) and stays open. Medians over rounds. User-space memory only: the",
            "kernel's socket memory is not in RSS. Memory a contender allocates up front for all the",
            "connections it may take (slb's slot table) is in 'RSS at rest', not in B/conn.",
            "",
            "| contender | RSS at rest MiB | RSS with conns MiB | silent B/conn | after 1 req B/conn "
            "| silent x hap | after 1 req x hap | opened | answered |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for c in order:
            m = med[c]
            bad = per[c]["bad"]
            if not per[c]["rest"]:
                md.append(f"| {c} | {', '.join(sorted(set(bad))) or 'failed'} | | | | | | | |")
                continue
            md.append(
                f"| {c} | {fmt(m['rest'], '.1f')} | {fmt(m['held'], '.1f')} | {fmt(m['idle'], ',.0f')} "
                f"| {fmt(m['req'], ',.0f')} "
                f"| {fmt(ratio(m['idle'], base.get('idle')), '.2f')} | {fmt(ratio(m['req'], base.get('req')), '.2f')} "
                f"| {fmt(m['opened'], '.0f')} | {fmt(m['answered'], '.0f')} |")
            rows.append({
                "scenario": f"idle-{n}", "contender": c, "rounds_ok": len(per[c]["rest"]),
                "rest_rss_mib": fmt(m["rest"], ".2f", ""), "held_rss_mib": fmt(m["held"], ".2f", ""),
                "idle_bytes_per_conn": fmt(m["idle"], ".0f", ""),
                "after_req_bytes_per_conn": fmt(m["req"], ".0f", ""),
                "idle_vs_haproxy": fmt(ratio(m["idle"], base.get("idle")), ".3f", ""),
                "after_req_vs_haproxy": fmt(ratio(m["req"], base.get("req")), ".3f", ""),
                "note": ", ".join(sorted(set(bad))),
            })

    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    fields = ["date", "kernel", "cpu_model", "scenario", "contender", "rounds_ok", "rps", "rps_min", "rps_max",
              "p50_ms", "p99_ms", "machine_us_per_req", "machine_raw_us_per_req", "procs_us_per_req",
              "procs_raw_us_per_req", "cpu_us_per_req", "cpu_pct", "other_load_pct", "other_load_pct_max",
              "peak_rss_mib", "loop_turns_per_req", "wrk_closed_first_pct", "ipis_to_load_cpu_per_req",
              "ipis_to_contender_cpu_per_req", "context_switches_per_req",
              "load_cpu_us_per_req", "contender_cpu_busy_us_per_req", "errors", "err_connect", "err_read", "err_write",
              "err_timeout", "err_non2xx", "rps_vs_haproxy", "p50_vs_haproxy", "p99_vs_haproxy",
              "cpu_vs_haproxy", "machine_vs_haproxy", "rss_vs_haproxy"] + [
              f"{k}_vs_{ref}" for k, _, _ in RATIO_FIGURES for ref in ("best_peer", "floor")] + [
              "rest_rss_mib", "held_rss_mib", "idle_bytes_per_conn",
              "after_req_bytes_per_conn", "idle_vs_haproxy", "after_req_vs_haproxy", "note"]
    with open(os.path.join(d, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, restval="")
        w.writeheader()
        for row in rows:
            w.writerow({**csv_prefix(meta), **row})

    # Chart data: one line per scenario, one column per contender, whole-machine CPU per request
    # (direct is the zero it is measured from).
    cols = [c for c in contenders if c != "direct"]
    with open(os.path.join(d, "cpu_per_req.dat"), "w") as f:
        f.write("scenario " + " ".join(cols) + "\n")
        for sc in scenarios:
            vals = []
            for c in cols:
                s = summary.get((sc, c))
                vals.append(fmt(s["mach"], ".3f", "?") if s and s["rounds"] and (s["mach"] or 0) > 0 else "?")
            f.write(sc + " " + " ".join(vals) + "\n")
    return 0


def scaling_report(d):
    meta = read_meta(d)
    summary, scenarios, contenders = load_runs(d)
    md = header_lines(meta, "slb scaling: --workers 1 vs --workers 2")
    md += [
        "Nothing pinned: wrk (1 thread), the nginx backend (1 worker) and slb (--no-pin) share all",
        "CPUs, so slb's second worker competes with the load generator and the backend for CPU.",
        "Load: small keep-alive (wrk -t1 -c50 /small). Medians over rounds; slb relays with --relay auto.",
        "",
        "'other %': CPU used meanwhile by anything but slb, the backend and wrk (other tenants, steal).",
        "",
        "| contender | req/s | spread | p50 ms | p99 ms | slb CPU us/req | slb CPU % | errors "
        "| req/s x workers=1 | other % |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    rows = []
    for sc in scenarios:
        base = summary.get((sc, "slb-w1"))
        for c in contenders:
            s = summary.get((sc, c))
            if s is None:
                continue
            if s["rounds"] == 0:
                md.append(f"| {c} | {s['note'] or 'failed'} | | | | | | {fmt_errors(s)} | | |")
                continue
            r = ratio(s["rps"], base["rps"]) if base and base["rounds"] else None
            md.append(f"| {c} | {fmt(s['rps'], ',.0f')} | {fmt(s['rps_spread'], '.0f')}% "
                      f"| {fmt_ms(s['p50'])} | {fmt_ms(s['p99'])} "
                      f"| {fmt(s['cpu_us'], '.1f')} | {fmt(s['cpu_pct'], '.0f')} | {fmt_errors(s)} "
                      f"| {fmt(r, '.2f')} | {fmt(s['other'], '.0f')} |")
            rows.append({**csv_prefix(meta), "scenario": sc, "contender": c, "rounds_ok": s["rounds"],
                         "rps": fmt(s["rps"], ".1f", ""), "p50_ms": fmt(s["p50"], ".4f", ""),
                         "p99_ms": fmt(s["p99"], ".4f", ""), "cpu_us_per_req": fmt(s["cpu_us"], ".3f", ""),
                         "cpu_pct": fmt(s["cpu_pct"], ".1f", ""), "errors": s["errors"],
                         "rps_vs_workers1": fmt(r, ".3f", ""), "other_load_pct": fmt(s["other"], ".1f", "")})
    with open(os.path.join(d, "scaling.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(d, "scaling.csv"), "w", newline="") as f:
        fields = ["date", "kernel", "cpu_model", "scenario", "contender", "rounds_ok", "rps", "p50_ms",
                  "p99_ms", "cpu_us_per_req", "cpu_pct", "errors", "rps_vs_workers1", "other_load_pct"]
        w = csv.DictWriter(f, fieldnames=fields, restval="")
        w.writeheader()
        w.writerows(rows)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("main", "scaling"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main_report(sys.argv[2]) if sys.argv[1] == "main" else scaling_report(sys.argv[2]))
