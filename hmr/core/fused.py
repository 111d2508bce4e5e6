"""Convolutions fused with the residual sum and ReLU after them, for the bf16 fast path on CPU.

In eager bf16, HRNet W32 spends about a fifth of its time outside the convolutions: a ReLU and
a residual add each read and write a whole feature map, and every convolution reorders its
weights into oneDNN's blocked layout on each call. ``fuse_convolutions`` rewrites one method of
a BatchNorm-folded network (``hmr.core.fastpath.inference_copy``) so that each chain

    conv → [+ other] → [ReLU]

is one oneDNN call (``torch.ops.mkldnn._convolution_pointwise``, the kernels inductor uses) on
weights converted to bfloat16 and reordered once. The method is traced with ``torch.fx``; what is
not a convolution chain (pooling, upsampling, sums of upsampled maps) runs as before, on bf16
tensors. The arithmetic is autocast's (bf16 operands, float32 accumulation), except that a fused
sum is added before rounding to bf16 instead of after, so outputs differ from the autocast path
by bf16 rounding only.

Only for CPU tensors in bf16 with oneDNN present (``can_fuse``); elsewhere the fast path keeps
autocast. Inference only: the fused modules hold plain tensors, not parameters.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn

__all__ = ["FusedConv2d", "can_fuse", "fuse_convolutions"]

_CHANNELS_LAST = torch.channels_last
_ADDS = (operator.add, torch.add)
_RELUS = (torch.relu, nn.functional.relu)
LAYOUT_BATCH = 8  # the batch size the weights' layout is chosen for (any batch runs)


def can_fuse(device: str | torch.device) -> bool:
    """True where the fused kernels run: a CPU device with oneDNN (mkldnn) built in."""
    return torch.device(device).type == "cpu" and torch.backends.mkldnn.is_available()


class FusedConv2d(nn.Module):
    """One ``Conv2d``, optionally plus a tensor of its output's shape, optionally then ReLU.

    Args:
        conv: the (BatchNorm-folded) convolution; its weights are copied to bf16 and reordered
            for oneDNN once, here.
        relu: apply ReLU after the convolution (and the sum).
        add: ``forward`` takes a second tensor added to the convolution's output.
        input_size: (C, H, W) of the input the layout is chosen for. It must be the real one: a
            layout chosen for another size can make a call ten times slower (seen with 1×1
            convolutions at 14×14); any batch size runs at full speed.
    """

    def __init__(self, conv: nn.Conv2d, relu: bool, add: bool, input_size: tuple[int, int, int]) -> None:
        super().__init__()
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError(f"FusedConv2d needs numeric zero padding, got {conv.padding!r} ({conv.padding_mode})")
        self.geometry = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        weight = conv.weight.detach().to(torch.bfloat16).contiguous(memory_format=_CHANNELS_LAST)
        padding, stride, dilation, groups = self.geometry
        self.weight = torch.ops.mkldnn._reorder_convolution_weight(  # oneDNN's blocked layout
            weight, padding, stride, dilation, groups, [LAYOUT_BATCH, *input_size])
        self.bias = None if conv.bias is None else conv.bias.detach().to(torch.bfloat16)
        self.unary = "relu" if relu else "none"
        self.add = add
        self.shape = (conv.in_channels, conv.out_channels, tuple(conv.kernel_size))

    def extra_repr(self) -> str:
        c_in, c_out, kernel = self.shape
        return f"{c_in}, {c_out}, kernel_size={kernel}, add={self.add}, relu={self.unary == 'relu'}"

    def forward(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        padding, stride, dilation, groups = self.geometry
        if other is None:
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, padding, stride, dilation, groups, self.unary, [], "")
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, other, self.weight, self.bias, padding, stride, dilation, groups, "add", None,
            None if self.unary == "none" else self.unary, [], "")


def _to_bf16_channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).contiguous(memory_format=_CHANNELS_LAST)


def _to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float()


class _Method(nn.Module):
    """``model.<name>`` as a module's forward, so that ``torch.fx`` can trace it."""

    def __init__(self, model: nn.Module, name: str) -> None:
        super().__init__()
        self.model = model
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.model, self.name)(x)


