#!/usr/bin/env python3
"""Small helpers for bench/run.sh (standard library only).

  benchtool.py ports N                  N distinct free TCP ports on 127.0.0.1
  benchtool.py pids ROOT                ROOT and all its descendants, one per line
  benchtool.py cpu ROOT                 utime+stime in seconds, summed over ROOT and descendants
  benchtool.py mem ROOT                 "VmHWM_kB VmRSS_kB", each summed over ROOT and descendants
  benchtool.py wait-port PORT SECS ROOT exit 0 once 127.0.0.1:PORT accepts, 1 on timeout or if ROOT died
  benchtool.py idle PORT ROOT N HOLD    memory per idle connection (see idle_test)
  benchtool.py snap ROOT...             "cpu_s... busy_s steal_s wall_s ipis ctxt busy": utime+stime of
                                        each ROOT tree (0 for "-"), the busy and steal time of all CPUs
                                        (/proc/stat), CLOCK_MONOTONIC, the wake-up interrupts each CPU
                                        received (comma-separated, CPU 0 first), the machine's context
                                        switches, and each CPU's busy time (comma-separated)
  benchtool.py rusage FILE CMD...       runs CMD, writes its utime+stime (s) to FILE, exits as it did
  benchtool.py slow-backend PORT MS     HTTP backend on 127.0.0.1:PORT answering after MS (bench/pickers.sh)
  benchtool.py conns ADMIN ADDR         "mine total": total_conns of backend ADDR and of all, from slb /status
"""
import os
import resource
import selectors
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def descendants(root):
    """ROOT plus every process below it, found through /proc/PID/task/TID/children."""
    seen, todo = [], [int(root)]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    return seen


def cpu_seconds(root):
    """utime+stime of each process (all its threads, live or exited), summed."""
    ticks = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/stat") as f:
                # Fields after the command name, which may hold spaces: state is field 3,
                # utime field 14 and stime field 15, i.e. indexes 11 and 12 here.
                rest = f.read().rsplit(")", 1)[1].split()
            ticks += int(rest[11]) + int(rest[12])
        except (OSError, IndexError, ValueError):
            pass
    return ticks / CLK_TCK


def status_kb(root, key):
    total = 0
    for pid in descendants(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError):
            pass
    return total


def busy_steal(line):
    """Busy (user, nice, system, irq, softirq) and steal seconds of one /proc/stat cpu line."""
    fields = [int(x) for x in line.split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / CLK_TCK, steal / CLK_TCK


def system_times():
    """Busy and steal seconds over all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        return busy_steal(f.readline())


def busy_per_cpu():
    """Busy seconds (user, nice, system, irq, softirq) of each CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        return [busy_steal(line)[0] for line in f if line.startswith("cpu") and not line.startswith("cpu ")]


def wakeup_ipis():
    """Per CPU, the inter-processor interrupts received that wake or run something there:
    rescheduling (RES) and function call (CAL) interrupts from /proc/interrupts. A task woken
    on another CPU costs one of these; on a virtual machine each is also an exit to the host."""
    per = None
    with open("/proc/interrupts") as f:
        ncpu = len(f.readline().split())
        for line in f:
            parts = line.split()
            if parts and parts[0] in ("RES:", "CAL:"):
                counts = [int(x) for x in parts[1:1 + ncpu]]
                per = counts if per is None else [a + b for a, b in zip(per, counts)]
    return per or []


def context_switches():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("ctxt "):
                return int(line.split()[1])
    return 0


def run_with_rusage(path, cmd):
    """Runs CMD (stdio inherited) and writes the CPU time it used, children included."""
    proc = subprocess.Popen(cmd)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(path, "w") as f:
        f.write(f"{ru.ru_utime + ru.ru_stime:.3f}\n")
    return proc.returncode if proc.returncode >= 0 else 128 - proc.returncode


def free_ports(n):
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def wait_port(port, secs, root):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        if not alive(root):
            return 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return 0
        except OSError:
            time.sleep(0.05)
    return 1


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need))
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def complete_response(buf):
    """True once buf holds a whole HTTP/1.1 response with a Content-Length body."""
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return True


