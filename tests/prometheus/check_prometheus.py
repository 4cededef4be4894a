#!/usr/bin/env python3
"""trainrate's metrics through a real node_exporter and Prometheus.

Usage: check_prometheus.py TRAINRATE_CLI

  - `trainrate run` measures a few GEMMs and a ReLU on the CPU with `--metrics` into a
    textfile-collector directory; three peers copied from its results make a baseline, and `trainrate
    screen --metrics` rewrites that file with the verdict (as the Slurm scripts do); `trainrate export
    --format openmetrics` adds a doctored node with an INVALID and a FAILED row; `promtool check
    metrics` must pass on every file;
  - node_exporter (textfile collector only) and Prometheus (scraping it every second) start on free
    loopback ports, with a temporary configuration and storage directory;
  - once Prometheus has scraped (polled, at most 60 s), every series is queried through its HTTP API
    (/api/v1/query) and compared with values computed here from the results files themselves (rate in
    FLOP/s or bytes/s, median time, noise, % of peak, ok or not, custom/vendor ratio, run start): the
    same set of series, equal values (to 1e-12 relative), the verdict ACCEPT with geomean ratios of 1,
    no textfile scrape error.
Every process started is stopped on exit. Exit 0 on success, 1 on failure, 77 (skip) only when
the Debian packages prometheus and prometheus-node-exporter cannot be installed.
"""
import calendar
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SKIP = 77
PACKAGES = ["prometheus", "prometheus-node-exporter"]
TOOLS = ["prometheus", "prometheus-node-exporter", "promtool"]


def log(message):
    print(f"check_prometheus: {message}", flush=True)


def fail(message):
    log(f"FAIL: {message}")
    sys.exit(1)


