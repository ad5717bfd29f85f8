"""Soak test: many threads calling unielu at once, for a while, on every installed backend.

    python benchmarks/soak.py [--seconds 60] [--threads 8] [--seed 0] [--backends numpy,dask]

For a bounded time, each thread calls ``elu`` or ``elu_derivative`` on the
arrays of every backend in the registry that can run here (each through its
test adapter, ``tests/adapters/<name>.py``), of mixed sizes (past the NumPy
backend's threaded threshold too) and dtypes, with float and array ``alpha``,
with and without ``out=`` (where the registry says arrays are mutable, ``x``
itself included). Every result is checked against the NumPy backend on the
same values: bit for bit where the adapter says the backend computes with
NumPy, else within the sum of the two backends' ULP bounds from the registry
(each is within its bound of the exact value), subnormal results flushed to
zero allowed where the registry allows it. Resident memory is read at the
start (after one warm-up pass), half way and at the end: growth after half
way, once caches and pools are warm, points at a leak.

Prints the calls done, the errors (which must be 0) and the RSS change; exits
with status 1 on any error. Uses tqdm for progress where it is installed.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from testkit import ADAPTERS, Adapter, reference

import unielu
from unielu._registry import get_spec, registry
from unielu._threads import PARALLEL_MIN, num_threads
from unielu.backends import numpy as numpy_backend
from unielu.backends._numpy_fallback import SMALL

SIZES = (
    1, 16, 1000, SMALL + 1, 100_000, PARALLEL_MIN + 123, 600_000,
)  # fmt: skip
ALPHAS = (0.0, 0.5, 1.0, 1.7, 3.0)
SPECIALS = (np.nan, np.inf, -np.inf, -0.0, 0.0)
CHANNELS = 4  # for per-channel alpha arrays: x of shape (n // 4, 4)


@dataclass
class Soaked:
    """One backend under soak: its adapter, and what of it the soak exercises."""

    adapter: Adapter
    dtypes: tuple[str, ...]
    out: bool  # out= and in place, where the registry says its arrays are mutable
    alpha_arrays: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.adapter.name


def known() -> list[str]:
    """The backends the soak can run: those of the registry that have an adapter."""
    return [spec.name for spec in registry() if spec.name in ADAPTERS]


def backends(names: list[str]) -> list[Soaked]:
    """The named backends that can run here, probed (what is left out says why)."""
    found = []
    for name in names:
        cls = ADAPTERS[name]
        if not cls.available():
            continue
        cls.configure()
        adapter = cls({})
        adapter.quiet()
        ints = ("int32",) if "int32" in adapter.int_dtypes else ()
        soaked = Soaked(adapter, (*adapter.dtypes, *ints), out=adapter.spec.mutable)
        _probe(soaked)
        found.append(soaked)
    return found


def _probe(b: Soaked) -> None:
    """Leave out what this backend does not do yet (said in the report)."""
    x = b.adapter.asarray(np.array([[-1.0, 2.0]] * 2), "float32")
    try:
        unielu.elu(x, b.adapter.asarray(np.array([0.5, 1.0]), "float32"))
    except Exception as error:  # any failure: reported, not soaked
        b.alpha_arrays = False
        b.notes.append(f"alpha arrays not soaked: {type(error).__name__}: {_first_line(error)}")
    if b.out:
        try:
            unielu.elu(x, 1.0, out=b.adapter.empty((2, 2), "float32"))
        except Exception as error:
            b.out = False
            b.notes.append(f"out= not soaked: {type(error).__name__}: {_first_line(error)}")


def _first_line(error: Exception) -> str:
    return str(error).split("\n")[0][:150]


def _ulp(ref: np.ndarray, dtype: str) -> np.ndarray:
    """Spacing of ``dtype`` at each float64 value (subnormal spacing below the normals)."""
    info = np.finfo(np.float32) if dtype == "bfloat16" else np.finfo(reference.numpy_dtype(dtype))
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


def one_call(b: Soaked, rng: random.Random, tally: Tally) -> None:
    adapter = b.adapter
    n = rng.choice(SIZES)
    dtype = rng.choice(b.dtypes)
    func = rng.choice(("elu", "elu_derivative"))
    seed = rng.randrange(2**32)
    values = np.random.default_rng(seed).normal(0, 4, n)
    values[: min(n, 5)] = SPECIALS[: min(n, 5)]
    if dtype == "int32":
        values = np.nan_to_num(values, nan=0, posinf=7, neginf=-7).round()
    x_np = values.astype(reference.numpy_dtype(dtype))
    result = adapter.default_float if dtype == "int32" else dtype
    shape: tuple[int, ...] = (n,)
    alpha: Any = rng.choice(ALPHAS)
    alpha_np: Any = alpha
    if b.alpha_arrays and n % CHANNELS == 0 and rng.random() < 0.3:
        shape = (n // CHANNELS, CHANNELS)
        alpha_np = np.array(rng.sample(ALPHAS, CHANNELS), np.float32)
        alpha = adapter.asarray(alpha_np, "float32")
    x_np = x_np.reshape(shape)
    x = adapter.asarray(x_np, dtype)
    mode = rng.choice(("plain", "out", "in place")) if b.out else "plain"
    if mode == "in place" and dtype == "int32":
        mode = "out"
    label = f"{b.name} {func} n={n} {dtype} alpha={alpha_np!r} {mode} seed={seed}"
    try:
        if mode == "plain":
            y = getattr(unielu, func)(x, alpha)
        else:
            out = x if mode == "in place" else adapter.empty(shape, result)
            y = getattr(unielu, func)(x, alpha, out=out)
            if y is not out:
                tally.error(f"{label}: out= did not return out")
        if adapter.dtype_name(y) != result:
            tally.error(f"{label}: dtype {adapter.dtype_name(y)}, expected {result}")
            return
        got = np.asarray(adapter.to_numpy(y), np.float64)
        if b.out and mode != "in place" and not _identical(adapter.to_numpy(x), x_np):
            tally.error(f"{label}: x was modified")
        w = x_np if dtype != "int32" else x_np.astype(reference.numpy_dtype(result))
        ref = np.asarray(getattr(numpy_backend, func)(w, alpha_np), np.float64)
        _compare(b, label, got, ref, result, tally)
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
    b: Soaked, label: str, got: np.ndarray, ref: np.ndarray, dtype: str, tally: Tally
) -> None:
    if got.shape != ref.shape:
        tally.error(f"{label}: shape {got.shape}, expected {ref.shape}")
        return
    nan = np.isnan(ref)
    if not (np.isnan(got) == nan).all():
        tally.error(f"{label}: NaN where the NumPy backend has none, or the reverse")
        return
    g, r = got[~nan], ref[~nan]
    if b.adapter.same_as_numpy:
        if not ((g == r) & (np.signbit(g) == np.signbit(r))).all():
            tally.error(f"{label}: differs from the NumPy backend")
        return
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        error = np.where(g == r, 0.0, np.abs(g - r) / _ulp(r, dtype))
    # Each is within its contract bound (the registry's) of the exact value.
    tolerance = b.adapter.ulp + get_spec("numpy").ulp
    flushed = (g == 0) & (np.abs(r) < _tiny(dtype)) & b.adapter.flush_subnormals
    bad = (error > tolerance) & ~flushed
    if bad.any():
        i = int(np.argmax(np.where(bad, error, 0)))
        tally.error(f"{label}: {error[i]:.1f} ULP from the NumPy backend ({g[i]!r} vs {r[i]!r})")


def _tiny(dtype: str) -> float:
    if dtype == "bfloat16":
        return float(np.finfo(np.float32).smallest_normal)
    return float(np.finfo(reference.numpy_dtype(dtype)).smallest_normal)


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
        "--backends", default=",".join(known()), help="comma-separated (default: all that run here)"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    unknown = sorted(set(names) - set(known()))
    if unknown:
        parser.error(f"--backends: unknown {unknown}; known: {known()}")

    soaked = backends(names)
    if not soaked:
        parser.error(f"--backends: none of {names} can run here")
    print(f"backends: {', '.join(b.name for b in soaked)}; {args.threads} threads, "
          f"{args.seconds:g} s; NumPy backend threads: {num_threads()}")  # fmt: skip
    for b in soaked:
        for note in b.notes:
            print(f"  note, {b.name}: {note}")
    tally = Tally()
    warm = random.Random(args.seed)
    for b in soaked:  # warm-up: imports, compilation, pools, outside the RSS baseline
        for _ in range(20):
            one_call(b, warm, tally)
    rss = {"start": rss_mib()}
    deadline = time.monotonic() + args.seconds
    halfway = time.monotonic() + args.seconds / 2

    def worker(k: int) -> None:
        rng = random.Random(args.seed * 1000 + k + 1)
        while time.monotonic() < deadline:
            one_call(rng.choice(soaked), rng, tally)

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