def idle_test(port, root, n, hold):
    """Opens N connections through the contender and holds them, twice.

    Phase 1: N connections that have sent nothing, held HOLD seconds, RSS read.
    Phase 2: each of them sends one GET /small and reads the whole reply (keep-alive),
    then they are held HOLD seconds more and RSS is read again.
    Prints key=value pairs: rest_kb, idle_kb, req_kb (contender VmRSS summed over its
    processes), opened, answered.
    """
    raise_nofile(n + 64)
    time.sleep(0.3)
    rest_kb = status_kb(root, "VmRSS")
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            break
        socks.append(s)
    opened = len(socks)
    time.sleep(hold)
    idle_kb = status_kb(root, "VmRSS")

    req = b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n"
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        try:
            s.send(req)
        except OSError:
            continue
        bufs[s.fileno()] = b""
        sel.register(s, selectors.EVENT_READ)
    answered = 0
    deadline = time.monotonic() + 20
    while bufs and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            fd = s.fileno()
            if not chunk:
                sel.unregister(s)
                bufs.pop(fd, None)
                continue
            bufs[fd] += chunk
            if complete_response(bufs[fd]):
                answered += 1
                sel.unregister(s)
                bufs.pop(fd)
    sel.close()
    time.sleep(hold)
    req_kb = status_kb(root, "VmRSS")
    for s in socks:
        s.close()
    print(f"rest_kb={rest_kb} idle_kb={idle_kb} req_kb={req_kb} opened={opened} answered={answered}")
    return 0


def slow_backend(port, delay_ms):
    """An HTTP backend that answers every request after delay_ms: the slow server of
    bench/pickers.sh (slb-backend answers at once). asyncio, so a delay holds no thread."""
    import asyncio

    body = b"slow\n"

    async def serve(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                await asyncio.sleep(delay_ms / 1000)
                close = b"connection: close" in head.lower()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (
                    len(body), b"Connection: close\r\n" if close else b"") + body)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        writer.close()

    async def run():
        server = await asyncio.start_server(serve, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(run())
    return 0


def backend_conns(admin_port, addr):
    """total_conns of the backend at addr in slb's /status, and of all backends."""
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/status", timeout=5) as r:
        doc = json.load(r)
    total = sum(b["total_conns"] for b in doc["backends"])
    mine = sum(b["total_conns"] for b in doc["backends"] if b["address"] == addr)
    print(mine, total)
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "ports":
        print(" ".join(map(str, free_ports(int(args[0])))))
    elif cmd == "pids":
        print("\n".join(map(str, descendants(args[0]))))
    elif cmd == "cpu":
        print(f"{cpu_seconds(args[0]):.2f}")
    elif cmd == "mem":
        print(status_kb(args[0], "VmHWM"), status_kb(args[0], "VmRSS"))
    elif cmd == "snap":
        cpus = [f"{cpu_seconds(r):.2f}" if r != "-" else "0" for r in args]
        busy, steal = system_times()
        print(" ".join(cpus), f"{busy:.2f}", f"{steal:.2f}", f"{time.monotonic():.3f}",
              ",".join(map(str, wakeup_ipis())), context_switches(),
              ",".join(f"{b:.2f}" for b in busy_per_cpu()))
    elif cmd == "rusage":
        return run_with_rusage(args[0], args[1:])
    elif cmd == "wait-port":
        return wait_port(int(args[0]), float(args[1]), int(args[2]))
    elif cmd == "slow-backend":
        return slow_backend(int(args[0]), float(args[1]))
    elif cmd == "conns":
        return backend_conns(int(args[0]), args[1])
    elif cmd == "idle":
        return idle_test(int(args[0]), int(args[1]), int(args[2]), float(args[3]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
