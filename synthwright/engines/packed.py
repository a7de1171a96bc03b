"""Linear layers whose weights are packed once for the CPU's matrix kernels (oneDNN), for generation only.

A plain `nn.Linear` on the CPU hands its weight to the matrix kernel in PyTorch's layout, and the kernel reorders it
into its own blocked layout at every call: for a batch of 32 decoding rows that reordering costs about as much as the
product itself. Packing every weight once when the model is loaded removes it; the products are the same.
"""

from __future__ import annotations

import torch


class PackedLinear(torch.nn.Module):
    """An inference-only `nn.Linear` over a weight that oneDNN reordered once (`torch.ops.mkldnn`)."""

    def __init__(self, linear: torch.nn.Linear, rows: int):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        weight = linear.weight.detach()
        self.dtype = weight.dtype
        self.register_buffer("packed", torch.ops.mkldnn._reorder_linear_weight(weight, rows), persistent=False)
        self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach(), requires_grad=False)

    @property
    def weight(self) -> torch.Tensor:
        """The weight's shape and dtype only (its values live in `packed`): what callers that size the vocabulary by
        the output layer read."""
        return torch.empty((self.out_features, self.in_features), dtype=self.dtype, device="meta")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, self.packed, self.bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, packed for oneDNN"


def packs_correctly(linear: torch.nn.Linear, rows: int) -> bool:
    """Whether this torch can pack `linear` and the packed product equals the plain one on a probe input."""
    try:
        probe = torch.randn((2, 3, linear.in_features), generator=torch.Generator().manual_seed(0)).to(
            linear.weight.dtype)
        with torch.inference_mode():
            plain, packed = linear(probe), PackedLinear(linear, rows)(probe)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    tolerance = 1e-2 if linear.weight.dtype != torch.float32 else 1e-4
    return torch.allclose(plain.float(), packed.float(), rtol=tolerance, atol=tolerance)


def pack_linear_layers(model: torch.nn.Module, rows: int) -> int:
    """Replace every `nn.Linear` of a CPU model in float32 or bfloat16 by a PackedLinear tuned for products of
    `rows` rows; returns how many were packed (none where this torch has no oneDNN or the first one packs wrong).

    For generation only: the packed layers neither train nor save."""
    linears = [(parent, name, child) for parent in model.modules() for name, child in parent.named_children()
               if type(child) is torch.nn.Linear]
    if not linears or not torch.backends.mkldnn.is_available():
        return 0
    first = linears[0][2]
    if first.weight.device.type != "cpu" or first.weight.dtype not in (torch.float32, torch.bfloat16):
        return 0
    if not packs_correctly(first, rows):
        return 0
    for parent, name, child in linears:
        setattr(parent, name, PackedLinear(child, rows))
    return len(linears)