def ensure_tools():
    if all(shutil.which(t) for t in TOOLS):
        return
    setup = os.path.join(REPO, "scripts", "setup")
    log(f"installing {' '.join(PACKAGES)} with scripts/setup")
    result = subprocess.run([setup, *PACKAGES], capture_output=True, text=True)
    if result.returncode != 0:
        log(f"SKIP: {' '.join(PACKAGES)} cannot be installed (scripts/setup exited {result.returncode}): "
            f"{result.stderr.strip()[-300:]}")
        sys.exit(SKIP)
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        log(f"SKIP: scripts/setup succeeded but {', '.join(missing)} is not on PATH")
        sys.exit(SKIP)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trainrate(cli, *args, expect=(0,)):
    result = subprocess.run([cli, *args], capture_output=True, text=True)
    if result.returncode not in expect:
        fail(f"trainrate {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


# ---- what the metrics must say, computed from the results files -----------------------------

# kind_label() for the problems this test measures.
def kind_label(problem):
    if problem["kind"] == "gemm":
        return "gemm"
    if problem["kind"] == "memory" and problem["op"] == "relu":
        return "relu-" + {"forward": "fwd", "backward": "bwd"}[problem["pass"]]
    fail(f"this test measures GEMMs and ReLU only, not {problem}")


def work_rate(r):
    return r["rate_bytes_per_s"] if r["problem"]["kind"] == "memory" else r["rate_flops_per_s"]


def expected_series(path):
    """{(metric, frozenset(labels)): value} for every row of a results file."""
    with open(path) as f:
        results = json.load(f)
    model = {d["id"]: d["name"] for d in results["devices"]}
    series = {}
    for r in results["results"]:
        if r["status"] == "skipped":
            continue
        labels = frozenset({"host": results["host"], "device": r["device"], "device_model": model[r["device"]],
                            "backend": r["backend"], "kind": kind_label(r["problem"]),
                            "problem": r["name"]}.items())
        ok = r["status"] == "ok"
        series[("trainrate_result_ok", labels)] = 1.0 if ok else 0.0
        if not ok:
            continue
        stats = r["measurement"]["stats"]
        if r["problem"]["kind"] == "memory":
            series[("trainrate_rate_bytes_per_second", labels)] = r["rate_bytes_per_s"]
        else:
            series[("trainrate_rate_flops_per_second", labels)] = r["rate_flops_per_s"]
        series[("trainrate_median_seconds", labels)] = stats["median_ms"] / 1000
        series[("trainrate_noise_ratio", labels)] = stats["relative_noise"]
        if r.get("percent_of_peak") is not None:
            series[("trainrate_peak_ratio", labels)] = r["percent_of_peak"] / 100
        if r["role"] == "custom":
            # Against the fastest vendor the custom backend names (any, when it names none), on the
            # same problem and device.
            named = r.get("compared_with") or []
            vendors = [work_rate(v) for v in results["results"] if v["role"] == "vendor" and v["status"] == "ok"
                       and (not named or v["backend"] in named) and v["problem"] == r["problem"]
                       and v["device"] == r["device"]]
            if vendors:
                series[("trainrate_custom_vendor_ratio", labels)] = work_rate(r) / max(vendors)
    started = calendar.timegm(time.strptime(results["created_utc"], "%Y-%m-%dT%H:%M:%SZ"))
    for device in {r["device"] for r in results["results"] if r["status"] != "skipped"}:
        labels = frozenset({"host": results["host"], "device": device, "device_model": model[device]}.items())
        series[("trainrate_run_timestamp_seconds", labels)] = float(started)
    return series


def with_prefix(series, prefix):
    return {key: value for key, value in series.items() if key[0].startswith(prefix)}


# ---- the daemons ---------------------------------------------------------------------------

class Daemons:
    def __init__(self, work):
        self.work = work
        self.processes = []

    def start(self, name, args):
        out = open(os.path.join(self.work, f"{name}.log"), "w")
        self.processes.append((name, subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)))

    def check_alive(self):
        for name, process in self.processes:
            if process.poll() is not None:
                self.show_logs()
                fail(f"{name} exited {process.returncode} (log above)")

    def show_logs(self):
        for name, _ in self.processes:
            with open(os.path.join(self.work, f"{name}.log")) as f:
                tail = f.read().splitlines()[-15:]
            print(f"---- {name}.log (last lines)\n" + "\n".join(tail), file=sys.stderr)

    def stop(self):
        for _, process in self.processes:
            if process.poll() is None:
                process.terminate()
        for _, process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def query(port, promql):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    if body.get("status") != "success":
        fail(f"query {promql}: {body}")
    return body["data"]["result"]


def wait_for_scrape(daemons, port, deadline_s=60):
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        daemons.check_alive()
        try:
            if query(port, 'up{job="trainrate"} == 1') and query(port, "trainrate_screen_accepted"):
                log(f"Prometheus scraped node_exporter after {time.monotonic() - start:.1f} s")
                return
        except OSError:
            pass  # Prometheus not listening yet
        time.sleep(0.5)
    daemons.show_logs()
    fail(f"no scrape of the trainrate metrics within {deadline_s} s")


def scraped_series(port):
    series = {}
    for item in query(port, '{__name__=~"trainrate_.+"}'):
        labels = dict(item["metric"])
        name = labels.pop("__name__")
        labels.pop("job", None)
        labels.pop("instance", None)
        series[(name, frozenset(labels.items()))] = float(item["value"][1])
    return series


def compare(expected, got):
    missing = sorted(set(expected) - set(got))
    if missing:
        fail(f"{len(missing)} series not in Prometheus, e.g. {missing[0]}")
    for key, value in expected.items():
        if not math.isclose(got[key], value, rel_tol=1e-12, abs_tol=0):
            fail(f"{key[0]} {dict(key[1])}: Prometheus has {got[key]!r}, the results file says {value!r}")


def write_json(path, value):
    with open(path, "w") as f:
        json.dump(value, f, indent=1)


