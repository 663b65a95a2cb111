"""``model.summary()``: the layers as a table, like Keras's, with FLOPs and the kernel plan.

Each row is what the layer declares (:class:`fastnn.layers.Layer`): ``output_shape`` and
``flops``; a layer type that declares no ``flops`` shows "?" and is named under the table.
"""

from __future__ import annotations

from collections.abc import Sequence

from .layers import Dense, ShapeError, declares


def _default_input(model) -> tuple[int, ...] | None:
    if model.input_shape is not None:
        return model.input_shape
    for layer in model.layers:
        if isinstance(layer, Dense):
            return (layer.in_features,)
        if layer.params:  # a Conv2D or BatchNorm: the image size is unknown
            return None
    return None


class Summary(str):
    """The table as a string that shows as itself in a REPL or notebook."""

    def __repr__(self) -> str:
        return str(self)


def _count(n: int) -> str:
    if n >= 10**9:
        return f"{n / 1e9:.2f} G"
    if n >= 10**6:
        return f"{n / 1e6:.2f} M"
    return f"{n:,}"


def summary_table(model, input_shape: Sequence[int] | None = None) -> Summary:
    """The table: #, layer, output shape, parameters, FLOPs, kernel (one row a layer)."""
    shape = tuple(int(d) for d in input_shape) if input_shape is not None else \
        _default_input(model)
    known = shape is not None
    kernel, steps = {}, dict(zip(model.plan.first_index, model.plan))
    for start, step in steps.items():
        kernel[start] = step.label
        for j in range(1, len(step.layers)):
            kernel[start + j] = "  (same call)"
    rows, total_params, total_flops, buffers = [], 0, 0, 0
    undeclared = None  # the first layer without flops(), for the total's line
    for i, layer in enumerate(model.layers):
        params = sum(p.size for p in layer.params.values())
        buffers += sum(b.size for b in layer.buffers.values())
        out, f = None, None
        if shape is not None:
            try:
                out = layer.output_shape(shape)
            except ShapeError as e:
                raise ShapeError(f"layer {i} {e}") from None
            if declares(layer, "flops"):
                f = layer.flops(shape, out)
                total_flops += f
            elif undeclared is None:
                undeclared = f"layer {i} {type(layer).__name__} declares no flops()"
            if hasattr(steps.get(i), "lookup"):  # a convolution: its algorithms for this input
                kernel[i] = steps[i].label_for(steps[i].lookup(shape))
        args = ", ".join(str(v) for k, v in layer.config().items() if k != "init")
        name = f"{type(layer).__name__}({args})"
        rows.append((str(i), name, "?" if out is None else "(N, " + ", ".join(map(str, out))
                     + ")", f"{params:,}", "?" if f is None else _count(f), kernel[i]))
        total_params += params
        shape = out
    head = ("#", "layer", "output shape", "params", "FLOPs", "kernel")
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head))]
    align = ["<", "<", "<", ">", ">", "<"]

    def line(r):
        return "  ".join(f"{v:{a}{w}}" for v, a, w in zip(r, align, widths)).rstrip()

    rule = "-" * len(line(head))
    text = [line(head), rule, *map(line, rows), rule,
            f"parameters: {total_params:,} ({total_params * model.dtype.itemsize / 1024:,.1f} KiB"
            f" of {model.dtype})" + (f", plus {buffers:,} buffer values" if buffers else ""),
            "FLOPs per sample, forward: " + (
                "? (give summary(input_shape=...))" if not known
                else f"? ({undeclared})" if undeclared else _count(total_flops)),
            f"kernel calls per forward pass: {len(model.plan)} (fused: {model.fuse})"]
    return Summary("\n".join(text))
