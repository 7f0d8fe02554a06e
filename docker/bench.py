#!/usr/bin/env python3
"""Benchmark: the tap against a raw `docker run` of the same image, side by side, alternately.

    docker/bench.py [--records N] [--runs K] [--rss-sweep]

Builds what it needs (release binary, the bundled connector's image), then for a source that writes
records at pipe speed (one stream, ~250-byte RECORD lines) runs, K times each and alternately:
  raw:  docker run --rm -v DIR:/data IMAGE read --config … --catalog … > /dev/null
  tap:  tap-airbyte --config … --catalog … > /dev/null
and prints medians and ratios: wall time, the tap's own CPU per record (user+sys of the tap process,
from wait4), its peak RSS, records/s and MB/s. Then the same for spec, check and discover. Then the
native row, with no Docker: the tap running the same connector as a local executable
(`airbyte_spec.executable`) against the connector binary alone writing to /dev/null; the tap's own
CPU per record is its process tree's CPU less the connector's alone (wait4 counts a reaped child in
its parent's usage).
--rss-sweep also measures the tap's peak RSS at 100k, 500k, 1M and 2M records.
It is a benchmark, not a test: it asserts nothing and its numbers depend on the machine.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE = "airbyte/source-scripted:dev"
CONNECTOR = os.path.join(REPO, "target", "connector", "x86_64-unknown-linux-gnu", "release", "source-scripted")
TAP = os.path.join(REPO, "target", "release", "tap-airbyte")


def sh(cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def timed(argv):
    """Runs argv with stdout to /dev/null; returns (wall s, user+sys s of the child, peak RSS KiB, rc).
    The peak is the child's own VmHWM, polled from /proc (ru_maxrss would include this Python
    process, whose memory a vfork()ed child shares until it execs)."""
    with open(os.devnull, "wb") as devnull:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.DEVNULL)
        peak = 0
        while True:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            time.sleep(0.005)
        wall = time.perf_counter() - t0
    return wall, ru.ru_utime + ru.ru_stime, peak, os.waitstatus_to_exitcode(status)


def setup(d, records):
    os.chmod(d, 0o755)  # the connector runs as uid 1000
    os.umask(0o022)
    connector = {"streams": [{"name": "bench", "records": records, "padding": 81, "incremental": False}],
                 "state_every": 10000}
    with open(os.path.join(d, "connector.json"), "w") as f:
        json.dump(connector, f)
    settings = {"airbyte_spec": {"image": "airbyte/source-scripted", "tag": "dev"}, "airbyte_config": connector}
    with open(os.path.join(d, "settings.json"), "w") as f:
        json.dump(settings, f)
    native = {"airbyte_spec": {"executable": CONNECTOR}, "airbyte_config": connector}
    with open(os.path.join(d, "native-settings.json"), "w") as f:
        json.dump(native, f)
    with open(os.path.join(d, "singer-catalog.json"), "wb") as f:
        f.write(subprocess.run([TAP, "--config", os.path.join(d, "settings.json"), "--discover"],
                               check=True, capture_output=True).stdout)
    raw_catalog = subprocess.run(["docker", "run", "--rm", "-v", f"{d}:/data", IMAGE, "discover", "--config",
                                  "/data/connector.json"], check=True, capture_output=True).stdout
    stream = next(json.loads(l)["catalog"]["streams"][0] for l in raw_catalog.splitlines() if b'"CATALOG"' in l)
    with open(os.path.join(d, "catalog.json"), "w") as f:
        json.dump({"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "append",
                                "primary_key": [["id"]]}]}, f)
    # Size of the connector's output, for MB/s.
    out = subprocess.run(f"docker run --rm -v {d}:/data {IMAGE} read --config /data/connector.json "
                         f"--catalog /data/catalog.json | wc -c", shell=True, check=True, capture_output=True)
    return int(out.stdout)


def commands(d):
    raw = ["docker", "run", "--rm", "-v", f"{d}:/data", IMAGE]
    tap = [TAP, "--config", os.path.join(d, "settings.json")]
    return {
        "read": (raw + ["read", "--config", "/data/connector.json", "--catalog", "/data/catalog.json"],
                 tap + ["--catalog", os.path.join(d, "singer-catalog.json")]),
        "spec": (raw + ["spec"], tap + ["--about", "--format", "json"]),
        "check": (raw + ["check", "--config", "/data/connector.json"], tap + ["--test"]),
        "discover": (raw + ["discover", "--config", "/data/connector.json"], tap + ["--discover"]),
        "native": ([CONNECTOR, "read", "--config", os.path.join(d, "connector.json"), "--catalog",
                    os.path.join(d, "catalog.json")],
                   [TAP, "--config", os.path.join(d, "native-settings.json"), "--catalog",
                    os.path.join(d, "singer-catalog.json")]),
    }


def compare(name, raw, tap, runs):
    r, t = [], []
    for _ in range(runs):
        r.append(timed(raw))
        t.append(timed(tap))
    for rc in [x[3] for x in r + t]:
        if rc != 0:
            sys.exit(f"{name}: a run failed with exit code {rc}")
    med = lambda xs, i: statistics.median(x[i] for x in xs)
    return {"raw_wall": med(r, 0), "raw_cpu": med(r, 1), "tap_wall": med(t, 0), "tap_cpu": med(t, 1),
            "tap_rss_kib": med(t, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rss-sweep", action="store_true")
    ap.add_argument("--maps", action="store_true",
                    help="only the tap's own CPU per record natively: no maps, a map that hashes one "
                         "property and drops another, flattening to depth 2")
    a = ap.parse_args()
    if a.maps:
        return bench_maps(a)
    sh(["cargo", "build", "--release", "--quiet"], cwd=REPO)
    sh([os.path.join(REPO, "docker", "build-images.sh"), "scripted"])
    with tempfile.TemporaryDirectory() as d:
        size = setup(d, a.records)
        cmds = commands(d)
        print(f"source: {a.records} records, {size / a.records:.0f} bytes per line, {size / 1e6:.0f} MB; "
              f"{a.runs} runs each, alternating; medians")
        m = compare("read", *cmds["read"], a.runs)
        print(f"read      raw {m['raw_wall']:.3f} s   tap {m['tap_wall']:.3f} s   ratio {m['tap_wall'] / m['raw_wall']:.3f}"
              f"   (target <= 1.05)")
        print(f"          tap CPU {m['tap_cpu'] * 1e6 / a.records:.3f} us/record (target <= 1)   "
              f"peak RSS {m['tap_rss_kib'] / 1024:.1f} MiB (target <= 20)")
        print(f"          {a.records / m['tap_wall']:,.0f} records/s, {size / m['tap_wall'] / 1e6:.0f} MB/s through the tap")
        for name in ["spec", "check", "discover"]:
            m = compare(name, *cmds[name], a.runs)
            print(f"{name:9} raw {m['raw_wall']:.3f} s   tap {m['tap_wall']:.3f} s   ratio "
                  f"{m['tap_wall'] / m['raw_wall']:.3f}   (target <= 1.10)")
        m = compare("native", *cmds["native"], a.runs)
        own = max(m["tap_cpu"] - m["raw_cpu"], 0.0)
        print(f"native    connector alone {m['raw_wall']:.3f} s   tap {m['tap_wall']:.3f} s   ratio "
              f"{m['tap_wall'] / m['raw_wall']:.3f}   tap's own CPU {own * 1e6 / a.records:.3f} us/record   "
              f"peak RSS {m['tap_rss_kib'] / 1024:.1f} MiB")
    if a.rss_sweep:
        for n in [100_000, 500_000, 1_000_000, 2_000_000]:
            with tempfile.TemporaryDirectory() as d:
                setup(d, n)
                m = compare("read", *commands(d)["read"], 1)
                print(f"rss sweep {n:>9} records: tap peak RSS {m['tap_rss_kib'] / 1024:.1f} MiB, "
                      f"CPU {m['tap_cpu'] * 1e6 / n:.3f} us/record")


MAPS = {
    "no maps": {},
    "md5(name), meta dropped": {"stream_maps": {"bench": {"name": "md5(name)", "meta": None}}},
    "flattening, depth 2": {"flattening_enabled": True, "flattening_max_depth": 2},
}


def bench_maps(a):
    """The tap's own CPU per record (its process tree's CPU less the connector's alone), natively,
    with each of MAPS; the runs of the settings alternate, so they share the machine's state."""
    sh(["cargo", "build", "--release", "--quiet"], cwd=REPO)
    sh([os.path.join(REPO, "docker", "build-images.sh"), "scripted"])
    with tempfile.TemporaryDirectory() as d:
        setup(d, a.records)
        alone, tap = commands(d)["native"]
        base = json.load(open(os.path.join(d, "native-settings.json")))
        runs = {}
        for name, extra in MAPS.items():
            path = os.path.join(d, f"maps-{len(runs)}.json")
            with open(path, "w") as f:
                json.dump({**base, **extra}, f)
            runs[name] = tap[:2] + [path] + tap[3:]
        cpu = {name: [] for name in MAPS}
        connector = []
        for _ in range(a.runs):
            connector.append(timed(alone)[1])
            for name, argv in runs.items():
                wall, used, _, rc = timed(argv)
                if rc != 0:
                    sys.exit(f"{name}: exit code {rc}")
                cpu[name].append(used)
        c = statistics.median(connector)
        print(f"{a.records} records, {a.runs} runs each, alternating; medians; "
              f"connector alone {c * 1e6 / a.records:.3f} us/record")
        plain = None
        for name, xs in cpu.items():
            own = max(statistics.median(xs) - c, 0.0) * 1e6 / a.records
            plain = plain or own
            print(f"{name:26} tap's own CPU {own:.3f} us/record   ratio to no maps {own / plain:.2f}")


if __name__ == "__main__":
    main()
