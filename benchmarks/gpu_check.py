"""The GPU check: one command on a machine with a CUDA GPU, offline, under 5 minutes.

    nox -s gpu            # or: python benchmarks/gpu_check.py

1. The conformance matrix on CuPy, PyTorch CUDA and JAX GPU (each that is
   installed), including device preservation: results on the input's device,
   and an input on GPU 1 while GPU 0 is current where two GPUs exist.
2. Bandwidth: CuPy's and PyTorch's ELU (through unielu) on 2**28 float32
   elements against a device-to-device copy of the same array, as a fraction of
   the copy's bandwidth (target for CuPy: at least 85%).

It installs nothing and needs no network: the machine must already have
unielu's requirements (numpy, array-api-compat) and the test requirements
(pytest, hypothesis, mpmath, ml_dtypes). TensorFlow is not needed.
``--device cpu`` runs the same steps on the CPU, as a smoke test of the script.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def conformance(device: str) -> int:
    backends = [b for b in ("cupy", "torch", "jax") if importlib.util.find_spec(b)]
    if device == "cpu":
        backends = [b for b in backends if b != "cupy"]
    if not backends:
        print("none of CuPy, PyTorch and JAX is installed: nothing to check", flush=True)
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
        "-W", "ignore::DeprecationWarning",
    ]  # fmt: skip
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=env, cwd=ROOT).returncode


def _time_gpu(func, sync, repeats: int = 20) -> float:
    """Median seconds per call, after a warm-up, synchronising around each call."""
    func()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        sync()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def bandwidth(device: str) -> list[str]:
    sys.path.insert(0, str(ROOT))
    import unielu

    n = 2**28 if device != "cpu" else 2**22
    lines = [f"bandwidth, {n} float32 elements ({n * 4 / 2**30:.2f} GiB read + written):"]
    if importlib.util.find_spec("cupy") and device != "cpu":
        import cupy as cp

        x = cp.random.standard_normal(n, dtype=cp.float32)
        out = cp.empty_like(x)
        sync = cp.cuda.Device().synchronize
        copy = _time_gpu(lambda: cp.copyto(out, x), sync)
        elu = _time_gpu(lambda: unielu.elu(x), sync)
        naive = _time_gpu(lambda: cp.where(x > 0, x, cp.expm1(cp.minimum(x, 0))), sync)
        gbs = 2 * x.nbytes / 1e9
        lines.append(
            f"  cupy: copy {gbs / copy:.0f} GB/s, unielu.elu {gbs / elu:.0f} GB/s "
            f"= {copy / elu:.1%} of copy (target >= 85%); naive where/expm1/minimum "
            f"{gbs / naive:.0f} GB/s"
        )
        del x, out
        cp.get_default_memory_pool().free_all_blocks()
    if importlib.util.find_spec("torch"):
        import torch

        dev = "cuda" if device != "cpu" else "cpu"
        x = torch.randn(n, device=dev)
        out = torch.empty_like(x)
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        copy = _time_gpu(lambda: out.copy_(x), sync)
        elu = _time_gpu(lambda: unielu.elu(x), sync)
        native = _time_gpu(lambda: torch.nn.functional.elu(x), sync)
        gbs = 2 * x.numel() * 4 / 1e9
        lines.append(
            f"  torch ({dev}): copy {gbs / copy:.0f} GB/s, unielu.elu {gbs / elu:.0f} GB/s "
            f"= {copy / elu:.1%} of copy; F.elu {gbs / native:.0f} GB/s"
        )
    return lines


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
