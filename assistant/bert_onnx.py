"""A BERT sentence embedder (MiniLM) as an ONNX graph, written from its safetensors with numpy and
`onnx`, no torch: token and position embeddings, the encoder layers, mean pooling over the attention
mask, unit length. The same arithmetic as sentence-transformers (exact GELU, LayerNorm), so vectors
match it to float rounding. Deterministic: the same weights give the same bytes, so the result can
be pinned by sha256."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# LayerNormalization needs opset 17; Reduce* with axes as an input, 18.
OPSET = 18


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.count = 0

    def const(self, name: str, value: Any) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        from onnx import helper

        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out


def build_graph(model_dir: Path) -> bytes:
    """The serialized ONNX model: inputs input_ids, attention_mask (int64, batch x seq); output
    sentence_embedding (float32, batch x hidden), unit length."""
    import onnx
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    cfg = json.loads((model_dir / "config.json").read_text())
    w = load_file(str(model_dir / "model.safetensors"))
    if cfg.get("model_type") != "bert" or cfg.get("hidden_act") != "gelu":
        raise ValueError(f"{model_dir} holds no BERT model with GELU ({cfg.get('model_type')})")
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    head_dim = hidden // heads
    eps = cfg["layer_norm_eps"]
    g = _Graph()
    f32 = np.float32
    g.const("zero_1d", np.array([0], np.int64))
    g.const("last_axis", np.array([-1], np.int64))
    g.const("seq_axis", np.array([1], np.int64))
    g.const("mask_axes", np.array([1, 2], np.int64))
    g.const("split_heads", np.array([0, 0, heads, head_dim], np.int64))
    g.const("merge_heads", np.array([0, 0, hidden], np.int64))
    g.const("one", np.array(1.0, f32))
    g.const("half", np.array(0.5, f32))
    g.const("inv_sqrt2", np.array(1 / np.sqrt(2), f32))
    g.const("scale", np.array(1 / np.sqrt(head_dim), f32))
    # Padding gets a large negative score, so softmax gives it no weight (as transformers does).
    g.const("masked", np.array(-1e9, f32))
    g.const("tiny", np.array(1e-9, f32))
    g.const("tiny_norm", np.array(1e-12, f32))

    def layer_norm(x: str, prefix: str) -> str:
        return g.op("LayerNormalization", x, g.const(prefix + "LayerNorm.weight",
                    w[prefix + "LayerNorm.weight"]), g.const(prefix + "LayerNorm.bias",
                    w[prefix + "LayerNorm.bias"]), axis=-1, epsilon=eps)

    def linear(x: str, prefix: str) -> str:
        weight = g.const(prefix + "weight", w[prefix + "weight"].T)
        return g.op("Add", g.op("MatMul", x, weight), g.const(prefix + "bias", w[prefix + "bias"]))

    emb = "embeddings."
    words = g.op("Gather", g.const("words", w[emb + "word_embeddings.weight"]), "input_ids")
    seq_len = g.op("Shape", "input_ids", start=1, end=2)
    positions = g.op("Slice", g.const("positions", w[emb + "position_embeddings.weight"]),
                     "zero_1d", seq_len, "zero_1d")
    # Every token is of type 0: one sentence per input.
    token_type = g.const("token_type", w[emb + "token_type_embeddings.weight"][0])
    x = layer_norm(g.op("Add", g.op("Add", words, positions), token_type), emb)
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    bias = g.op("Unsqueeze", g.op("Mul", g.op("Sub", "one", mask), "masked"), "mask_axes")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."

        def split(t: str, perm: list[int]) -> str:
            return g.op("Transpose", g.op("Reshape", t, "split_heads"), perm=perm)

        q = split(linear(x, p + "attention.self.query."), [0, 2, 1, 3])
        k = split(linear(x, p + "attention.self.key."), [0, 2, 3, 1])
        v = split(linear(x, p + "attention.self.value."), [0, 2, 1, 3])
        scores = g.op("Add", g.op("Mul", g.op("MatMul", q, k), "scale"), bias)
        ctx = g.op("MatMul", g.op("Softmax", scores, axis=-1), v)
        ctx = g.op("Reshape", g.op("Transpose", ctx, perm=[0, 2, 1, 3]), "merge_heads")
        x = layer_norm(g.op("Add", linear(ctx, p + "attention.output.dense."), x),
                       p + "attention.output.")
        h = linear(x, p + "intermediate.dense.")
        gelu = g.op("Mul", g.op("Mul", h, "half"),
                    g.op("Add", g.op("Erf", g.op("Mul", h, "inv_sqrt2")), "one"))
        x = layer_norm(g.op("Add", linear(gelu, p + "output.dense."), x), p + "output.")
    token_mask = g.op("Unsqueeze", mask, "last_axis")
    summed = g.op("ReduceSum", g.op("Mul", x, token_mask), "seq_axis", keepdims=0)
    count = g.op("Max", g.op("ReduceSum", token_mask, "seq_axis", keepdims=0), "tiny")
    mean = g.op("Div", summed, count)
    norm = g.op("Max", g.op("ReduceL2", mean, "last_axis", keepdims=1), "tiny_norm")
    g.nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))
    graph = helper.make_graph(
        g.nodes, "sentence-embedder",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
         for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT,
                                       ["batch", hidden])],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="article-assistant")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())
