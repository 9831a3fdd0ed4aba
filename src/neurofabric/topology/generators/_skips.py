"""Turn a list of cascade stages into a topology with the chosen skip connections (SPEC §4.6)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

import numpy as np

from neurofabric.topology.junction import Junction
from neurofabric.topology.topology import Topology

Skip = Literal["none", "identity", "trainable_identity", "residual"]
SKIPS: tuple[str, ...] = ("none", "identity", "trainable_identity", "residual")


def check_skip(skip: object) -> str:
    """Return ``skip`` if it names a skip mode, else raise listing the valid ones."""
    if skip not in SKIPS:
        raise ValueError(f"unknown skip {skip!r}; choose one of {', '.join(SKIPS)}")
    return str(skip)


def _with_identity(junction: Junction) -> Junction:
    """OR the identity on the first ``min(in, out)`` neurons into a stage's mask (trainable)."""
    if junction.blocks is not None:
        return Junction.from_blocks(replace(junction.blocks, diagonal=True))
    eye = np.arange(min(junction.in_features, junction.out_features))
    key = np.union1d(
        junction.dst * junction.in_features + junction.src, eye * junction.in_features + eye
    )
    return Junction(
        junction.in_features,
        junction.out_features,
        key % junction.in_features,
        key // junction.in_features,
    )


def cascade(stages: Sequence[Junction], skip: Skip, metadata: Mapping[str, Any]) -> Topology:
    """Chain ``stages`` into a cascade topology with skip connections.

    ``"none"``: plain product. ``"identity"``: every stage adds its input (weight 1, fixed, not
    a parameter). ``"trainable_identity"``: the identity is OR-ed into every stage's mask.
    ``"residual"``: one fixed identity from the cascade's input to its output. Non-square
    stages use the identity on their first ``min(in, out)`` neurons.
    """
    skip = check_skip(skip)
    stages = list(stages)
    skips: set[tuple[int, int]] = set()
    if skip == "identity":
        skips = {(s, s + 1) for s in range(len(stages))}
    elif skip == "residual":
        skips = {(0, len(stages))}
    elif skip == "trainable_identity":
        stages = [_with_identity(stage) for stage in stages]
    return Topology.chain(stages, {**metadata, "skip": skip}, identity_skips=skips, kind="cascade")
