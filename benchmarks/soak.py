"""Soak test: many threads calling unielu at once, for a while, on every installed framework.

    python benchmarks/soak.py [--seconds 60] [--threads 8] [--seed 0] [--frameworks numpy,dask]

For a bounded time, each thread calls ``elu`` or ``elu_derivative`` on NumPy,
PyTorch, TensorFlow, JAX and Dask arrays (each that is installed) of mixed
sizes (past the NumPy backend's threaded threshold too) and dtypes, with
float and array ``alpha``, with and without ``out=`` (where arrays are
mutable, ``x`` itself included). Every result is checked against the NumPy
backend on the same values: bit for bit where the backend computes with
NumPy (NumPy, Dask), else within the sum of the two backends' contract ULP
(each is within its bound of the exact value). Resident memory is read at the
start (after one warm-up pass), half way and at the end: growth after half
way, once caches and pools are warm, points at a leak.

Prints the calls done, the errors (which must be 0) and the RSS change; exits
with status 1 on any error. Uses tqdm for progress where it is installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import unielu
from unielu._registry import get_spec
from unielu.backends import numpy as numpy_backend

SIZES = (
    1, 16, 1000, numpy_backend.SMALL + 1, 100_000, numpy_backend.PARALLEL_MIN + 123, 600_000,
)  # fmt: skip
ALPHAS = (0.0, 0.5, 1.0, 1.7, 3.0)
SPECIALS = (np.nan, np.inf, -np.inf, -0.0, 0.0)
CHANNELS = 4  # for per-channel alpha arrays: x of shape (n // 4, 4)


def _bfloat16() -> Any:
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


BF16 = _bfloat16()


def _np_dtype(name: str) -> np.dtype[Any]:
    return BF16 if name == "bfloat16" else np.dtype(name)


@dataclass
class Framework:
    """How the soak makes one framework's arrays and reads its results back."""

    name: str
    to_native: Callable[[np.ndarray], Any]
    to_float64: Callable[[Any], np.ndarray]
    dtype_name: Callable[[Any], str]
    empty: Callable[[tuple[int, ...], str], Any] | None  # for out=, where mutable
    dtypes: tuple[str, ...]
    default_float: str  # what integer input gives
    numpy_based: bool  # computes with the NumPy backend: results must be identical
    ulp: float
    alpha_arrays: bool = True
    notes: list[str] = field(default_factory=list)


def _numpy() -> Framework:
    return Framework(
        "numpy", lambda a: a, lambda y: np.asarray(y, np.float64), lambda y: str(y.dtype),
        lambda shape, d: np.empty(shape, _np_dtype(d)),
        ("float16", "bfloat16", "float32", "float64", "int32"), "float64", True, 3,
    )  # fmt: skip


