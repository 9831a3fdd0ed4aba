import json
import zipfile

import numpy as np
import pytest

from neurofabric.topology import Junction, Topology
from neurofabric.topology.generators.regular import regular_junction
from neurofabric.topology.io import load_topology, save_topology


def make_topology():
    scheduled = Junction.from_edges(4, 2, [3, 0, 1, 2], [0, 0, 1, 1], parallelism=2, scheduled=True)
    return Topology(
        (4, 2, 3),
        {
            (0, 1): scheduled,
            (1, 2): regular_junction(2, 3, fan_out=3, seed=0),
            (0, 2): regular_junction(4, 3, fan_in=4, seed=0),
        },
        {"pattern": "test"},
    )


def test_round_trip_is_exact(tmp_path):
    t = make_topology()
    save_topology(t, tmp_path / "t.npz")
    loaded = load_topology(tmp_path / "t.npz")
    assert loaded == t
    assert loaded.metadata == {"pattern": "test"}
    assert loaded.junctions[(0, 1)].schedule.tolist() == t.junctions[(0, 1)].schedule.tolist()


def test_refuses_to_overwrite(tmp_path):
    path = tmp_path / "t.npz"
    save_topology(make_topology(), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        save_topology(make_topology(), path)
    assert path.read_bytes() == before
    save_topology(make_topology(), path, overwrite=True)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary files left behind


def _rewrite(path, change):
    with np.load(path) as data:
        arrays = {name: data[name].copy() for name in data.files}
    change(arrays)
    np.savez(path, **arrays)


def _edit_header(arrays, edit):
    header = json.loads(arrays["header"].tobytes().decode())
    edit(header)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a["junction_0_1_src"].__setitem__(0, 2), "checksum"),
        (lambda a: a.pop("junction_1_2_dst"), "corrupt"),
        (lambda a: _edit_header(a, lambda h: h.update(format="other")), "format"),
        (lambda a: _edit_header(a, lambda h: h.update(version=99)), "version 99"),
        (lambda a: _edit_header(a, lambda h: h.update(layer_sizes=[4, 2, 5])), "layers"),
        (lambda a: a.update(header=np.frombuffer(b"{not json", dtype=np.uint8)), "corrupt"),
        (lambda a: a.pop("header"), "no header"),
    ],
)
def test_tampered_files_are_refused(tmp_path, change, message):
    path = tmp_path / "t.npz"
    save_topology(make_topology(), path)
    _rewrite(path, change)
    with pytest.raises(ValueError, match=message):
        load_topology(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_topology(tmp_path / "missing.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable"):
        load_topology(garbage)
    truncated = tmp_path / "truncated.npz"
    save_topology(make_topology(), truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(ValueError):
        load_topology(truncated)
    assert not zipfile.is_zipfile(garbage)


def test_loads_dey_mask_files(tmp_path):
    m1 = np.array([[1, 0, 1], [0, 1, 1]])
    m2 = np.array([[1, 1]])
    np.savez(tmp_path / "dey.npz", adjmat01=m1, adjmat12=m2)
    t = load_topology(tmp_path / "dey.npz")
    assert t.layer_sizes == (3, 2, 1)
    assert t.junctions[(0, 1)].to_mask().tolist() == m1.astype(bool).tolist()


def test_atomic_write_gives_the_permissions_open_would(tmp_path):
    import os
    import stat

    from neurofabric.topology.io import atomic_write

    mask = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "f.txt", lambda f: f.write(b"x"))
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
