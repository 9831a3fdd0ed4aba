"""How fast are the Morse generator and the difficulty metrics on the full default set?

Targets (issue 5): generating 5000/1000/1000 per class (448,000 samples × 64) in under 20 s and
computing the metrics on it in under 10 s on this 2-core machine. Also times writing and reading
the ``.npz`` file, which the CLI adds on top.

    .venv/bin/python benchmarks/bench_morse.py [--per-class 5000,1000,1000] [--presets baseline,difficult] [--json]
"""  # noqa: E501

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from neurofabric.data.morse import generate_morse, load_morse, morse_preset, save_morse
from neurofabric.data.morse_metrics import dataset_metrics

GENERATE_TARGET_S = 20.0
METRICS_TARGET_S = 10.0


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", default="5000,1000,1000", help="train,val,test per class")
    parser.add_argument("--presets", default="baseline,difficult", help="comma-separated presets")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    per_class = tuple(int(part) for part in args.per_class.split(","))
    results = []
    for name in args.presets.split(","):
        spec = dataclasses.replace(morse_preset(name), per_class=per_class)
        data, generate_s = _timed(generate_morse, spec, seed=0)
        row = {"preset": name, "samples": spec.total_samples, "generate_s": generate_s}
        for variant in ("corrected", "code"):
            metrics, seconds = _timed(dataset_metrics, data, variant=variant)
            row[f"metrics_{variant}_s"] = seconds
            row[f"metrics_{variant}"] = {
                key: getattr(metrics, key) for key in ("V_lower", "V_upper", "V_dist", "V_thresh")
            }
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "morse.npz"
            _, row["save_s"] = _timed(save_morse, data, path, spec=spec, seed=0)
            row["file_mb"] = path.stat().st_size / 2**20
            _, row["load_s"] = _timed(load_morse, path)
        results.append(row)
        del data
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for row in results:
        print(f"{row['preset']}: {row['samples']} samples")
        print(f"  {'generate':<18}{row['generate_s']:7.2f} s  (target < {GENERATE_TARGET_S:g} s)")
        for variant in ("corrected", "code"):
            values = row[f"metrics_{variant}"]
            shown = ", ".join(f"{key} {value:.4g}" for key, value in values.items())
            print(
                f"  {'metrics ' + variant:<18}{row[f'metrics_{variant}_s']:7.2f} s  "
                f"(target < {METRICS_TARGET_S:g} s): {shown}"
            )
        print(f"  {'save (.npz)':<18}{row['save_s']:7.2f} s  ({row['file_mb']:.1f} MiB)")
        print(f"  {'load + verify':<18}{row['load_s']:7.2f} s")


if __name__ == "__main__":
    main()
