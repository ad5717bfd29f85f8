"""The GPU check: one command on a machine with a CUDA GPU, offline, under 5 minutes.

    nox -s gpu            # or: python benchmarks/gpu_check.py

1. The conformance matrix on CuPy, PyTorch CUDA and JAX GPU (each that is
   installed): every test module that takes the ``backend`` fixture, so out=,
   alpha arrays, forward mode and the layers' lines too, including device
   preservation: results on the input's device, and an input on GPU 1 while
   GPU 0 is current where two GPUs exist.
2. The PyTorch and Flax layers on the GPU: values, gradients (alpha learned
   too) and the result's device, against the functions.
3. Bandwidth: CuPy's and PyTorch's ELU (through unielu, allocating and with a
   preallocated ``out``) on 2**28 float32 elements against a device-to-device
   copy of the same array, as a fraction of the copy's bandwidth (target for
   CuPy: at least 85%).

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
    # The framework-free tests (registry, command line) need nox and the docs, not a GPU.
    ignore = [f"--ignore={ROOT / t}" for t in ("tests/test_cli.py", "tests/test_dispatch.py",
                                              "tests/test_registry.py")]  # fmt: skip
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "tests"), f"--backend={','.join(backends)}",
        f"--device={'cuda' if device != 'cpu' else 'cpu'}", "-q", "-p", "no:cacheprovider",
        "-W", "ignore::DeprecationWarning", "-rs", *ignore,
    ]  # fmt: skip
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=env, cwd=ROOT).returncode


def layers(device: str) -> list[str]:
    """The PyTorch and Flax layers on the device: values and gradients match the functions."""
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import unielu

    lines = []
    values = np.concatenate([np.linspace(-30, 5, 1001), [-0.0, 0.0, -1e-30]]).astype(np.float32)
    if importlib.util.find_spec("torch"):
        import torch

        from unielu.layers.torch import ELU

        dev = "cuda" if device != "cpu" else "cpu"
        layer = ELU(1.7, learn_alpha=True).to(dev)
        x = torch.tensor(values, device=dev, requires_grad=True)
        y = layer(x)
        y.sum().backward()
        xd = x.detach()
        assert y.device == xd.device, (y.device, xd.device)
        torch.testing.assert_close(y.detach(), unielu.elu(xd, 1.7), rtol=0, atol=0)
        torch.testing.assert_close(x.grad, unielu.elu_derivative(xd, 1.7), rtol=0, atol=0)
        expected = torch.where(xd > 0, 0.0, torch.expm1(xd.double())).sum().float()
        torch.testing.assert_close(layer.alpha.grad.reshape(()), expected, rtol=1e-6, atol=0)
        inplace = ELU(1.7, inplace=True).to(dev)
        with torch.no_grad():
            z = xd.clone()
            assert inplace(z).data_ptr() == z.data_ptr()
            torch.testing.assert_close(z, unielu.elu(xd, 1.7), rtol=0, atol=0)
        lines.append(f"  torch layer on {dev}: values, x and alpha gradients, in place: ok")
    if importlib.util.find_spec("flax"):
        import jax
        import jax.numpy as jnp
        from flax import nnx

        from unielu.layers.flax import ELU as FlaxELU

        xj = jnp.asarray(values)
        model = FlaxELU(1.7, learn_alpha=True)
        out = model(xj)
        assert out.devices() == xj.devices(), (out.devices(), xj.devices())
        np.testing.assert_array_equal(np.asarray(out), np.asarray(unielu.elu(xj, 1.7)))
        grads = nnx.grad(lambda m: m(xj).sum())(model)
        expected = float(np.where(values > 0, 0.0, np.expm1(values.astype(np.float64))).sum())
        got = float(grads.alpha[...])
        assert abs(got - expected) <= 1e-5 * abs(expected), (got, expected)
        gx = jax.grad(lambda v: FlaxELU(1.7)(v).sum())(xj)
        np.testing.assert_array_equal(np.asarray(gx), np.asarray(unielu.elu_derivative(xj, 1.7)))
        lines.append(f"  flax layer on {xj.devices()}: values, x and alpha gradients: ok")
    return lines


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
        out2 = cp.empty_like(x)
        copy = _time_gpu(lambda: cp.copyto(out, x), sync)
        elu = _time_gpu(lambda: unielu.elu(x), sync)
        elu_out = _time_gpu(lambda: unielu.elu(x, out=out2), sync)
        naive = _time_gpu(lambda: cp.where(x > 0, x, cp.expm1(cp.minimum(x, 0))), sync)
        gbs = 2 * x.nbytes / 1e9
        lines.append(
            f"  cupy: copy {gbs / copy:.0f} GB/s, unielu.elu {gbs / elu:.0f} GB/s "
            f"= {copy / elu:.1%} of copy (target >= 85%); with out= {gbs / elu_out:.0f} GB/s "
            f"= {copy / elu_out:.1%}; naive where/expm1/minimum {gbs / naive:.0f} GB/s"
        )
        del x, out
        cp.get_default_memory_pool().free_all_blocks()
    if importlib.util.find_spec("torch"):
        import torch

        dev = "cuda" if device != "cpu" else "cpu"
        x = torch.randn(n, device=dev)
        out = torch.empty_like(x)
        sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
        out2 = torch.empty_like(x)
        copy = _time_gpu(lambda: out.copy_(x), sync)
        elu = _time_gpu(lambda: unielu.elu(x), sync)
        elu_out = _time_gpu(lambda: unielu.elu(x, out=out2), sync)
        native = _time_gpu(lambda: torch.nn.functional.elu(x), sync)
        gbs = 2 * x.numel() * 4 / 1e9
        lines.append(
            f"  torch ({dev}): copy {gbs / copy:.0f} GB/s, unielu.elu {gbs / elu:.0f} GB/s "
            f"= {copy / elu:.1%} of copy; with out= {gbs / elu_out:.0f} GB/s "
            f"= {copy / elu_out:.1%}; F.elu {gbs / native:.0f} GB/s = {copy / native:.1%}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = parser.parse_args()
    start = time.perf_counter()
    status = conformance(args.device)
    try:
        print("layers:", flush=True)
        for line in layers(args.device):
            print(line, flush=True)
    except Exception as error:  # reported, and the check fails
        status = status or 1
        print(f"  layers FAILED: {type(error).__name__}: {error}", flush=True)
    for line in bandwidth(args.device):
        print(line, flush=True)
    verdict = "passed" if status == 0 else "FAILED"
    print(f"conformance: {verdict}; {time.perf_counter() - start:.0f} s in all")
    return status


if __name__ == "__main__":
    sys.exit(main())
