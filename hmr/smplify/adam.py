"""Adam for SMPLify's few small parameter tensors: torch.optim.Adam's arithmetic, less overhead.

``torch.optim.Adam`` imports ``torch._dynamo`` when first built (over a CPU-second) and wraps
each step in machinery made for large models. SMPLify steps a handful of (N, ≤ 69) tensors a few
hundred times, so that overhead is a real share of a fit. ``Adam`` here performs the same
operations, in the same order and precision, as torch's single-tensor Adam without weight
decay, amsgrad or maximize (what torch runs for CPU tensors), so the parameters it produces are
bitwise the same (a test checks it).
"""

from __future__ import annotations

import torch
from torch import Tensor


class Adam:
    """Adam (Kingma & Ba) on a list of leaf tensors, torch.optim.Adam's defaults otherwise.

    Args:
        params: tensors with ``requires_grad``.
        lr: step size.
        betas: (β1, β2).
        eps: added to the denominator.
    """

    def __init__(self, params: list[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        self.steps = [0] * len(self.params)
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, (p, exp_avg, exp_avg_sq) in enumerate(zip(self.params, self.exp_avg, self.exp_avg_sq)):
            if p.grad is None:  # as torch: a tensor without a gradient neither moves nor counts a step
                continue
            self.steps[i] += 1
            # torch keeps each step count in a float32 tensor and reads it back as a Python float.
            step = float(torch.tensor(float(self.steps[i]), dtype=torch.float32).item())
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            step_size = self.lr / bias_correction1
            bias_correction2_sqrt = bias_correction2 ** 0.5
            grad = p.grad
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)
