#!/usr/bin/env python3
"""Checks the ONNX files written by tools/onnx_dump.cs (Debian's python3-onnx and torch, no pip package):

  dotnet run tools/onnx_dump.cs -- /tmp/onnxcheck && /usr/bin/python3 tools/check_onnx.py /tmp/onnxcheck

For each NAME.onnx beside NAME.safetensors (input, our output, our weights):
  1. onnx.checker.check_model(full_check=True) (includes strict shape inference);
  2. runs the graph with a small numpy interpreter written from the ONNX operator specs (onnx 1.12 has no
     onnx.reference) and compares with our output;
  3. rebuilds the model in torch from our weights and compares torch's output with ours (independent of 2);
  4. exports that torch model with torch.onnx.export and compares its RNN/LSTM/GRU W, R, B with ours
     (torch's own gate reordering is the independent reference for ours).
"""
import io
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import numpy_helper

DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def load_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    data = b[8 + n:]
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(data[s:e], dtype=DT[v["dtype"]]).reshape(v["shape"])
    return out, meta


def sig(x):
    return 1 / (1 + np.exp(-x))


ACT = {"Tanh": np.tanh, "Relu": lambda x: np.maximum(x, 0), "Sigmoid": sig}


def run_rnn(op, X, W, R, B, attrs):
    """ONNX RNN/LSTM/GRU (layout 0): X (S, Bt, I) -> Y (S, D, Bt, H), Y_h (D, Bt, H)."""
    H = attrs["hidden_size"]
    D = W.shape[0]
    S, Bt, _ = X.shape
    Y = np.zeros((S, D, Bt, H), np.float64)
    Yh = np.zeros((D, Bt, H), np.float64)
    G = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    for d in range(D):
        w, r = W[d].astype(np.float64), R[d].astype(np.float64)
        wb, rb = B[d, :G * H].astype(np.float64), B[d, G * H:].astype(np.float64)
        h = np.zeros((Bt, H))
        c = np.zeros((Bt, H))
        reverse = attrs.get("direction", b"forward") == b"reverse" or (D == 2 and d == 1)
        order = range(S - 1, -1, -1) if reverse else range(S)
        for t in order:
            x = X[t].astype(np.float64)
            if op == "RNN":
                f = ACT[attrs.get("activations", [b"Tanh"] * D)[d].decode()]
                h = f(x @ w.T + h @ r.T + wb + rb)
            elif op == "LSTM":  # gates i, o, f, c
                gx = x @ w.T + wb
                gh = h @ r.T + rb
                g = gx + gh
                i, o, fg, cc = (g[:, k * H:(k + 1) * H] for k in range(4))
                c = sig(fg) * c + sig(i) * np.tanh(cc)
                h = sig(o) * np.tanh(c)
            else:  # GRU, gates z, r, h
                gx = x @ w.T + wb
                z = sig(gx[:, :H] + h @ r[:H].T + rb[:H])
                rr = sig(gx[:, H:2 * H] + h @ r[H:2 * H].T + rb[H:2 * H])
                if attrs.get("linear_before_reset", 0):
                    n = np.tanh(gx[:, 2 * H:] + rr * (h @ r[2 * H:].T + rb[2 * H:]))
                else:
                    n = np.tanh(gx[:, 2 * H:] + (rr * h) @ r[2 * H:].T + rb[2 * H:])
                h = (1 - z) * n + z * h
            Y[t, d] = h
        Yh[d] = h
    return Y, Yh


def evaluate(model, feeds):
    env = dict(feeds)
    for init in model.graph.initializer:
        env[init.name] = numpy_helper.to_array(init)
    for node in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Gather":
            out = [np.take(x[0], x[1], axis=a.get("axis", 0))]
        elif op == "Transpose":
            out = [np.transpose(x[0], a["perm"])]
        elif op == "Reshape":
            shape = [x[0].shape[i] if s == 0 else s for i, s in enumerate(x[1])]
            out = [x[0].reshape(shape)]
        elif op in ("RNN", "LSTM", "GRU"):
            out = list(run_rnn(op, x[0], x[1], x[2], x[3], a))
        elif op == "Gemm":
            bm = x[1].T if a.get("transB", 0) else x[1]
            out = [x[0].astype(np.float64) @ bm + x[2]]
        elif op == "MatMul":
            out = [x[0].astype(np.float64) @ x[1]]
        elif op == "Add":
            out = [x[0] + x[1]]
        elif op in ACT:
            out = [ACT[op](x[0])]
        else:
            raise NotImplementedError(op)
        for name, v in zip(node.output, out):
            if name:
                env[name] = v
    return env[model.graph.output[0].name]