def _is_relu(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    if node.op == "call_module":
        return isinstance(modules.get(node.target), nn.ReLU)
    return node.op == "call_function" and node.target in _RELUS and len(node.args) == 1 and not node.kwargs


def _only_user(node: fx.Node) -> fx.Node | None:
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _fuse_chain(graph: fx.Graph, modules: dict[str, nn.Module], conv_node: fx.Node,
                owner: fx.GraphModule, name: str) -> None:
    """Replace ``conv_node`` and the sum and ReLU that follow it with one ``FusedConv2d``."""
    chain, other = [conv_node], None
    nxt = _only_user(conv_node)
    if (nxt is not None and nxt.op == "call_function" and nxt.target in _ADDS and len(nxt.args) == 2
            and not nxt.kwargs):
        candidate = nxt.args[1] if nxt.args[0] is conv_node else nxt.args[0]
        if isinstance(candidate, fx.Node) and candidate is not conv_node:
            chain.append(nxt)
            other = candidate
    nxt = _only_user(chain[-1])
    relu = nxt is not None and _is_relu(nxt, modules)
    if relu:
        chain.append(nxt)
    input_size = conv_node.meta["input_size"]
    owner.add_submodule(name, FusedConv2d(modules[conv_node.target], relu=relu, add=other is not None,
                                          input_size=input_size))
    with graph.inserting_after(chain[-1]):
        fused = graph.call_module(name, (conv_node.args[0],) if other is None else (conv_node.args[0], other))
    chain[-1].replace_all_uses_with(fused)
    for node in reversed(chain):  # each node's only user was the next one, now gone
        graph.erase_node(node)


def _conv_input_sizes(model: nn.Module, method: str, example: torch.Tensor) -> dict[int, tuple[int, ...]]:
    """{id(conv): (C, H, W) of its input} from one float32 call of ``model.<method>(example)``
    (forward hooks: lighter than fx's shape propagation, which imports sympy)."""
    sizes: dict[int, tuple[int, ...]] = {}

    def record(module, inputs):
        sizes.setdefault(id(module), tuple(inputs[0].shape[1:]))

    hooks = [m.register_forward_pre_hook(record) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            getattr(model, method)(example)
    finally:
        for hook in hooks:
            hook.remove()
    return sizes


def fuse_convolutions(model: nn.Module, example: torch.Tensor, method: str = "forward") -> fx.GraphModule:
    """``model.<method>`` traced, with every conv → [+] → [ReLU] chain one ``FusedConv2d``.

    Args:
        model: an eval-mode network whose BatchNorms are already folded (``Identity``).
        example: an input of the size the method will see (a batch of 1 is enough), run once in
            float32 to learn each convolution's input size.
        method: the method to trace; it must take one tensor and contain no control flow on it.

    Returns:
        A module computing the method on bf16, channels_last tensors: its input is converted on
        entry and its output returned as float32.
    """
    sizes = _conv_input_sizes(model, method, example)
    traced = fx.symbolic_trace(_Method(model, method))
    graph = traced.graph
    modules = dict(traced.named_modules())
    for node in graph.nodes:
        if node.op == "call_module" and isinstance(modules[node.target], nn.Conv2d):
            node.meta["input_size"] = sizes[id(modules[node.target])]
    for node in list(graph.nodes):
        if node.op == "call_module" and isinstance(modules[node.target], nn.Identity):
            node.replace_all_uses_with(node.args[0])
            graph.erase_node(node)
    count = 0
    for node in list(graph.nodes):
        if node.op == "call_module" and isinstance(modules.get(node.target), nn.Conv2d):
            _fuse_chain(graph, modules, node, traced, f"fused_{count}")
            count += 1
    for node in graph.nodes:
        if node.op == "placeholder":
            with graph.inserting_after(node):
                converted = graph.call_function(_to_bf16_channels_last, (node,))
            node.replace_all_uses_with(converted, delete_user_cb=lambda user: user is not converted)
        elif node.op == "output":
            with graph.inserting_before(node):
                result = graph.call_function(_to_float, (node.args[0],))
            node.args = (result,)
    graph.lint()
    traced.recompile()
    traced.delete_all_unused_submodules()
    return traced
