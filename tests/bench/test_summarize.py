#!/usr/bin/env python3
"""bench/lib/summarize.py on a made-up run whose every figure is known: the tables the bench's
conclusions are read from must say what the raw runs say.

Two rounds of one scenario; per round, req/s and machine busy time are chosen so that slb is
ahead of the best peer in round 1 and behind in round 2, with a different best peer in each
round, and direct's machine figure differs between rounds (what the per-round pairing removes)."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench", "lib"))
import summarize  # noqa: E402

WRK = """Running 5s test @ http://127.0.0.1:1/small
  1 threads and 50 connections
  Latency Distribution
     50%  {p50}ms
     99%  {p99}ms
  {req} requests in 5.00s, 1.00MB read
Requests/sec:  {rps}
"""

# round -> contender -> (req/s, p99 ms, machine busy seconds over the 5 s run)
ROUNDS = {
    "1": {"direct": (10000, 5.0, 5.0), "haproxy": (8000, 10.0, 6.0), "nginx-stream": (9000, 9.0, 7.2),
          "slb-auto": (9900, 8.0, 7.6)},
    "2": {"direct": (10000, 5.0, 6.0), "haproxy": (6000, 12.0, 6.0), "nginx-stream": (5000, 11.0, 5.5),
          "slb-auto": (5400, 13.0, 6.3)},
}


def write_run(d, rounds=ROUNDS):
    os.makedirs(os.path.join(d, "raw"))
    with open(os.path.join(d, "meta.env"), "w") as f:
        f.write("cpus=2\nrounds=2\nduration=5\nwarmup=1\nidle_conns=5000\n")
    with open(os.path.join(d, "runs.tsv"), "w") as tsv:
        for rnd, runs in rounds.items():
            for c, (rps, p99, busy) in runs.items():
                name = f"r{rnd}_cc_{c}.txt"
                with open(os.path.join(d, "raw", name), "w") as f:
                    f.write(WRK.format(p50=p99 / 2, p99=p99, req=rps * 5, rps=rps))
                cpu = "" if c == "direct" else "1.0"
                # round scenario contender status file cpu_s hwm_kb backend_s wrk_s busy_s steal_s wall_s
                tsv.write(f"{rnd}\tconn-close\t{c}\tok\t{name}\t{cpu}\t1024\t1.0\t1.0\t{busy}\t0\t5.0\t\t\t\n")


class RoundByRound(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        write_run(cls.tmp.name)
        cls.summary, cls.scenarios, cls.contenders = summarize.load_runs(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_machine_cost_is_busy_time_per_request_minus_directs_of_the_same_round(self):
        # round 1: slb 7.6 s / 49,500 req - direct 5.0 s / 50,000 req = 153.5 - 100 us
        self.assertAlmostEqual(summarize.round_value(self.summary, "conn-close", "slb-auto", "1", "mach"),
                               7.6e6 / 49500 - 100.0, places=6)
        self.assertAlmostEqual(summarize.round_value(self.summary, "conn-close", "slb-auto", "2", "mach"),
                               6.3e6 / 27000 - 120.0, places=6)

    def test_each_round_is_compared_with_that_rounds_best_peer(self):
        rps = summarize.paired_ratios(self.summary, "conn-close", "slb-auto", "rps", True)
        self.assertEqual([round(r, 4) for r in rps], [1.1, 0.9])  # 9,900/9,000; 5,400/6,000
        p99 = summarize.paired_ratios(self.summary, "conn-close", "slb-auto", "p99", False)
        # best p99: nginx's 9 ms in round 1, nginx's 11 ms in round 2
        self.assertEqual([round(r, 4) for r in p99], [round(8 / 9, 4), round(13 / 11, 4)])
        mach = summarize.paired_ratios(self.summary, "conn-close", "slb-auto", "mach", False)
        best1 = min(6.0e6 / 40000, 7.2e6 / 45000) - 100.0   # haproxy 50, nginx 60
        best2 = min(6.0e6 / 30000, 5.5e6 / 25000) - 120.0   # haproxy 80, nginx 100
        self.assertAlmostEqual(mach[0], (7.6e6 / 49500 - 100.0) / best1, places=6)
        self.assertAlmostEqual(mach[1], (6.3e6 / 27000 - 120.0) / best2, places=6)

    def test_the_table_counts_the_rounds_slb_was_level_or_better(self):
        md = "\n".join(summarize.round_table(self.summary, self.scenarios, self.contenders))
        row = [line for line in md.splitlines() if line.startswith("| conn-close | slb-auto |")]
        self.assertEqual(len(row), 1, md)
        cells = [c.strip() for c in row[0].strip("|").split("|")]
        self.assertEqual(cells[2:4], ["1.00 [0.90-1.10]", "1/2"])
        self.assertEqual(cells[5], "1/2")   # p99: better in round 1 only
        self.assertEqual(cells[7], "0/2")   # machine: 53.5 / 50 and 113.3 / 80
        self.assertNotIn("| conn-close | haproxy |", md)  # peers are the reference, not rows

    def test_a_ratio_of_medians_hides_what_the_rounds_show(self):
        # medians: slb 7,650 req/s, best peer (haproxy) 7,000: 1.09 x, although slb was behind in
        # one round of two
        s = self.summary
        self.assertAlmostEqual(summarize.ratio(s[("conn-close", "slb-auto")]["rps"],
                                               summarize.best_peer(s, "conn-close", "rps", True)[1]),
                               7650 / 7000, places=6)


class TwentyServices(unittest.TestCase):
    """--services: slb-svc20 over slb-auto, round by round; machine figures minus direct's."""

    def test_the_table_pairs_each_round_of_20_services_with_one(self):
        rounds = {"1": {"direct": (10000, 5.0, 5.0), "slb-auto": (8000, 8.0, 6.0), "slb-svc20": (8000, 8.0, 6.4)},
                  "2": {"direct": (10000, 5.0, 6.0), "slb-auto": (5000, 9.0, 6.0), "slb-svc20": (4000, 9.0, 5.6)}}
        with tempfile.TemporaryDirectory() as d:
            write_run(d, rounds)
            summary, scenarios, contenders = summarize.load_runs(d)
            md = summarize.services_table(summary, scenarios, contenders)
        row = [line for line in md if line.startswith("| conn-close |")]
        self.assertEqual(len(row), 1, md)
        cells = [c.strip() for c in row[0].strip("|").split("|")]
        # req/s: 8000/8000 = 1, 4000/5000 = 0.8; machine: (160-100)/(150-100) = 1.2,
        # (280-120)/(240-120) = 1.333; own: 1 s over 40,000 vs 40,000 req, 20,000 vs 25,000 req
        self.assertEqual(cells[1], "0.900 [0.800-1.000]")
        self.assertEqual(cells[2], "1.267 [1.200-1.333]")
        self.assertEqual(cells[4], "1.125 [1.000-1.250]")
        self.assertEqual(cells[5], "2")

    def test_no_table_without_both_contenders(self):
        self.assertEqual(summarize.services_table({}, ["conn-close"], ["slb-auto"]), [])


if __name__ == "__main__":
    unittest.main()
