"""User-supplied patterns: masks, sparse matrices and edge lists (SPEC §2.5)."""

from __future__ import annotations

import numpy as np
import scipy.sparse

from neurofabric.topology.junction import Junction


def junction_from_mask(
    mask: object,
    *,
    in_features: int | None = None,
    out_features: int | None = None,
) -> Junction:
    """Build a junction from a user-supplied pattern.

    Args:
        mask: An ``(out_features, in_features)`` boolean/0-1 array, a ``scipy.sparse`` matrix
            of that shape, or an edge list: an ``(nnz, 2)`` array of ``(out, in)`` pairs, which
            needs ``in_features`` and ``out_features``.
        in_features: Left layer size; for a mask, checked against its shape.
        out_features: Right layer size; for a mask, checked against its shape.

    Raises:
        ValueError: On a shape that disagrees with the given sizes, values other than 0/1,
            duplicate edges or out-of-range indices.

    Example:
        >>> junction_from_mask([[0, 1], [1, 1]]).nnz
        3
        >>> junction_from_mask([(0, 1), (1, 0)], in_features=2, out_features=2).to_mask().tolist()
        [[False, True], [True, False]]
    """
    if not scipy.sparse.issparse(mask):
        array = np.asarray(mask)
        looks_like_mask = array.shape == (out_features, in_features)
        sizes_given = in_features is not None and out_features is not None
        if sizes_given and array.ndim == 2 and array.shape[1] == 2 and not looks_like_mask:
            return Junction.from_edges(in_features, out_features, src=array[:, 1], dst=array[:, 0])
    junction = Junction.from_mask(mask)
    if in_features is not None and junction.in_features != in_features:
        raise ValueError(f"mask has {junction.in_features} columns but in_features = {in_features}")
    if out_features is not None and junction.out_features != out_features:
        raise ValueError(f"mask has {junction.out_features} rows but out_features = {out_features}")
    return junction
