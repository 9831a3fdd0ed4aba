#!/bin/sh
# The GPU checks, as one script for a machine with CUDA (run from the repository root; results
# under $OUT, default ./out/device). Needs python3 with torch; other packages may come as wheels
# in .whl/ (installed to /tmp/site).
set -u
OUT="${OUT:-out/device}"
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="$PWD/src:/tmp/site"
else
    export PYTHONPATH="$PWD/src"
fi
export PYTHONUNBUFFERED=1
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
echo "== CUDA tests (kernels vs reference, layers, cascades, compile)"
python3 -m pytest -q -p no:cacheprovider -n 8 tests/kernels tests/nn 2>&1 | tee "$OUT/pytest.log" | tail -4
echo "== training on CUDA"
python3 - <<'PY' 2>&1 | tee "$OUT/train.log"
import json, os, tempfile
import numpy as np, torch
from tests.experiments.conftest import write_blobs
from neurofabric.experiments import load_config, train_run
folder = tempfile.mkdtemp()
data = write_blobs(os.path.join(folder, "blobs.npz"), per_class=(2000, 100, 100))
base = [f'data.name="npz:{data}"', "model.sizes=[16, 64, 4]", "model.fan_out=[16, 4]",
        "train.epochs=3", "train.batch_size=64", "optimizer.lr=0.01"]
for extra in ([], ['model.cascade.topology="clos"', "model.cascade.junctions=[0]",
                   "model.cascade.groups=4", "model.cascade.middle=8"]):
    config = load_config(None, base + extra)
    for device in ("cpu", "cuda"):
        s = train_run(config, os.path.join(folder, f"{device}{len(extra)}"), device=device)
        print(device, extra[:1], {k: s[k] for k in ("test_accuracy", "test_loss", "device")})
PY
echo "== kernel benchmark on CUDA"
python3 -m neurofabric bench --device cuda --sizes 2048,4096,8192 --batch 1,256 \
    --densities 0.0625 --no-memory --out "$OUT/bench-cuda.json" --force > "$OUT/bench-cuda.txt" 2>&1
tail -40 "$OUT/bench-cuda.txt"
echo "== training throughput on CUDA (Clos 4096 MLP vs dense)"
python3 -m neurofabric bench-train --device cuda --overhead-configs --steps 10 --rounds 5 \
    --out "$OUT/bench-train-cuda.json" --force 2>&1 | grep -v "^throughput: round"