def _dask() -> Framework:
    import dask.array as da

    def to_native(a: np.ndarray) -> Any:
        return da.from_array(a, chunks=max(1, a.shape[0] // 3) if a.ndim else ())

    return Framework(
        "dask", to_native, lambda y: np.asarray(y.compute(), np.float64), lambda y: str(y.dtype),
        None, ("float16", "bfloat16", "float32", "float64", "int32"), "float64", True, 3,
    )  # fmt: skip


def _torch() -> Framework:
    import torch

    def to_native(a: np.ndarray) -> Any:
        if a.dtype == BF16:
            return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
        return torch.from_numpy(a.copy())

    def empty(shape: tuple[int, ...], d: str) -> Any:
        return torch.empty(shape, dtype=getattr(torch, d))

    def to_float64(y: Any) -> np.ndarray:
        return (y.double() if y.is_floating_point() else y).numpy().astype(np.float64)

    default = str(torch.get_default_dtype()).removeprefix("torch.")
    return Framework(
        "torch", to_native, to_float64, lambda y: str(y.dtype).removeprefix("torch."), empty,
        ("float16", "bfloat16", "float32", "float64", "int32"), default, False, 3,
    )  # fmt: skip


def _tensorflow() -> Framework:
    import tensorflow as tf

    def to_native(a: np.ndarray) -> Any:
        with tf.device("/CPU:0"):
            if a.dtype == BF16:
                return tf.cast(tf.constant(a.astype(np.float32)), tf.bfloat16)
            return tf.constant(a)

    return Framework(
        "tensorflow", to_native, lambda y: tf.cast(y, tf.float64).numpy(),
        lambda y: y.dtype.name, None,
        ("float16", "bfloat16", "float32", "float64", "int32"), "float32", False, 5,
    )  # fmt: skip


def _jax() -> Framework:
    import jax
    import jax.numpy as jnp

    x64 = bool(jax.config.jax_enable_x64)
    dtypes = ("float16", "bfloat16", "float32") + (("float64",) if x64 else ()) + ("int32",)
    return Framework(
        "jax", jnp.asarray, lambda y: np.asarray(y).astype(np.float64), lambda y: str(y.dtype),
        None, dtypes, "float64" if x64 else "float32", False, 5,
    )  # fmt: skip


MAKERS = {
    "numpy": _numpy, "torch": _torch, "tensorflow": _tensorflow, "jax": _jax, "dask": _dask,
}  # fmt: skip


def frameworks(names: list[str]) -> list[Framework]:
    found = []
    for name, make in MAKERS.items():
        if name not in names or (name != "numpy" and importlib.util.find_spec(name) is None):
            continue
        fw = make()
        if fw.name != "numpy" and get_spec(fw.name).mutable and fw.empty is None:
            fw.notes.append("out= not soaked (the soak cannot make its arrays)")
        _probe(fw)
        found.append(fw)
    return found


def _probe(fw: Framework) -> None:
    """Leave out what this framework's backend does not do yet (said in the report)."""
    x = fw.to_native(np.array([[-1.0, 2.0]] * 2, np.float32))
    try:
        unielu.elu(x, fw.to_native(np.array([0.5, 1.0], np.float32)))
    except Exception as error:  # any failure: reported, not soaked
        fw.alpha_arrays = False
        fw.notes.append(f"alpha arrays not soaked: {type(error).__name__}: {_first_line(error)}")
    if fw.empty is not None and get_spec(fw.name).mutable:
        try:
            unielu.elu(x, 1.0, out=fw.empty((2, 2), "float32"))
        except Exception as error:
            fw.empty = None
            fw.notes.append(f"out= not soaked: {type(error).__name__}: {_first_line(error)}")
    elif fw.empty is not None:
        fw.empty = None


def _first_line(error: Exception) -> str:
    return str(error).split("\n")[0][:150]


def _ulp(ref: np.ndarray, dtype: str) -> np.ndarray:
    """Spacing of ``dtype`` at each float64 value (subnormal spacing below the normals)."""
    info = np.finfo(np.float32) if dtype == "bfloat16" else np.finfo(_np_dtype(dtype))
    bits = 8 if dtype == "bfloat16" else info.nmant + 1
    exponent = np.floor(np.log2(np.where(ref == 0, 1.0, np.abs(ref))))
    return np.exp2(np.maximum(exponent, info.minexp) - bits + 1)


@dataclass
class Tally:
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)


def one_call(fw: Framework, rng: random.Random, tally: Tally) -> None:
    n = rng.choice(SIZES)
    dtype = rng.choice(fw.dtypes)
    func = rng.choice(("elu", "elu_derivative"))
    seed = rng.randrange(2**32)
    values = np.random.default_rng(seed).normal(0, 4, n)
    values[: min(n, 5)] = SPECIALS[: min(n, 5)]
    if dtype == "int32":
        values = np.nan_to_num(values, nan=0, posinf=7, neginf=-7).round()
    x_np = values.astype(_np_dtype(dtype))
    result = fw.default_float if dtype == "int32" else dtype
    shape: tuple[int, ...] = (n,)
    alpha: Any = rng.choice(ALPHAS)
    alpha_np: Any = alpha
    if fw.alpha_arrays and n % CHANNELS == 0 and rng.random() < 0.3:
        shape = (n // CHANNELS, CHANNELS)
        alpha_np = np.array(rng.sample(ALPHAS, CHANNELS), np.float32)
        alpha = fw.to_native(alpha_np)
    x_np = x_np.reshape(shape)
    pristine = x_np.copy()  # NumPy's x is x_np itself, and in place writes it
    x = fw.to_native(x_np)
    mode = rng.choice(("plain", "out", "in place")) if fw.empty is not None else "plain"
    if mode == "in place" and dtype == "int32":
        mode = "out"
    label = f"{fw.name} {func} n={n} {dtype} alpha={alpha_np!r} {mode} seed={seed}"
    try:
        if mode == "plain":
            y = getattr(unielu, func)(x, alpha)
        else:
            assert fw.empty is not None
            out = x if mode == "in place" else fw.empty(shape, result)
            y = getattr(unielu, func)(x, alpha, out=out)
            if y is not out:
                tally.error(f"{label}: out= did not return out")
        expected_dtype = result
        if fw.dtype_name(y) != expected_dtype:
            tally.error(f"{label}: dtype {fw.dtype_name(y)}, expected {expected_dtype}")
            return
        got = fw.to_float64(y)
        if mode != "in place" and fw.name == "numpy" and not _identical(x_np, pristine):
            tally.error(f"{label}: x was modified")
        w = pristine if dtype != "int32" else pristine.astype(_np_dtype(result))
        ref = np.asarray(getattr(numpy_backend, func)(w, alpha_np), np.float64)
        _compare(fw, label, got, ref, result, tally)
    except Exception:
        tally.error(f"{label}: {traceback.format_exc(limit=3)}")
    finally:
        with tally.lock:
            tally.calls += 1


def _identical(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = a.astype(np.float64), b.astype(np.float64)
    same = (a == b) & (np.signbit(a) == np.signbit(b))
    return bool((same | (np.isnan(a) & np.isnan(b))).all())


def _compare(
    fw: Framework, label: str, got: np.ndarray, ref: np.ndarray, dtype: str, tally: Tally
) -> None:
    if got.shape != ref.shape:
        tally.error(f"{label}: shape {got.shape}, expected {ref.shape}")
        return
    nan = np.isnan(ref)
    if not (np.isnan(got) == nan).all():
        tally.error(f"{label}: NaN where the NumPy backend has none, or the reverse")
        return
    g, r = got[~nan], ref[~nan]
    if fw.numpy_based:
        if not ((g == r) & (np.signbit(g) == np.signbit(r))).all():
            tally.error(f"{label}: differs from the NumPy backend")
        return
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        error = np.where(g == r, 0.0, np.abs(g - r) / _ulp(r, dtype))
    tolerance = fw.ulp + 3  # each within its contract bound of the exact value
    flushed = (g == 0) & (np.abs(r) < _tiny(dtype))  # allowed on JAX and TensorFlow
    bad = (error > tolerance) & ~(flushed & (fw.name in ("jax", "tensorflow")))
    if bad.any():
        i = int(np.argmax(np.where(bad, error, 0)))
        tally.error(f"{label}: {error[i]:.1f} ULP from the NumPy backend ({g[i]!r} vs {r[i]!r})")


def _tiny(dtype: str) -> float:
    if dtype == "bfloat16":
        return float(np.finfo(np.float32).smallest_normal)
    return float(np.finfo(_np_dtype(dtype)).smallest_normal)


def rss_mib() -> float:
    """Resident memory now (Linux /proc), else the peak (resource)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (2**20 if sys.platform == "darwin" else 2**10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--frameworks", default=",".join(MAKERS), help="comma-separated (default: all installed)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.frameworks.split(",") if n.strip()]
    unknown = sorted(set(names) - set(MAKERS))
    if unknown:
        parser.error(f"--frameworks: unknown {unknown}; known: {list(MAKERS)}")

    if "tensorflow" in names and importlib.util.find_spec("tensorflow"):
        import tensorflow as tf

        # Mixed shapes retrace tf.functions; its warnings would bury the report.
        tf.get_logger().setLevel("ERROR")
    fws = frameworks(names)
    print(f"frameworks: {', '.join(f.name for f in fws)}; {args.threads} threads, "
          f"{args.seconds:g} s; NumPy backend threads: {numpy_backend.num_threads()}")  # fmt: skip
    for fw in fws:
        for note in fw.notes:
            print(f"  note, {fw.name}: {note}")
    tally = Tally()
    warm = random.Random(args.seed)
    for fw in fws:  # warm-up: imports, compilation, pools, outside the RSS baseline
        for _ in range(20):
            one_call(fw, warm, tally)
    rss = {"start": rss_mib()}
    deadline = time.monotonic() + args.seconds
    halfway = time.monotonic() + args.seconds / 2

    def worker(k: int) -> None:
        rng = random.Random(args.seed * 1000 + k + 1)
        while time.monotonic() < deadline:
            one_call(rng.choice(fws), rng, tally)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(args.threads)]
    for t in threads:
        t.start()
    bar = _progress(args.seconds)
    while any(t.is_alive() for t in threads):
        time.sleep(0.5)
        if "middle" not in rss and time.monotonic() >= halfway:
            rss["middle"] = rss_mib()
        if bar is not None:
            bar.n = min(args.seconds, args.seconds - (deadline - time.monotonic()))
            bar.set_postfix(calls=tally.calls, errors=len(tally.errors), refresh=False)
            bar.refresh()
    if bar is not None:
        bar.close()
    for t in threads:
        t.join()
    rss["end"] = rss_mib()
    rss.setdefault("middle", rss["end"])

    print(f"calls: {tally.calls} ({tally.calls / args.seconds:.0f}/s)")
    print(f"errors: {len(tally.errors)}")
    for message in tally.errors[:10]:
        print(f"  {message}")
    print(
        f"RSS: {rss['start']:.0f} MiB at the start, {rss['middle']:.0f} MiB half way, "
        f"{rss['end']:.0f} MiB at the end ({rss['end'] - rss['start']:+.0f} MiB; "
        f"{rss['end'] - rss['middle']:+.0f} MiB in the second half)"
    )
    return 1 if tally.errors else 0


def _progress(seconds: float) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=seconds, unit="s", desc="soak", file=sys.stderr, bar_format=None)


if __name__ == "__main__":
    sys.exit(main())
