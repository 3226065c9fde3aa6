#!/usr/bin/env python3
"""Start-up and memory after start-up of `postfeed serve`, for one binary and several configs.

    bench/start.py BINARY RUNS CONFIG... [--settle S]

Each run spawns `BINARY serve --config CONFIG` (configs interleaved, run after run), polls
`GET /feed.xml` every 5 ms until a 200 (the start-up: spawn to first feed byte), waits S seconds
(default 3), and takes the daemon's memory as BENCHMARKS.md counts it: VmRSS - RssShmem + the
size of every memory file it holds. Then SIGTERM. Prints the medians per config. The config's
`server.listen` must be set (127.0.0.1:PORT). Python 3, standard library only.
"""
import os
import signal
import statistics
import subprocess
import sys
import time
import tomllib
import urllib.request


def memory_mb(pid):
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status"))
    kb = lambda key: int(status[key].split()[0])
    memfd = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("/memfd:"):
                memfd += os.stat(f"/proc/{pid}/fd/{fd}").st_size
        except OSError:
            pass
    return (kb("VmRSS") - kb("RssShmem")) / 1024 + memfd / 1048576


def once(binary, config, settle):
    with open(config, "rb") as f:
        listen = tomllib.load(f)["server"]["listen"]
    url = f"http://{listen}/feed.xml"
    started = time.monotonic()
    daemon = subprocess.Popen([binary, "serve", "--config", config],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if daemon.poll() is not None:
                raise SystemExit(f"{config}: serve exited with {daemon.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        startup = time.monotonic() - started
                        break
            except OSError:
                pass
            if time.monotonic() - started > 120:
                raise SystemExit(f"{config}: no feed within 120 s")
            time.sleep(0.005)
        time.sleep(settle)
        return startup, memory_mb(daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)


def main():
    args = sys.argv[1:]
    settle = 3.0
    if "--settle" in args:
        i = args.index("--settle")
        settle = float(args[i + 1])
        del args[i:i + 2]
    if len(args) < 3:
        raise SystemExit(__doc__)
    binary, runs, configs = args[0], int(args[1]), args[2:]
    results = {config: [] for config in configs}
    for _ in range(runs):
        for config in configs:
            results[config].append(once(binary, config, settle))
    for config, runs_ in results.items():
        startups = [s for s, _ in runs_]
        memories = [m for _, m in runs_]
        print(f"{config}: start-up median {statistics.median(startups) * 1000:.0f} ms "
              f"({min(startups) * 1000:.0f}-{max(startups) * 1000:.0f}), memory after start-up median "
              f"{statistics.median(memories):.0f} MB ({min(memories):.0f}-{max(memories):.0f}), {len(runs_)} runs")


if __name__ == "__main__":
    main()
