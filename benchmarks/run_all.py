"""Every benchmark in one go: matmul (when bench_matmul.py is present), training and
inference, each in its own process, their JSON collected into one file.

Run:
    python benchmarks/run_all.py                        # the full benchmark
    python benchmarks/run_all.py --quick                # a smoke run of each script
    python benchmarks/run_all.py --threads 2 --accuracy --plots benchmarks/results

Each script prints its own table (medians, with the machine and thread count); this one
adds nothing but the collection: `--json` (default benchmarks/results/all.json) maps
each script's name to its JSON, or to the reason it did not finish.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

SCRIPTS = ("bench_matmul", "bench_train", "bench_predict")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="pass --quick to every script")
    p.add_argument("--threads", default=None, help="pass --threads to train and predict")
    p.add_argument("--accuracy", action="store_true", help="pass --accuracy to bench_train")
    p.add_argument("--plots", default=None, help="folder for each script's PNG chart")
    p.add_argument("--json", default=os.path.join(_common.RESULTS_DIR, "all.json"))
    return p.parse_args(argv)


def command(name, args, json_path):
    cmd = [sys.executable, os.path.join(_common.HERE, f"{name}.py"), "--json", json_path]
    if args.quick:
        cmd.append("--quick")
    if args.threads:
        cmd += ["--threads", args.threads]
    if args.plots:  # bench_matmul names its chart option --png
        cmd += ["--png" if name == "bench_matmul" else "--plot",
                os.path.join(args.plots, f"{name}.png")]
    if name == "bench_train" and args.accuracy:
        cmd.append("--accuracy")
    return cmd


def run_script(name, args):
    json_path = os.path.join(_common.RESULTS_DIR, f"{name}.json")
    cmd = command(name, args, json_path)
    print(f"\n$ {' '.join(cmd)}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=_env())
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": f"exit status {done.returncode}", "seconds": seconds}
    try:
        with open(json_path) as f:
            return {"result": json.load(f), "seconds": seconds}
    except (OSError, ValueError) as exc:
        return {"error": f"no JSON from {name}: {exc}", "seconds": seconds}


def _env():
    # the scripts import fastnn from the source tree when it is built in place
    env = dict(os.environ)
    root = os.path.dirname(_common.HERE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(_common.RESULTS_DIR, exist_ok=True)
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
    collected = {}
    for name in SCRIPTS:
        if not os.path.exists(os.path.join(_common.HERE, f"{name}.py")):
            print(f"\n# {name}.py is not present; skipped")
            collected[name] = {"error": "script not present"}
            continue
        collected[name] = run_script(name, args)
    print("\n# summary")
    for name, entry in collected.items():
        status = entry.get("error") or "ok"
        print(f"#   {name:<14} {status}" + (f" ({entry['seconds']:.0f} s)"
                                             if "seconds" in entry else ""))
    _common.write_json(args.json, collected)
    return 0 if all("error" not in e or e["error"] == "script not present"
                    for e in collected.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