def torch_model(meta, params):
    import torch
    import torch.nn as nn
    cell = meta["rnn.cell"]
    if cell == "GruResetBefore":
        return None  # PyTorch has no reset-before GRU
    V, E, I = int(meta["rnn.vocab"]), int(meta["rnn.embedding_dim"]), int(meta["rnn.input_size"])
    H, L, bi = int(meta["rnn.hidden"]), int(meta["rnn.layers"]), meta["rnn.bidirectional"] == "true"
    O, per_step, act = int(meta["rnn.output_size"]), meta["rnn.per_step"] == "true", meta["rnn.output_activation"]
    F = E if V > 0 else I
    kind = {"Lstm": nn.LSTM, "Gru": nn.GRU}.get(cell)
    rnn = kind(F, H, L, batch_first=True, bidirectional=bi) if kind else \
        nn.RNN(F, H, L, nonlinearity="relu" if cell == "RnnRelu" else "tanh", batch_first=True, bidirectional=bi)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E) if V > 0 else None
            self.rnn = rnn
            self.fc = nn.Linear(2 * H if bi else H, O)

        def forward(self, inp):
            x = self.embedding(inp) if self.embedding is not None else inp
            y, h = self.rnn(x)
            h = h[0] if isinstance(h, tuple) else h
            z = y if per_step else (torch.cat([h[-2], h[-1]], 1) if bi else h[-1])
            z = self.fc(z)
            return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}.get(act, lambda v: v)(z)

    m = M()
    sd = m.state_dict()
    for k in sd:
        src = params.get("param." + k)
        sd[k] = torch.from_numpy(src.copy()) if src is not None else torch.zeros_like(sd[k])  # Keras init: one bias
    m.load_state_dict(sd)
    return m.eval()


def rnn_weights(model):
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {}
    for n in model.graph.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    inits.update(consts)
    return [[inits.get(i) for i in n.input[1:4]] for n in model.graph.node if n.op_type in ("RNN", "LSTM", "GRU")]


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/onnxcheck"
    ok = True
    for f in sorted(os.listdir(d)):
        if not f.endswith(".onnx"):
            continue
        name = f[:-5]
        m = onnx.load(os.path.join(d, f))
        onnx.checker.check_model(m, full_check=True)
        t, meta = load_st(os.path.join(d, name + ".safetensors"))
        feeds = {k[len("input."):]: v for k, v in t.items() if k.startswith("input.")}
        got = evaluate(m, feeds)
        ours = t["output"].astype(np.float64)
        err = np.max(np.abs(got - ours) / (np.abs(ours) + 1e-3))
        line = f"{name}: checker OK (ir {m.ir_version}, opset {m.opset_import[0].version}, {len(m.graph.node)} nodes); " \
               f"numpy ONNX eval vs ours max rel err {err:.2e}"
        ok &= err < 1e-4
        params = {k: v for k, v in t.items() if k.startswith("param.")}
        tm = torch_model(meta, params) if params else None
        if tm is not None:
            import torch
            inp = torch.from_numpy(list(feeds.values())[0].copy())
            with torch.no_grad():
                ref = tm(inp).double().numpy().reshape(ours.shape)
            terr = np.max(np.abs(ref - ours) / (np.abs(ours) + 1e-3))
            buf = io.BytesIO()
            torch.onnx.export(tm, (inp,), buf, opset_version=14)
            theirs = rnn_weights(onnx.load_from_string(buf.getvalue()))
            mine = rnn_weights(m)
            same = len(theirs) == len(mine) and all(
                a is not None and b is not None and a.shape == b.shape and np.array_equal(a, b)
                for tw, mw in zip(theirs, mine) for a, b in zip(tw, mw))
            line += f"; torch vs ours {terr:.2e}; W/R/B identical to torch.onnx.export's: {same}"
            ok &= terr < 1e-4 and same
        print(line)
    print("ALL OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
