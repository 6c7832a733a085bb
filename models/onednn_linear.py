"""Inference Linear layers through oneDNN instead of the BLAS torch links (MKL).

Why: MKL picks its AVX2 kernels on non-Intel CPUs, so on an AVX-512 AMD EPYC
``nn.Linear`` runs at about half the machine's fp32 matmul rate, while oneDNN
(also inside torch) uses AVX-512 there.  Measured on the 2-core EPYC this
project runs on: 185 GFLOP/s through ``torch.mm`` against 420 through oneDNN's
inner product.  bf16 weights go the same way (torch already sends their matmuls
to oneDNN; what they gain here is the fused GELU).  Inference only, CPU only, and only after a start-up check that
the kernel exists and agrees with ``nn.Linear``; otherwise the model is left as
it is.  The feed-forward block's exact (erf) GELU is fused into the preceding
inner product as a oneDNN post-op: one pass over the activations instead of two.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

log = logging.getLogger(__name__)


def onednn_available() -> bool:
    return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class OneDNNLinear(nn.Module):
    """Drop-in for an inference-time ``nn.Linear`` (fp32 or bf16, CPU) that calls oneDNN's inner product.

    ``post_op="gelu"`` also applies the exact GELU, for a linear whose output
    feeds one (the activation module is then replaced by an identity).
    """

    POST_OPS = ("none", "gelu")

    def __init__(self, linear: nn.Linear, post_op: str = "none") -> None:
        super().__init__()
        if post_op not in self.POST_OPS:
            raise ValueError(f"post_op must be one of {self.POST_OPS}, got {post_op!r}")
        self.post_op = post_op
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.weight = nn.Parameter(linear.weight.detach().contiguous(), requires_grad=False)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().contiguous(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != self.weight.dtype or x.device.type != "cpu" or torch.is_grad_enabled():
            out = nn.functional.linear(x, self.weight, self.bias)
            return nn.functional.gelu(out) if self.post_op == "gelu" else out
        algorithm = "none" if self.post_op == "gelu" else ""  # "none": exact erf GELU, not the tanh one
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self.weight, self.bias, self.post_op, [], algorithm)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, post_op={self.post_op}")


SUPPORTED_DTYPES = (torch.float32, torch.bfloat16)


def _kernel_agrees(dtype: torch.dtype) -> bool:
    """The private op is pinned to this torch build; check it once per dtype before trusting it."""
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    try:
        gen = torch.Generator().manual_seed(0)
        lin = nn.Linear(48, 24).to(dtype)
        x = torch.randn(3, 7, 48, generator=gen).to(dtype)
        with torch.inference_mode():
            plain = torch.allclose(OneDNNLinear(lin)(x).float(), lin(x).float(), atol=tol, rtol=tol)
            fused = torch.allclose(OneDNNLinear(lin, "gelu")(x).float(), nn.functional.gelu(lin(x)).float(),
                                   atol=tol, rtol=tol)
        return plain and fused
    except Exception as exc:  # noqa: BLE001 - any failure means "do not use it"
        log.info("oneDNN linear unavailable (%s: %s); keeping nn.Linear", type(exc).__name__, exc)
        return False


def _swappable(linear: nn.Linear) -> bool:
    return linear.weight.device.type == "cpu" and linear.weight.dtype in SUPPORTED_DTYPES


def _is_exact_gelu(module: nn.Module) -> bool:
    from transformers.activations import GELUActivation

    return type(module) is GELUActivation and module.act is nn.functional.gelu


def _fuse_feed_forward_gelu(module: nn.Module) -> int:
    """BERT-style ``intermediate`` blocks: ``dense`` then ``intermediate_act_fn`` (exact GELU)."""
    fused = 0
    for block in module.modules():
        dense, act = getattr(block, "dense", None), getattr(block, "intermediate_act_fn", None)
        if type(dense) is nn.Linear and act is not None and _is_exact_gelu(act) and _swappable(dense):
            block.dense = OneDNNLinear(dense, post_op="gelu")
            block.intermediate_act_fn = nn.Identity()
            fused += 1
    return fused


def use_onednn_linears(module: nn.Module) -> int:
    """Swap every fp32/bf16 CPU ``nn.Linear`` in ``module`` for :class:`OneDNNLinear`; returns how many.

    Only for inference: the swapped layers hold frozen copies of the weights.
    """
    dtypes = {m.weight.dtype for m in module.modules() if type(m) is nn.Linear} & set(SUPPORTED_DTYPES)
    if not onednn_available() or not dtypes or not all(_kernel_agrees(d) for d in dtypes):
        return 0
    swapped = _fuse_feed_forward_gelu(module)
    replacement: dict[int, OneDNNLinear] = {}  # a layer shared by two parents gets one replacement
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear and _swappable(child):
                if id(child) not in replacement:
                    replacement[id(child)] = OneDNNLinear(child)
                setattr(parent, name, replacement[id(child)])
    return swapped + len(replacement)
