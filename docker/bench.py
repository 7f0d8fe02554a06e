#!/usr/bin/env python3
"""Benchmark: the tap against the connector alone, side by side, alternately.

    docker/bench.py [--records N] [--runs K] [--rss-sweep] [--before PATH] [--only read,native,…]

Builds what it needs (release binary, the bundled connector's image), then for a source that writes
records at pipe speed (one stream, ~250-byte RECORD lines) runs, K times each and alternately:
  alone: docker run -d --log-driver none IMAGE read … then docker wait: the same container writing
         the same records with nobody reading them, the limit a sync can reach;
  attached: the same container with a reader that discards its attach stream (256 KiB reads on the
         engine's unix socket, paced as the tap paces them): what any reader of the attach stream
         costs, next to nobody reading (in wall time, and in the reader's own CPU: the kernel's
         copies and wake-ups);
  cli:   docker run --rm IMAGE read … > /dev/null, the Docker CLI reading them (a second reference);
  tap:   tap-airbyte --config … --catalog … > /dev/null
  (before: the same with another tap binary, --before PATH, e.g. a build of an earlier commit)
and prints medians and ratios to the connector alone: wall time, the tap's own CPU per record
(user+sys of the tap process, from wait4), its peak RSS, records/s and MB/s. Then spec, check and
discover against `docker run`. Then the native row, with no Docker: the tap running the same
connector as a local executable (`airbyte_spec.executable`) against the connector binary alone
writing to /dev/null, and against the connector writing into a pipe that `cat` empties (what any
reader of its stdout costs it); the tap's own CPU per record is its process tree's CPU less the connector's
alone (wait4 counts a reaped child in its parent's usage).
--rss-sweep also measures the tap's peak RSS at 100k, 500k, 1M and 2M records.
It is a benchmark, not a test: it asserts nothing and its numbers depend on the machine.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time

# The engine's unix socket, as the tap finds it (DOCKER_HOST=unix://…, or the default).
_host = os.environ.get("DOCKER_HOST", "")
SOCKET = _host[len("unix://"):] if _host.startswith("unix://") else "/var/run/docker.sock"

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


def alone(d):
    """The connector's container with nobody reading its output: `docker run -d --log-driver none`,
    then `docker wait`; returns (wall s, 0, 0, exit code) like `timed`."""
    t0 = time.perf_counter()
    cid = subprocess.run(["docker", "run", "-d", "--log-driver", "none", "-v", f"{d}:/data", IMAGE, "read",
                          "--config", "/data/connector.json", "--catalog", "/data/catalog.json"],
                         check=True, capture_output=True, text=True).stdout.strip()
    code = int(subprocess.run(["docker", "wait", cid], check=True, capture_output=True, text=True).stdout)
    wall = time.perf_counter() - t0
    subprocess.run(["docker", "rm", cid], check=True, capture_output=True)
    return wall, 0.0, 0, code


def attached(d, pause=0.0001):
    """The connector's container with a reader that discards its output: the attach stream the tap
    reads (HTTP/1.1 upgrade on the engine's unix socket, stdout and stderr multiplexed, no log
    driver, as the tap creates its containers), read in 256 KiB pieces and thrown away, the least
    any reader of the attach stream costs. Create, attach,
    start, read to the end, wait, remove; returns (wall s, the reader's CPU s while reading, 0, exit
    code) like `timed`."""
    import http.client, socket

    class Engine(http.client.HTTPConnection):
        def __init__(self):
            super().__init__("docker")

        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(SOCKET)

    def call(method, path, body=None):
        c = Engine()
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status >= 300:
            sys.exit(f"{method} {path}: {r.status} {data!r}")
        return json.loads(data) if data else None

    t0 = time.perf_counter()
    cid = call("POST", "/v1.41/containers/create", {
        "Image": IMAGE, "Cmd": ["read", "--config", "/data/connector.json", "--catalog", "/data/catalog.json"],
        "AttachStdout": True, "AttachStderr": True,
        "HostConfig": {"Binds": [f"{d}:/data"], "LogConfig": {"Type": "none"}}})["Id"]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(SOCKET)
    sock.sendall(f"POST /v1.41/containers/{cid}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\n"
                 "Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    call("POST", f"/v1.41/containers/{cid}/start")
    # The reader's own CPU while it reads: mostly the kernel's, for the copies and the wake-ups
    # that any reader of the attach stream pays (a python loop adds about 1 us per read).
    # Paced as the tap paces it: after a read shorter than 128 KiB, `pause` s before the next, so
    # frames gather in the socket instead of waking the reader once each. The default is
    # `runtime::docker::attach::PAUSE` (100 us): keep the two in step.
    r0 = os.times()
    while True:
        got = len(sock.recv(256 * 1024))
        if got == 0:
            break
        if got < 128 * 1024 and pause:
            time.sleep(pause)
    r1 = os.times()
    cpu = (r1.user - r0.user) + (r1.system - r0.system)
    sock.close()
    code = call("POST", f"/v1.41/containers/{cid}/wait")["StatusCode"]
    wall = time.perf_counter() - t0
    call("DELETE", f"/v1.41/containers/{cid}")
    return wall, cpu, 0, code


def with_tap(argv, tap):
    return [tap] + argv[1:] if argv[0] == TAP else argv


def compare(name, runners, runs):
    """Runs each of `runners` ({column: () -> timed tuple}) `runs` times, alternating; medians.
    The order rotates from round to round, so no column always runs right after the same one (a
    run after the connector-alone column's `docker rm` measured up to 8 % slower)."""
    got = {k: [] for k in runners}
    order = list(runners)
    for i in range(runs):
        for k in order[i % len(order):] + order[:i % len(order)]:
            got[k].append(runners[k]())
    for k, xs in got.items():
        for x in xs:
            if x[3] != 0:
                sys.exit(f"{name} ({k}): a run failed with exit code {x[3]}")
    med = lambda k, i: statistics.median(x[i] for x in got[k])
    return {k: {"wall": med(k, 0), "cpu": med(k, 1), "rss_kib": med(k, 2)} for k in runners}


def taps(argv, before):
    cols = {"tap": lambda: timed(argv)}
    if before:
        cols["before"] = lambda: timed(with_tap(argv, before))
    return cols


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rss-sweep", action="store_true")
    ap.add_argument("--before", help="another tap binary, measured in the same runs (a build of an earlier commit)")
    ap.add_argument("--only", default="read,spec,check,discover,native",
                    help="comma-separated rows to run (read, spec, check, discover, native)")
    ap.add_argument("--maps", action="store_true",
                    help="only the tap's own CPU per record natively: no maps, a map that hashes one "
                         "property and drops another, flattening to depth 2")
    a = ap.parse_args()
    if a.maps:
        return bench_maps(a)
    rows = a.only.split(",")
    sh(["cargo", "build", "--release", "--quiet"], cwd=REPO)
    sh([os.path.join(REPO, "docker", "build-images.sh"), "scripted"])
    with tempfile.TemporaryDirectory() as d:
        size = setup(d, a.records)
        cmds = commands(d)
        print(f"source: {a.records} records, {size / a.records:.0f} bytes per line, {size / 1e6:.0f} MB; "
              f"{a.runs} runs each, alternating; medians")
        if "read" in rows:
            cli, tap = cmds["read"]
            m = compare("read", {"alone": lambda: alone(d), "attached": lambda: attached(d),
                                 "cli": lambda: timed(cli), **taps(tap, a.before)}, a.runs)
            base, floor = m["alone"]["wall"], m["attached"]["wall"]
            print(f"read      connector alone {base:.3f} s   attached, output discarded {floor:.3f} s "
                  f"(ratio {floor / base:.2f}; the reader's CPU {m['attached']['cpu'] * 1e6 / a.records:.3f} us/record)   "
                  f"docker CLI {m['cli']['wall']:.3f} s (ratio {m['cli']['wall'] / base:.2f})")
            for k in [k for k in m if k in ("tap", "before")]:
                t = m[k]
                print(f"  {k:7} wall {t['wall']:.3f} s  ratio to alone {t['wall'] / base:.3f} (target <= 1.10), "
                      f"{t['wall'] / floor:.3f} to the discarding reader   "
                      f"CPU {t['cpu'] * 1e6 / a.records:.3f} us/record (target <= 0.3)   "
                      f"peak RSS {t['rss_kib'] / 1024:.1f} MiB (target <= 16)   "
                      f"{a.records / t['wall']:,.0f} records/s, {size / t['wall'] / 1e6:.0f} MB/s")
        for name in ["spec", "check", "discover"]:
            if name not in rows:
                continue
            raw, tap = cmds[name]
            m = compare(name, {"raw": lambda: timed(raw), **taps(tap, a.before)}, a.runs)
            print(f"{name:9} docker run {m['raw']['wall']:.3f} s   " + "   ".join(
                f"{k} {m[k]['wall']:.3f} s (ratio {m[k]['wall'] / m['raw']['wall']:.3f})"
                for k in m if k != "raw") + "   (target <= 1.10)")
        if "native" in rows:
            raw, tap = cmds["native"]
            # The same connector into a pipe that `cat` empties: the least any reader of its stdout
            # costs it (the copy into the pipe and the wake-ups), next to nobody reading at all.
            cat = ["sh", "-c", 'exec "$0" "$@" | cat'] + raw
            m = compare("native", {"alone": lambda: timed(raw), "cat": lambda: timed(cat),
                                   **taps(tap, a.before)}, a.runs)
            base, piped = m["alone"], m["cat"]
            print(f"native    connector alone to /dev/null {base['wall']:.3f} s   "
                  f"connector | cat {piped['wall']:.3f} s (ratio {piped['wall'] / base['wall']:.3f})")
            for k in [k for k in m if k not in ("alone", "cat")]:
                own = max(m[k]["cpu"] - base["cpu"], 0.0)
                print(f"  {k:7} wall {m[k]['wall']:.3f} s  ratio {m[k]['wall'] / base['wall']:.3f} (target <= 1.05), "
                      f"{m[k]['wall'] / piped['wall']:.3f} to the pipe into cat   "
                      f"own CPU {own * 1e6 / a.records:.3f} us/record   peak RSS {m[k]['rss_kib'] / 1024:.1f} MiB")
    if a.rss_sweep:
        for n in [100_000, 500_000, 1_000_000, 2_000_000]:
            with tempfile.TemporaryDirectory() as d:
                setup(d, n)
                tap = commands(d)["read"][1]
                m = compare("read", {"tap": lambda: timed(tap)}, 1)["tap"]
                print(f"rss sweep {n:>9} records: tap peak RSS {m['rss_kib'] / 1024:.1f} MiB, "
                      f"CPU {m['cpu'] * 1e6 / n:.3f} us/record")


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
