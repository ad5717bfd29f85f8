"""Builds unielu's compiled kernel, the ufunc extension ``unielu._ufuncs``.

Everything else about the package is in pyproject.toml. The extension is
optional: where it cannot be compiled (no compiler, an unusual platform) the
install goes on with a warning and unielu uses its pure-NumPy path. See
docs/backends/numpy.rst for why setuptools and not meson-python.
"""

from __future__ import annotations

import numpy as np
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):  # type: ignore[misc]
    """Flags by compiler: the same bits at every SIMD level need no FMA contraction."""

    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "msvc":
            flags = ["/O2", "/fp:precise"]
        else:
            # No FMA contraction; no trapping math, so that the selects vectorize.
            flags = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-fno-math-errno"]
            flags.append("-std=c99")
        for ext in self.extensions:
            ext.extra_compile_args = flags
        super().build_extensions()


setup(
    ext_modules=[
        Extension(
            "unielu._ufuncs",
            sources=["unielu/_ufuncs.c"],
            depends=["unielu/_kernel_body.h"],
            include_dirs=[np.get_include()],
            define_macros=[("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION")],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildExt},
)
