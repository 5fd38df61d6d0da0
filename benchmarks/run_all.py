"""Run every benchmark (mxteach vs MXNet 1.9.1 vs PyTorch) and write benchmarks/RESULTS.md.

    make bench                                 # MXTEACH_ORACLE=.oracle/bin/python, 2 and 1 threads
    .venv/bin/python benchmarks/run_all.py --quick          # smoke run, writes nothing by default
    .venv/bin/python benchmarks/run_all.py --threads 2      # only the 2-thread pass

Real MXNet runs in the oracle venv ($MXTEACH_ORACLE, else ./.oracle/bin/python); PyTorch needs the
``bench`` extra (``.venv/bin/pip install -e '.[bench]'``). A framework that is missing is
skipped and said so. The benchmarks run once per thread count (default 2, then 1: on 2 cores
shared with other jobs the 1-thread numbers are the stable ones), plus one small mxteach MLP run
with this machine's OpenBLAS variables left set (see _common.py), plus bench_livemetrics.py when
present.

RESULTS.md is regenerated, except the hand-written part between ``<!-- interpretation -->`` and
``<!-- /interpretation -->``, which is carried over from the previous file (it is dated: update
it when the numbers move). Raw timings go to benchmarks/results_raw.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import bench_conv  # noqa: E402
import bench_lstm  # noqa: E402
import bench_mlp  # noqa: E402
import bench_ops  # noqa: E402

HERE = Path(__file__).resolve().parent
BEGIN, END = "<!-- interpretation -->", "<!-- /interpretation -->"
# the previous default thread policy: Numba kernels on 2 threads, numpy's BLAS capped at 1
POLICY_ENV = ("MXTEACH_THREADS=2",)


def machine():
    info = {"cpu": platform.processor() or "unknown", "cores": os.cpu_count(),
            "ram": "unknown", "kernel": platform.release(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        flags = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("flags")]
        if flags:
            f = flags[0].split()
            info["simd"] = ", ".join(x for x in ("avx2", "avx512f", "avx512_bf16", "amx_tile")
                                     if x in f)
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        info["ram"] = f"{kb / 2**20:.1f} GiB"
    except (OSError, AttributeError, ValueError):
        pass
    return info


def versions(payloads):
    """Versions from the first worker of each framework (the tuned-environment runs)."""
    v, seen = {}, set()
    for p in payloads:
        for rs in p.get("raw", {}).values():
            for r in rs:
                m = r.get("meta", {})
                fw = m.get("framework")
                if fw in seen:
                    continue
                seen.add(fw)
                if fw == "mxteach":
                    v.update({"mxteach": m.get("mxteach"), "numpy (mxteach)": m.get("numpy"),
                              "numba": m.get("numba"),
                              "numpy BLAS (mxteach)": "; ".join(
                                  b.split(" threads=")[0] for b in m.get("numpy_blas", []))})
                elif fw == "mxnet":
                    v.update({"mxnet": m.get("mxnet"), "numpy (MXNet venv)": m.get("numpy"),
                              "MXNet MKLDNN": m.get("mkldnn")})
                elif fw == "torch":
                    v.update({"torch": m.get("torch"), "torch MKLDNN": m.get("mkldnn")})
    return v


def revision():
    """The mxteach commit measured (read-only git), with a note if mxteach/ had local edits."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=str(HERE.parent), timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "mxteach"],
                               capture_output=True, text=True, cwd=str(HERE.parent),
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + (" (mxteach/ had uncommitted edits)" if dirty else "")


def loadavg3():
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def busy_processes():
    """How many other python/pytest processes were running (the load's likely source)."""
    try:
        out = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True,
                             timeout=10).stdout.splitlines()[1:]
    except (OSError, subprocess.SubprocessError):
        return "n/a"
    me = os.getpid()
    py = [ln for ln in out if "python" in ln and not ln.strip().startswith(str(me))]
    running = [ln for ln in py if ln.split()[1].startswith("R")]
    tests = [ln for ln in py if "pytest" in ln]
    return f"{len(py)} python processes ({len(running)} running, {len(tests)} pytest)"


