import subprocess
import sys


def test_topology_does_not_import_torch():
    code = (
        "import sys, neurofabric.topology, neurofabric.topology.generators.mlp, "
        "neurofabric.topology.report, neurofabric.topology.io, neurofabric.data.morse, "
        "neurofabric.data.morse_metrics; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
