"""Hostile input on PyTorch (docs/contract.rst, "Hostile input"): the regression
lines that need the framework itself; the fuzz and the rest are in tests/test_hostile.py."""

from __future__ import annotations

import pytest
from test_hostile import run_isolated


@pytest.mark.only("torch", reason="PyTorch storages can be resized")
@pytest.mark.parametrize("name", ["x", "alpha", "out"])
def test_torch_freed_storage_is_refused(backend, name):
    result = run_isolated(f"""
        import torch, unielu
        x, alpha, out = torch.randn(8), torch.ones(8), torch.empty(8)
        {name}.untyped_storage().resize_(0)
        for func in (unielu.elu, unielu.elu_derivative):
            try:
                func(x, alpha, out=out) if {name!r} == "out" else func(x, alpha)
            except ValueError as error:
                assert "'{name}'" in str(error) and "storage" in str(error), error
            else:
                raise SystemExit("accepted")
        """)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