def run_livemetrics(timeout):
    script = HERE / "bench_livemetrics.py"
    if not script.exists():
        return None
    t = time.time()
    try:
        p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                           timeout=timeout, cwd=str(HERE.parent))
        out, rc = p.stdout.strip(), p.returncode
        if rc != 0:
            out += "\n" + p.stderr.strip()[-2000:]
    except subprocess.TimeoutExpired:
        out, rc = f"timed out after {timeout} s", "timeout"
    return {"rc": rc, "output": out, "seconds": time.time() - t}


def headline(runs):
    """One row per (benchmark metric, threads): the two ratios, from medians."""
    rows = []
    for threads, (mlp, conv, ops) in runs.items():
        for p, key, label in ((mlp, "train_sps", "MLP train (fit), samples/s"),
                              (mlp, "predict_sps", "MLP inference (predict), samples/s"),
                              (conv, "fwdbwd_sps", "conv net forward+backward, steps/s"),
                              (conv, "step_sps", "conv net train step, steps/s")):
            if p is None:
                continue
            r = C.throughput_rows(p["summary"], [(key, label)])[0]
            rows.append([r[0], str(threads)] + r[1:])
    return C.markdown_table(["benchmark", "threads", "mxteach", "MXNet 1.9.1", "PyTorch",
                             "mxteach/MXNet", "mxteach/PyTorch"], rows)


def slow_ops(ops_payload, factor=2.0):
    """Auto-observation: operators where mxteach's fwd+bwd takes > factor x MXNet's."""
    ms = ops_payload["ms"]
    if "mxteach" not in ms or "mxnet" not in ms:
        return "n/a (needs both mxteach and MXNet)"
    out = []
    for k, v in ms["mxteach"].items():
        o = ms["mxnet"][k]["fwdbwd"]
        if v["fwdbwd"] > factor * o:
            out.append(f"{bench_ops.CASES[k][0]} {bench_ops.CASES[k][1]}: "
                       f"{v['fwdbwd']:.2f} ms vs {o:.2f} ms ({v['fwdbwd'] / o:.1f}x)")
    return "; ".join(out) if out else f"none above {factor:.0f}x"


# issue 13's workloads: (payload name, summary key, label, peers the target is checked against)
WORKLOADS = (("mlp", "train_sps", "MLP 784-512-256-10 fit, samples/s", 1.2),
             ("mlp", "predict_sps", "MLP predict, samples/s", 1.2),
             ("lenet", "train_sps", "LeNet-5 fit, samples/s", 1.0),
             ("conv", "step_sps", "BN conv net train step, steps/s", 1.0),
             ("lstm", "fit_sps", "LSTM bucketing LM fit, sentences/s", 1.0))


def before_after(after, before_path=HERE / "results_before.json"):
    """The issue-13 table: each workload's ratio to the best peer, before and after."""
    before = json.loads(before_path.read_text()) if before_path.exists() else {}

    def ratio(summary, key):
        mine = summary.get("mxteach", {}).get(key)
        peers = [summary.get(fw, {}).get(key) for fw in ("mxnet", "torch")]
        peers = [p[0] for p in peers if p]
        if not mine or not peers:
            return None, None
        return mine[0], mine[0] / max(peers)

    rows = []
    for name, key, label, target in WORKLOADS:
        b = before.get(name, {}).get("summary", {})
        a = after.get(name, {}).get("summary", {})
        bv, br = ratio(b, key)
        av, ar = ratio(a, key)
        rss_a = [a.get(fw, {}).get("rss_mib") for fw in C.FRAMEWORKS]
        rss = ("n/a" if not rss_a[0] else
               f"{rss_a[0]:.0f} vs {min(r for r in rss_a[1:] if r):.0f}" if any(rss_a[1:])
               else f"{rss_a[0]:.0f}")
        rows.append([label, f">= {target:.1f}x", C.fmt_num(bv), "n/a" if br is None else
                     f"{br:.2f}x", C.fmt_num(av), "n/a" if ar is None else f"{ar:.2f}x",
                     "n/a" if ar is None else ("met" if ar >= target else "missed"), rss])
    note = before.get("measured", "no before-run recorded")
    return (C.markdown_table(["workload", "target (vs best peer)", "mxteach before",
                              "before / best peer", "mxteach after", "after / best peer",
                              "target", "peak RSS MiB (mxteach vs best peer)"], rows) +
            f"\n\nBefore: benchmarks/results_before.json ({note}). After: this run. Best peer "
            "= the faster of MXNet 1.9.1 and PyTorch on that row, medians.")


