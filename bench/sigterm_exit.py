#!/usr/bin/env python3
"""Time from SIGTERM to the end of an idle `postfeed serve`, in milliseconds.

Usage: bench/sigterm_exit.py BINARY CONFIG [RUNS] [IDLE_S]   (release build; prints each run and the median)
Each run starts the daemon on a free loopback port, waits for its start line, lets it idle for
IDLE_S seconds (default 1; a large site sets up its watcher for a few seconds after it starts
serving), sends SIGTERM and waits for the process to be reaped.
"""
import os
import signal
import statistics
import subprocess
import sys
import time


def one_run(binary, config, idle):
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("RUST_LOG", None)
    daemon = subprocess.Popen([binary, "serve", "--config", config, "--listen", "127.0.0.1:0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    for line in daemon.stderr:
        if "listening on" in line:
            break
    else:
        sys.exit(f"the daemon ended before listening (status {daemon.wait()})")
    time.sleep(idle)
    started = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    daemon.stderr.read()
    daemon.wait()
    return (time.monotonic() - started) * 1000.0


def main():
    binary, config = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    idle = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    times = sorted(one_run(binary, config, idle) for _ in range(runs))
    print("SIGTERM to exit, ms:", " ".join(f"{t:.1f}" for t in times))
    print(f"median {statistics.median(times):.1f} ms over {runs} runs")


if __name__ == "__main__":
    main()
