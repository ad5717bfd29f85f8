"""Deployment paths on Keras 3's other backends (docs/models.rst, "Deploying").

Helpers and the model are in tests/deployment.py.
"""

from __future__ import annotations

import pytest
from deployment import (
    INPUTS,
    ONNX_RUN,
    assert_within_contract,
    keras_model,
    run_fresh,
)

from unielu._registry import release


@pytest.mark.only("keras", reason="Keras ONNX export on PyTorch")
def test_keras_onnx_export_on_torch(backend, tmp_path):
    if backend.keras_backend != "torch":
        pytest.skip(reason="not applicable: this row is for KERAS_BACKEND=torch")
    keras = backend.keras
    if release(keras.__version__) < (3, 8):
        pytest.skip(reason=f"keras {keras.__version__}: export(format='onnx') came in Keras 3.8")
    pytest.importorskip("onnxscript", reason="torch.onnx.export needs onnxscript")
    path = tmp_path / "model.onnx"
    model = keras_model(keras)
    model(INPUTS)
    model.export(str(path), format="onnx", verbose=False)
    y = run_fresh(ONNX_RUN.format(path=str(path)), path)
    assert_within_contract(y, "Keras export(format='onnx') on PyTorch, ONNX Runtime")