def previous_interpretation(path):
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            return text[text.index(BEGIN):text.index(END) + len(END)]
    return (f"{BEGIN}\n## Interpretation\n\n_Not written yet: read the numbers above and the "
            f"profiles, then replace this paragraph (keep the markers)._\n{END}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="2,1", help="comma-separated thread counts")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    ap.add_argument("--out", default=None,
                    help="RESULTS.md path (default benchmarks/RESULTS.md; --quick: none)")
    ap.add_argument("--livemetrics-timeout", type=int, default=1200)
    a = ap.parse_args(argv)
    out = Path(a.out) if a.out else (None if a.quick else HERE / "RESULTS.md")
    common = ["--rounds", str(a.rounds)] + (["--quick"] if a.quick else [])

    started = dt.datetime.now(dt.timezone.utc)
    rev = revision()
    load_start, busy_start = loadavg3(), busy_processes()
    print(f"run_all: oracle {C.oracle_python() or 'missing'}; load {load_start}; "
          f"{busy_start}", file=sys.stderr)
    runs, policy_runs = {}, None
    for t in [int(x) for x in a.threads.split(",") if x]:
        tt = ["--threads", str(t)]
        runs[t] = (bench_mlp.main(common + tt), bench_conv.main(common + tt),
                   bench_ops.main(common + tt))
        if t == 2:      # right after the 2-thread pass, so the load is alike
            policy = ["--threads", "2", "--frameworks", "mxteach"] + sum(
                (["--worker-env", kv] for kv in POLICY_ENV), []) + common
            policy_runs = (bench_mlp.main(policy), bench_conv.main(policy))
    # issue 13's workloads at 2 threads (the MLP and conv payloads of the 2-thread pass)
    two = ["--threads", "2"] + common
    issue13 = {"mlp": runs[2][0] if 2 in runs else bench_mlp.main(two),
               "conv": runs[2][1] if 2 in runs else bench_conv.main(two),
               "lenet": bench_mlp.main(two + ["--net", "lenet", "--samples", "3200",
                                              "--epochs", "1"]),
               "lstm": bench_lstm.main(two)}
    import sgemm_limit                 # right after the workloads, on the same quiet cores
    gemm_limit = sgemm_limit.table(issue13, sgemm_limit.sgemm_gflops(2))
    try:
        import profile_workloads
        prof = profile_workloads.main([])
    except ImportError as err:         # pyinstrument missing: say so in RESULTS.md
        prof = {"error": str(err)}
    machine_env = bench_mlp.main(["--openblas-env", "machine", "--frameworks", "mxteach",
                                  "--samples", "1280", "--epochs", "1", "--rounds", "1",
                                  "--repeats", "2"])
    live = run_livemetrics(a.livemetrics_timeout)
    finished = dt.datetime.now(dt.timezone.utc)
    load_end, busy_end = loadavg3(), busy_processes()

    payloads = ([p for trio in runs.values() for p in trio] + [machine_env, *(policy_runs or ())]
                + [issue13["lenet"], issue13["lstm"]])
    m, v = machine(), versions(payloads)
    lines = [
        "# Benchmarks: mxteach vs real MXNet 1.9.1 vs PyTorch (CPU)",
        "",
        "<!-- generated by benchmarks/run_all.py; only the interpretation section is "
        "hand-written -->",
        "",
        f"- **Date**: {started:%Y-%m-%d %H:%M} - {finished:%H:%M} UTC",
        f"- **Machine**: {m['cpu']} ({m.get('simd', '')}), {m['cores']} cores, {m['ram']} RAM, "
        f"Linux {m['kernel']}, Python {m['python']}",
        f"- **mxteach revision**: {rev}",
        "- **Versions**: " + ", ".join(f"{k} {val}" for k, val in v.items() if val is not None),
        f"- **Load**: 1/5/15-min load average {load_start} at the start, {load_end} at the end; "
        f"{busy_start} at the start, {busy_end} at the end. Other engineers' test runs may "
        "share the 2 cores, so every number is a median over interleaved rounds (each round runs "
        "the three frameworks in a rotated order) and each table gives the load seen while it "
        "ran.",
        "- **Set-up**: each framework in its own process; MXNet in the oracle venv (numpy 1.x). "
        "mxteach and torch run with this workplace's OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset "
        "(with OPENBLAS_L2_SIZE=512 numpy's threaded sgemm collapses when other jobs load the "
        "cores; see _common.py); MXNet keeps them (its older bundled OpenBLAS; its layers use "
        "MKLDNN). The thread count applies to every framework (OMP/OpenBLAS/MKL/Numba "
        "threads, torch.set_num_threads).",
        "- **Ratios** are mxteach's speed over the other's from medians: below 1.00x mxteach "
        "is slower. Cells read median (best).",
        "",
        "## Issue 13: each workload against the best peer, before and after",
        "",
        before_after(issue13),
        "",
        "### Each workload as a fraction of the sgemm limit", "", gemm_limit, "",
        "### LeNet-5 (bench_mlp.py --net lenet)", "", issue13["lenet"]["markdown"], "",
        "### LSTM bucketing LM (bench_lstm.py)", "", issue13["lstm"]["markdown"], "",
        "### Where mxteach's time goes (profile_workloads.py, pyinstrument, steady state)", "",
        (profile_workloads.markdown(prof) if "error" not in prof else
         f"not profiled: {prof['error']}"), "",
        "## Summary",
        "",
        headline(runs),
        "",
    ]
    for t, (mlp, conv, ops) in runs.items():
        lines += [f"## {t} thread{'s' if t > 1 else ''}", "",
                  "### MLP (bench_mlp.py)", "", mlp["markdown"], "",
                  "### Conv net (bench_conv.py)", "", conv["markdown"], "",
                  "### Operators (bench_ops.py)", "", ops["markdown"], "",
                  f"Operators where mxteach's fwd+bwd takes over 2x MXNet's: {slow_ops(ops)}.",
                  ""]
    for p in payloads:
        if p.get("skipped"):
            lines += [f"Skipped in {p['name']}: " + "; ".join(f"{k}: {w}" for k, w in
                                                           p["skipped"].items()), ""]
    lines += ["## mxteach with this machine's OpenBLAS variables left set", "",
              "OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE=512 as the workplace sets them "
              "(for old OpenBLAS builds); 2 threads, 1,280 samples, 1 epoch. What a user of "
              "this machine gets without unsetting them; compare with the mxteach MLP column "
              "of the 2-thread tables (the gap grows with the load).", "",
              machine_env["markdown"], ""]
    if policy_runs:
        lines += ["## mxteach, 2 threads, with the previous thread policy", "",
                  "The 2-thread pass above with " + " and ".join(f"`{kv}`" for kv in POLICY_ENV) +
                  " for mxteach only: Numba's kernels on 2 threads and numpy's GEMMs capped at "
                  "1 (the default before issue 13; now GEMMs of at least "
                  "kernels/cpu GEMM_SPLIT_FLOPS get every BLAS thread while the 1-minute load "
                  "stays below cores + 1, the others and the Numba kernels keep theirs). "
                  "Compare with the mxteach column of the 2-thread tables.", "",
                  policy_runs[0]["markdown"], "", policy_runs[1]["markdown"], ""]
    if live is not None:
        lines += ["## bench_livemetrics.py", "",
                  f"Exit status {live['rc']}, {live['seconds']:.0f} s.", "", "```",
                  live["output"][-6000:], "```", ""]
    if out is not None:
        lines += [previous_interpretation(out), ""]
        out.write_text("\n".join(lines))
        raw = {"started": started.isoformat(), "revision": rev, "machine": m, "versions": v,
               "runs": {str(t): trio for t, trio in runs.items()},
               "machine_env": machine_env, "thread_policy": policy_runs, "livemetrics": live,
               "issue13": issue13, "profile": prof}
        (HERE / "results_raw.json").write_text(json.dumps(raw, indent=1, default=str))
        print(f"wrote {out} and {HERE / 'results_raw.json'}", file=sys.stderr)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
