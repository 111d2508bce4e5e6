"""SMPLify's Adam gives torch.optim.Adam's parameters bitwise."""

import torch

from hmr.smplify.adam import Adam


def test_same_parameters_as_torch_adam():
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(5, 69, generator=gen), torch.randn(5, 3, generator=gen)]
    ours = [p.clone().requires_grad_(True) for p in start]
    theirs = [p.clone().requires_grad_(True) for p in start]
    a, b = Adam(ours, lr=1e-2, betas=(0.9, 0.999)), torch.optim.Adam(theirs, lr=1e-2, betas=(0.9, 0.999))
    for step in range(30):
        for opt, params in ((a, ours), (b, theirs)):
            opt.zero_grad()
            loss = sum(((p - 0.3) ** 4).sum() + p.sin().sum() for p in params)
            if step % 7 == 3:
                loss = loss + 0 * params[0].sum()  # a step where one tensor gets no gradient below
                params[1].requires_grad_(False)
            loss.backward()
            params[1].requires_grad_(True)
            opt.step()
        for p, q in zip(ours, theirs):
            assert torch.equal(p, q), step
