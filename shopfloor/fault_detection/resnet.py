"""The residual network of the retraining paper (Eq. 1) with input and output linear maps.

    z(0) = x A + a,   z(l) = z(l-1) + tanh(z(l-1) W(l) + b(l)),  l = 1..L,   y = z(L) B + c

Rows are row vectors, so ``z W`` is Rom et al.'s ``W^T x``. Width ``m`` is fixed over the layers, as in
Rom et al.; the maps ``A`` and ``B`` let the inputs and outputs have any size. Every weight lives in one
flat vector ``u`` (the state the EnKF moves); ``ensemble_forward`` runs a whole ensemble of such
vectors in one batched pass.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ResNet(nn.Module):
    """``layers`` residual blocks of width ``width`` between linear input and output maps."""

    def __init__(self, n_inputs: int, n_outputs: int, width: int = 8, layers: int = 11, seed: int = 0):
        super().__init__()
        self.n_inputs, self.n_outputs, self.width, self.layers = n_inputs, n_outputs, width, layers
        g = torch.Generator().manual_seed(seed)

        def uniform(*shape: int, fan_in: int) -> nn.Parameter:
            bound = 1.0 / math.sqrt(max(fan_in, 1))
            return nn.Parameter((torch.rand(*shape, generator=g) * 2 - 1) * bound)

        self.A, self.a = uniform(n_inputs, width, fan_in=n_inputs), uniform(width, fan_in=n_inputs)
        # Small residual weights: each block starts close to the identity, as the ODE view suggests.
        self.W = uniform(layers, width, width, fan_in=width * layers)
        self.b = uniform(layers, width, fan_in=width * layers)
        self.B, self.c = uniform(width, n_outputs, fan_in=width), uniform(n_outputs, fan_in=width)

    def shapes(self) -> list[tuple[int, ...]]:
        return [tuple(p.shape) for p in self.parameters()]

    @property
    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.A + self.a
        for layer in range(self.layers):
            z = z + torch.tanh(z @ self.W[layer] + self.b[layer])
        return z @ self.B + self.c

    def get_flat(self) -> torch.Tensor:
        """All weights as one vector ``u`` (a copy)."""
        return nn.utils.parameters_to_vector(self.parameters()).detach().clone()

    def set_flat(self, u: torch.Tensor) -> None:
        """Load the weights from a flat vector."""
        with torch.no_grad():
            nn.utils.vector_to_parameters(u.to(self.A.dtype), self.parameters())

    def mask(self, part: str = "all") -> torch.Tensor:
        """Which entries of the flat vector belong to ``part``: "all", "head" (the last residual block
        and the output map) or "output" (the output map alone)."""
        sizes = [p.numel() for p in self.parameters()]
        keep = torch.ones(sum(sizes), dtype=torch.bool)
        if part == "all":
            return keep
        if part not in ("head", "output"):
            raise ValueError(f"part must be all, head or output, got {part!r}")
        keep[:] = False
        keep[-(sizes[-1] + sizes[-2]) :] = True
        if part == "head":
            offsets = torch.cumsum(torch.tensor([0, *sizes]), 0)
            w_end, b_end = int(offsets[3]), int(offsets[4])  # W and b end here
            block = self.width * self.width
            keep[w_end - block : w_end] = True
            keep[b_end - self.width : b_end] = True
        return keep

    def ensemble_forward(self, x: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
        """Outputs (J, n, outputs) of the J weight vectors in ``U`` (J, d) for inputs ``x`` (n, inputs)."""
        J = U.shape[0]
        parts, start = [], 0
        for shape in self.shapes():
            size = math.prod(shape)
            parts.append(U[:, start : start + size].reshape(J, *shape))
            start += size
        A, a, W, b, B, c = parts
        z = torch.einsum("ni,jim->jnm", x, A) + a[:, None, :]
        for layer in range(self.layers):
            z = z + torch.tanh(torch.bmm(z, W[:, layer]) + b[:, None, layer])
        return torch.bmm(z, B) + c[:, None, :]