def make_inputs(cli, work, textfiles):
    """The measured run (metrics rewritten by screen) and a doctored node; returns their results files."""
    run = os.path.join(work, "run.json")
    node_metrics = os.path.join(textfiles, "trainrate-node.prom")
    trainrate(cli, "run", "--suite", "smoke", "--kind", "gemm,relu-fwd", "--backends", "onednn,custom-cpu",
              "--threads", "1", "--budget-ms", "5", "--warmup", "0", "--quiet", "-o", run, "--metrics", node_metrics)
    if not os.path.exists(node_metrics):
        fail("trainrate run --metrics wrote nothing")
    with open(run) as f:
        measured = json.load(f)
    peers = []
    for host in ("peer-a", "peer-b", "peer-c"):
        peers.append(os.path.join(work, f"{host}.json"))
        write_json(peers[-1], dict(measured, host=host))
    baseline = os.path.join(work, "baseline.json")
    trainrate(cli, "baseline", *peers, "-o", baseline)
    trainrate(cli, "screen", run, "--baseline", baseline, "--metrics", node_metrics)

    doctored = dict(measured, host="doctored-node")
    doctored["results"] = [dict(r) for r in measured["results"]]
    for row, status in ((0, "INVALID"), (1, "FAILED")):
        doctored["results"][row].update(status=status, reason="doctored by the test", rate_flops_per_s=0,
                                        rate_bytes_per_s=0, percent_of_peak=None)
    doctored_path = os.path.join(work, "doctored.json")
    write_json(doctored_path, doctored)
    trainrate(cli, "export", "--format", "openmetrics", doctored_path, "-o",
              os.path.join(textfiles, "trainrate-doctored.prom"))
    for name in sorted(os.listdir(textfiles)):
        with open(os.path.join(textfiles, name)) as f:
            check = subprocess.run(["promtool", "check", "metrics"], stdin=f, capture_output=True, text=True)
        if check.returncode != 0:
            fail(f"promtool check metrics {name}: exit {check.returncode}: {check.stdout}{check.stderr}")
    log(f"promtool check metrics passes on {', '.join(sorted(os.listdir(textfiles)))}")
    return run, doctored_path


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    cli = os.path.abspath(sys.argv[1])
    ensure_tools()
    # ctest's timeout sends SIGTERM: leave through the finally below, which stops the daemons.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = tempfile.mkdtemp(prefix="trainrate-prometheus-")
    daemons = Daemons(work)
    try:
        textfiles = os.path.join(work, "textfile")
        os.makedirs(textfiles)
        run, doctored = make_inputs(cli, work, textfiles)

        exporter_port, prometheus_port = free_port(), free_port()
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
                    f"  - job_name: trainrate\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n")
        daemons.start("node_exporter", ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{exporter_port}",
                                        "--collector.disable-defaults", "--collector.textfile",
                                        f"--collector.textfile.directory={textfiles}"])
        daemons.start("prometheus", ["prometheus", f"--config.file={config}",
                                     f"--storage.tsdb.path={os.path.join(work, 'data')}",
                                     f"--web.listen-address=127.0.0.1:{prometheus_port}"])
        wait_for_scrape(daemons, prometheus_port)

        got = scraped_series(prometheus_port)
        expected = expected_series(run)
        expected.update(expected_series(doctored))
        compare(expected, got)
        extra = sorted(k for k in got if not k[0].startswith("trainrate_screen_") and k not in expected)
        if extra:
            fail(f"Prometheus has {len(extra)} series the results files do not, e.g. {extra[0]}")
        accepted = list(with_prefix(got, "trainrate_screen_accepted").values())
        ratios = set(with_prefix(got, "trainrate_screen_geomean_ratio").values())
        if accepted != [1.0] or ratios != {1.0}:
            fail(f"expected the run ACCEPTed at 1.0 of its identical peers, got {accepted}, ratios {ratios}")
        errors = query(prometheus_port, "node_textfile_scrape_error")
        if not errors or float(errors[0]["value"][1]) != 0:
            fail(f"node_textfile_scrape_error is {errors}")
        log(f"ok: {len(expected)} series and the screen verdict scraped with the results files' values")
        return 0
    finally:
        daemons.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
