"""Structured vs windowed junction at equal density: masks side by side, with their scatter.

.venv/bin/python examples/structured_vs_windowed.py [--out FILE.png] [--force]
"""

from __future__ import annotations

import argparse

from matplotlib.figure import Figure

from neurofabric.plots import plot_junction, save_figure
from neurofabric.topology import Topology, regular_junction, scatter, windowed_junction

IN_FEATURES, OUT_FEATURES, FAN_OUT = 800, 100, 20

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--out", default="docs/images/structured_vs_windowed.png")
parser.add_argument("--force", action="store_true", help="overwrite an existing picture")
args = parser.parse_args()

junctions = {
    "structured": regular_junction(IN_FEATURES, OUT_FEATURES, fan_out=FAN_OUT, seed=0),
    "windowed": windowed_junction(IN_FEATURES, OUT_FEATURES, fan_out=FAN_OUT),
}
figure = Figure(figsize=(12, 4.2), layout="constrained")
for index, (name, junction) in enumerate(junctions.items()):
    report = scatter(Topology.chain([junction]))
    forward, backward = report.vector[0], report.vector[1]
    print(
        f"{name:<10} density {junction.density:.2f}  forward scatter {forward:.3f}  "
        f"backward scatter {backward:.3f}  network scatter {report.value:.3f}"
    )
    ax = figure.add_subplot(1, 2, index + 1)
    plot_junction(
        junction,
        ax=ax,
        title=f"{name}: density {junction.density:.2f}, scatter "
        f"forward {forward:.2f} / backward {backward:.2f}",
    )
save_figure(figure, args.out, overwrite=args.force)
print(f"wrote {args.out}")
