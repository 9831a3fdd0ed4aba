"""Multi-layer pre-defined sparse topologies: one generated junction per layer pair."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from neurofabric._rng import Seed, spawn
from neurofabric.topology.generators.clash_free import clash_free_junction
from neurofabric.topology.generators.dense import dense_junction
from neurofabric.topology.generators.regular import regular_junction
from neurofabric.topology.generators.unstructured import random_junction
from neurofabric.topology.generators.windowed import windowed_junction
from neurofabric.topology.junction import Junction, _check_size
from neurofabric.topology.topology import Topology

Pattern = Literal["random", "structured", "clash-free", "windowed", "dense"]
MemoryMap = Literal["type1", "type2", "type3"]

#: Pattern name -> junction generator. Every generator takes (in, out, *, …, seed).
PATTERNS: dict[str, Callable[..., Junction]] = {
    "random": random_junction,
    "structured": regular_junction,
    "clash-free": clash_free_junction,
    "windowed": windowed_junction,
    "dense": dense_junction,
}


def get_pattern(name: str) -> Callable[..., Junction]:
    """Return the generator registered under ``name``.

    Raises:
        ValueError: For an unknown name, listing the valid ones.
    """
    try:
        return PATTERNS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown pattern {name!r}; choose one of {', '.join(sorted(PATTERNS))}"
        ) from None


def _per_junction(name: str, value: object, count: int) -> list:
    if value is None or isinstance(value, str) or not isinstance(value, Sequence):
        return [value] * count
    values = list(value)
    if len(values) != count:
        raise ValueError(
            f"{name} needs one value per junction: {count} junctions, got {len(values)} values"
        )
    return values


def mlp_topology(
    layer_sizes: Sequence[int],
    pattern: Pattern | Sequence[Pattern],
    *,
    fan_out: int | Sequence[int | None] | None = None,
    density: float | Sequence[float | None] | None = None,
    parallelism: int | Sequence[int | None] | None = None,
    memory_map: MemoryMap = "type1",
    dither: bool = False,
    seed: Seed = None,
) -> Topology:
    """Generate a multi-layer topology with one junction per consecutive layer pair.

    Args:
        layer_sizes: Neurons per layer ``(N_0, …, N_L)``.
        pattern: One of ``random``, ``structured``, ``clash-free``, ``windowed``, ``dense``, or
            one name per junction.
        fan_out: Outputs per left neuron, one value per junction (a single value is used for
            every junction). ``random`` reads it as an average.
        density: Alternative to ``fan_out``: the fraction of possible edges per junction.
        parallelism: Edges per cycle ``z`` of each clash-free junction.
        memory_map: Clash-free memory map, ``type1``, ``type2`` or ``type3``.
        dither: Clash-free bank dither.
        seed: Seed or generator; each junction draws from its own child generator.

    Raises:
        ValueError: On unknown patterns, list lengths that do not match the junction count,
            both or neither of ``fan_out`` and ``density`` for a sparse junction, or any
            generator precondition (the message names the junction).

    Example:
        >>> t = mlp_topology((800, 100, 10), "structured", fan_out=(50, 10), seed=0)
        >>> [j.density for j in t.junctions.values()]
        [0.5, 1.0]
    """
    sizes = [_check_size(f"layer_sizes[{i}]", s) for i, s in enumerate(layer_sizes)]
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs at least 2 layer sizes, got {len(sizes)}")
    count = len(sizes) - 1
    patterns = _per_junction("pattern", pattern, count)
    fan_outs = _per_junction("fan_out", fan_out, count)
    densities = _per_junction("density", density, count)
    parallelisms = _per_junction("parallelism", parallelism, count)
    generators = spawn(seed, count)
    junctions = []
    for i in range(count):
        name, p, n = patterns[i], sizes[i], sizes[i + 1]
        generator = get_pattern(name)
        try:
            junctions.append(
                _make(
                    generator,
                    name,
                    p,
                    n,
                    fan_outs[i],
                    densities[i],
                    parallelisms[i],
                    memory_map,
                    dither,
                    generators[i],
                )
            )
        except ValueError as error:
            raise ValueError(f"junction {i} ({p} -> {n}, {name}): {error}") from None
    metadata = {
        "generator": "mlp_topology",
        "pattern": patterns,
        "fan_out": fan_outs,
        "density": densities,
        "parallelism": parallelisms,
        "memory_map": memory_map,
        "dither": dither,
        "seed": seed if isinstance(seed, int) else None,
    }
    return Topology.chain(junctions, metadata)


def _make(generator, name, p, n, fan_out, density, parallelism, memory_map, dither, rng):
    if parallelism is not None and name != "clash-free":
        raise ValueError("parallelism applies only to the clash-free pattern")
    if name == "dense":
        if fan_out not in (None, n) or density not in (None, 1, 1.0):
            raise ValueError(
                f"a dense junction has fan_out = out_features = {n} and density 1, got "
                f"fan_out = {fan_out}, density = {density}"
            )
        return generator(p, n, seed=rng)
    if (fan_out is None) == (density is None):
        raise ValueError("give exactly one of fan_out or density")
    sparsity = {"fan_out": fan_out} if fan_out is not None else {"density": density}
    if name == "clash-free":
        if parallelism is None:
            raise ValueError("the clash-free pattern needs parallelism (edges per cycle)")
        return generator(
            p,
            n,
            **sparsity,
            parallelism=parallelism,
            memory_map=memory_map,
            dither=dither,
            seed=rng,
        )
    return generator(p, n, **sparsity, seed=rng)
