"""The GPU check: one command on a machine with a CUDA GPU, offline, under 5 minutes.

    nox -s gpu            # or: python benchmarks/gpu_check.py

1. The conformance matrix on every backend that the registry says runs on a
   CUDA GPU (``gpu`` in its ``SPEC``: CuPy, PyTorch, JAX) and is installed:
   every test module that takes the ``backend`` fixture (all but the
   ``framework_free`` ones), so ``out=``, alpha arrays, forward mode and the
   layers' lines (PyTorch's and Flax's layers on the GPU) too, including device
   preservation: results on the input's device, and an input on GPU 1 while
   GPU 0 is current where two GPUs exist.
2. Bandwidth: unielu's ELU on each of those backends (allocating, and with a
   preallocated ``out`` where its arrays are mutable) on 2**28 float32
   elements, against a device-to-device copy of the same array and the
   framework's own ELU, as a fraction of the copy's bandwidth (target for
   CuPy: at least 85%). Arrays come from the test adapters
   (``tests/adapters/<name>.py``).

It installs nothing and needs no network: the machine must already have
unielu's requirements (numpy, array-api-compat) and the test requirements
(pytest, hypothesis, mpmath, ml_dtypes). TensorFlow is not needed.
``--device cpu`` runs the same steps on the CPU (leaving out the backends that
need a GPU), as a smoke test of the script.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from testkit import ADAPTERS, ROOT, Adapter

# The GPU machine runs this from a checkout with nothing installed.
sys.path.insert(0, str(ROOT))

import unielu
from unielu._registry import BackendSpec, registry


def gpu_backends(device: str) -> list[BackendSpec]:
    """The installed backends that run on a CUDA GPU (all but ``needs_gpu`` on the CPU)."""
    specs = [s for s in registry() if s.gpu and s.installed() and s.name in ADAPTERS]
    return [s for s in specs if device != "cpu" or not s.needs_gpu]


def conformance(device: str) -> int:
    backends = [s.name for s in gpu_backends(device)]
    if not backends:
        print("no installed backend runs on a CUDA GPU: nothing to check", flush=True)
        return 1
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    if device != "cpu":
        env.pop("XLA_FLAGS", None)  # JAX on the GPU: its own devices, not forced host ones
        env["JAX_PLATFORMS"] = "cuda"
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "tests"), f"--backend={','.join(backends)}",
        f"--device={'cuda' if device != 'cpu' else 'cpu'}", "-q", "-p", "no:cacheprovider",
        "-W", "ignore::DeprecationWarning", "-rs", "-m", "not framework_free",
    ]  # fmt: skip
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=env, cwd=ROOT).returncode


def _time(func: Callable[[], Any], sync: Callable[[Any], None], repeats: int = 20) -> float:
    """Median seconds per call, after a warm-up, each waited for to the end."""
    sync(func())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        sync(func())
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def bandwidth(device: str) -> list[str]:
    n = 2**28 if device != "cpu" else 2**22
    lines = [f"bandwidth, {n} float32 elements ({n * 4 / 2**30:.2f} GiB read + written):"]
    values = np.random.default_rng(0).standard_normal(n, dtype=np.float32)
    for spec in gpu_backends(device):
        cls = ADAPTERS[spec.name]
        cls.configure()
        adapter = cls({"device": "cuda" if device != "cpu" else "cpu"})
        lines.append(_bandwidth_of(spec, adapter, values))
        adapter.free()  # its arrays are gone: give their memory back
    return lines


def _bandwidth_of(spec: BackendSpec, adapter: Adapter, values: np.ndarray) -> str:
    x = adapter.asarray(values, "float32")
    sync = adapter.synchronize
    gbs = 2 * values.nbytes / 1e9
    copy = _time(lambda: adapter.copy(x), sync)
    elu = _time(lambda: unielu.elu(x), sync)
    line = (
        f"  {spec.name}: copy {gbs / copy:.0f} GB/s, unielu.elu {gbs / elu:.0f} GB/s "
        f"= {copy / elu:.1%} of copy"
    )
    if spec.mutable:
        out = adapter.empty(values.shape, "float32")
        elu_out = _time(lambda: unielu.elu(x, out=out), sync)
        line += f"; with out= {gbs / elu_out:.0f} GB/s = {copy / elu_out:.1%}"
    if adapter.native:
        native = _time(lambda: adapter.native_elu(x, 1.0), sync)
        line += f"; its own ELU {gbs / native:.0f} GB/s = {copy / native:.1%}"
    return line + (" (target >= 85%)" if spec.needs_gpu else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = parser.parse_args()
    start = time.perf_counter()
    status = conformance(args.device)
    for line in bandwidth(args.device):
        print(line, flush=True)
    verdict = "passed" if status == 0 else "FAILED"
    print(f"conformance: {verdict}; {time.perf_counter() - start:.0f} s in all")
    return status


if __name__ == "__main__":
    sys.exit(main())
