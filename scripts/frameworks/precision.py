"""The precisions framework-check times a step in, stated once: what PyTorch runs and what trainrate
measures and predicts for each. Plain data, so scripts/framework-check reads it without torch."""
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Precision:
    name: str                        # as on framework-check's command line
    trainrate_dtype: str             # `trainrate run --dtype` / `predict --dtype`: what the rates are of
    autocast_dtype: Optional[str]    # torch.autocast's dtype (a torch attribute name); None: no autocast
    grad_scaler: bool                # fp16's narrow exponent needs loss scaling; bf16's does not
    needs_cuda: bool


PRECISIONS = {p.name: p for p in (
    Precision("fp32", "fp32", None, False, False),
    Precision("amp-fp16", "fp16", "float16", True, True),
    Precision("amp-bf16", "bf16", "bfloat16", False, True),
)}
