#!/usr/bin/env python3
"""Reference fixtures for Rnn's PyTorch/Keras interop tests (Rnn.Tests/InteropTests.cs).

Run with Debian's torch (no pip package needed):  /usr/bin/python3 tools/make_fixtures.py
Check files written by PyTorchExport:  /usr/bin/python3 tools/make_fixtures.py --check-export FOLDER
It rewrites Rnn.Tests/Fixtures/*.safetensors. The output is deterministic: weights and inputs come from
cos/sin of arange (candle's trick), rounded to float32 so the float32 copies hold exactly the same numbers;
every forward, loss and gradient is computed in float64.

Tensors in each file (one file per case):
  state.<name>    the module's state_dict, F64 (PyTorch names: weight_ih_l0, bias_hh_l1_reverse, fc.weight, ...)
  state32.<name>  the same state_dict as F32 (what a real checkpoint holds)
  x, mask, lengths, tokens, targets     inputs (mask (B, S) of 0/1, post-padded; lengths I64 (B))
  out, h_n, c_n, logits                 outputs (out is batch_first; PyTorch pads packed outputs with 0)
  loss            scalar
  loss.w_out, loss.w_h, loss.w_c        the fixed weights of the loss (a)-(c):
                  loss = sum(w_out*out) + sum(w_h*h_n) + sum(w_c*c_n); w_out is 0 at padded steps
  grad.<name>, grad.x                   dloss/d(every parameter), dloss/dx
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Rnn.Tests", "Fixtures")

# The reference safetensors writer lays tensors out by descending dtype (its enum order), then by name.
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
FMT = {"F32": ("<f", 4), "F64": ("<d", 8), "I64": ("<q", 8)}


def save_safetensors(path, tensors, metadata):
    """tensors: {name: (dtype, shape, flat list)}. Writes the format by hand: u64 LE header length,
    JSON header padded with spaces to a multiple of 8, then the raw little-endian data."""
    names = sorted(tensors, key=lambda n: (-DTYPE_ORDER.index(tensors[n][0]), n))
    header, blobs, off = {}, [], 0
    for n in names:
        dt, shape, data = tensors[n]
        fmt, size = FMT[dt]
        assert len(data) == math.prod(shape), n
        blob = b"".join(struct.pack(fmt, v) for v in data)
        header[n] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def det(shape, k, scale):
    """Deterministic values scale*cos(0.7*i + k), rounded to float32 and returned as float64."""
    n = math.prod(shape)
    v = scale * torch.cos(0.7 * torch.arange(n, dtype=torch.float64) + k)
    return v.float().double().reshape(shape)


def f64(name, t):
    return name, ("F64", list(t.shape), t.detach().double().reshape(-1).tolist())


def f32(name, t):
    return name, ("F32", list(t.shape), t.detach().float().reshape(-1).tolist())


def i64(name, t):
    return name, ("I64", list(t.shape), [int(v) for v in t.reshape(-1).tolist()])


def set_weights(module, scale):
    with torch.no_grad():
        for k, (name, p) in enumerate(module.named_parameters()):
            p.copy_(det(p.shape, k + 1, scale))


def state_tensors(module, prefix=""):
    out = {}
    for name, p in module.state_dict().items():
        out.update([f64("state." + prefix + name, p), f32("state32." + prefix + name, p)])
    return out


def grad_tensors(module, prefix=""):
    return dict(f64("grad." + prefix + name, p.grad) for name, p in module.named_parameters())


def mask_of(lengths, S):
    return (torch.arange(S)[None, :] < lengths[:, None]).double()


def recurrent_case(path, rnn, B, S, lengths=None, meta=None, init_state=False):
    """Runs rnn (batch_first) on deterministic x, optionally packed by lengths and from given (h0, c0);
    loss = weighted sum. With init_state the file also holds h0, c0 and grad.h0, grad.c0."""
    rnn = rnn.double()
    set_weights(rnn, 0.4)
    I, H = rnn.input_size, rnn.hidden_size
    P = getattr(rnn, "proj_size", 0) or H  # the output width: proj_size when the LSTM projects
    D = 2 if rnn.bidirectional else 1
    L = rnn.num_layers
    x = det((B, S, I), 0.3, 1.0).requires_grad_(True)
    h0 = c0 = None
    if init_state:
        h0 = det((L * D, B, P), 5.7, 0.6).requires_grad_(True)
        c0 = det((L * D, B, H), 6.1, 0.6).requires_grad_(True) if isinstance(rnn, nn.LSTM) else None
    hx = None if h0 is None else ((h0, c0) if c0 is not None else h0)
    if lengths is None:
        y, state = rnn(x, hx)
        mask = torch.ones(B, S, dtype=torch.float64)
    else:
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        y, state = rnn(packed, hx)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=S)
        mask = mask_of(lengths, S)
    h_n, c_n = state if isinstance(state, tuple) else (state, None)
    w_out = det((B, S, D * P), 2.1, 0.5) * mask[:, :, None]  # padded steps do not count
    w_h = det(tuple(h_n.shape), 3.3, 0.5)
    loss = (w_out * y).sum() + (w_h * h_n).sum()
    t = dict([f64("x", x), f64("mask", mask), f64("out", y), f64("h_n", h_n),
              f64("loss.w_out", w_out), f64("loss.w_h", w_h)])
    if c_n is not None:
        w_c = det(tuple(c_n.shape), 4.5, 0.5)
        loss = loss + (w_c * c_n).sum()
        t.update([f64("c_n", c_n), f64("loss.w_c", w_c)])
    if lengths is not None:
        t.update([i64("lengths", lengths)])
    if h0 is not None:
        t.update([f64("h0", h0)])
        if c0 is not None:
            t.update([f64("c0", c0)])
    loss.backward()
    t.update([f64("loss", loss), f64("grad.x", x.grad)])
    if h0 is not None:
        t.update([f64("grad.h0", h0.grad)])
        if c0 is not None:
            t.update([f64("grad.c0", c0.grad)])
    t.update(state_tensors(rnn))
    t.update(grad_tensors(rnn))
    md = {"script": "tools/make_fixtures.py", "torch": torch.__version__, "module": repr(rnn),
          "batch_first": "true", "batch": str(B), "seq": str(S)}
    if hasattr(rnn, "nonlinearity"):
        md["nonlinearity"] = rnn.nonlinearity
    md.update(meta or {})
    save_safetensors(path, t, md)
    print(f"{os.path.basename(path)}: {len(t)} tensors, loss {loss.item():.6f}, {os.path.getsize(path)} bytes")


class EmbedLstmFc(nn.Module):
    """Embedding -> LSTM (batch_first, packed by lengths) -> Linear on the last real hidden state."""

    def __init__(self, vocab, dim, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.rnn = nn.LSTM(dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, tokens, lengths):
        e = self.embedding(tokens)
        _, (h_n, c_n) = self.rnn(pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False))
        return self.fc(h_n[-1]), h_n, c_n


def embed_case(path):
    V, E, H, B, S = 11, 3, 4, 3, 6
    m = EmbedLstmFc(V, E, H).double()
    set_weights(m, 0.4)
    lengths = torch.tensor([4, 6, 2])
    tokens = (torch.arange(B * S).reshape(B, S) * 7 + 3) % (V - 1) + 1  # ids 1..V-1
    tokens = tokens * mask_of(lengths, S).long()                        # post-padded with id 0
    targets = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    logits, h_n, c_n = m(tokens, lengths)
    loss = nn.BCEWithLogitsLoss()(logits.squeeze(1), targets)
    loss.backward()
    t = dict([i64("tokens", tokens), i64("lengths", lengths), f64("mask", mask_of(lengths, S)),
              f64("targets", targets), f64("logits", logits), f64("h_n", h_n), f64("c_n", c_n), f64("loss", loss)])
    t.update(state_tensors(m))
    t.update(grad_tensors(m))
    save_safetensors(path, t, {"script": "tools/make_fixtures.py", "torch": torch.__version__, "module": repr(m),
                               "loss": "BCEWithLogitsLoss(mean) on fc(h_n[-1])", "batch": str(B), "seq": str(S)})
    print(f"{os.path.basename(path)}: {len(t)} tensors, loss {loss.item():.6f}, {os.path.getsize(path)} bytes")


# ---------- State dicts as PyTorch users have them (PyTorchImport.BuildRecurrent / Load, PyTorchExport) ----------
# Each case writes two files: <name>.state.safetensors, the bare module.state_dict() in F64 and nothing else (what
# safetensors.torch.save_file(m.state_dict()) gives, with PyTorch's own names and no prefix), and <name>.safetensors,
# the reference run: x (in the module's own layout: (S, B, I) when batch_first=False), h0/c0, out, h_n, c_n, the
# loss weights (loss = sum(w_out*out) + sum(w_h*h_n) + sum(w_c*c_n)), loss, and grad.<param>, grad.x, grad.h0, grad.c0.


def save_state_dict(path, module):
    save_safetensors(path, dict(f64(name, p) for name, p in module.state_dict().items()), {"format": "pt"})


def bare_recurrent_case(name, rnn, B, S, init_state=False):
    rnn = rnn.double()
    set_weights(rnn, 0.4)
    I, H = rnn.input_size, rnn.hidden_size
    P = getattr(rnn, "proj_size", 0) or H
    D = 2 if rnn.bidirectional else 1
    L = rnn.num_layers
    x = det((B, S, I), 0.3, 1.0)
    if not rnn.batch_first:
        x = x.transpose(0, 1).contiguous()  # (S, B, I): what the module takes
    x.requires_grad_(True)
    lstm = isinstance(rnn, nn.LSTM)
    h0 = c0 = None
    if init_state:
        h0 = det((L * D, B, P), 5.7, 0.6).requires_grad_(True)
        c0 = det((L * D, B, H), 6.1, 0.6).requires_grad_(True) if lstm else None
    hx = None if h0 is None else ((h0, c0) if lstm else h0)
    y, state = rnn(x, hx)
    h_n, c_n = state if lstm else (state, None)
    w_out = det(tuple(y.shape), 2.1, 0.5)
    w_h = det(tuple(h_n.shape), 3.3, 0.5)
    loss = (w_out * y).sum() + (w_h * h_n).sum()
    t = dict([f64("x", x), f64("out", y), f64("h_n", h_n), f64("loss.w_out", w_out), f64("loss.w_h", w_h)])
    if lstm:
        w_c = det(tuple(c_n.shape), 4.5, 0.5)
        loss = loss + (w_c * c_n).sum()
        t.update([f64("c_n", c_n), f64("loss.w_c", w_c)])
    loss.backward()
    t.update([f64("loss", loss), f64("grad.x", x.grad)])
    if h0 is not None:
        t.update([f64("h0", h0), f64("grad.h0", h0.grad)])
        if c0 is not None:
            t.update([f64("c0", c0), f64("grad.c0", c0.grad)])
    t.update(grad_tensors(rnn))
    md = {"script": "tools/make_fixtures.py", "torch": torch.__version__, "module": repr(rnn),
          "batch_first": str(rnn.batch_first).lower(), "batch": str(B), "seq": str(S)}
    if hasattr(rnn, "nonlinearity"):
        md["nonlinearity"] = rnn.nonlinearity
    save_safetensors(os.path.join(OUT, name + ".safetensors"), t, md)
    save_state_dict(os.path.join(OUT, name + ".state.safetensors"), rnn)
    print(f"{name}: {len(t)} tensors, loss {loss.item():.6f}; state dict {list(rnn.state_dict())[:3]}...")


class TokEncOut(nn.Module):
    """Embedding -> 2-layer LSTM -> Linear on every step, under names that are not embedding/rnn/fc."""

    def __init__(self, vocab, dim, hidden, classes):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.enc = nn.LSTM(dim, hidden, num_layers=2, batch_first=True)
        self.out = nn.Linear(hidden, classes)

    def forward(self, tokens):
        y, (h_n, c_n) = self.enc(self.tok(tokens))
        return self.out(y), h_n, c_n


def composite_case(name):
    V, E, H, C, B, S = 13, 3, 4, 5, 3, 6
    m = TokEncOut(V, E, H, C).double()
    set_weights(m, 0.4)
    tokens = (torch.arange(B * S).reshape(B, S) * 5 + 2) % V
    logits, h_n, c_n = m(tokens)
    w_out = det(tuple(logits.shape), 2.1, 0.5)
    w_h = det(tuple(h_n.shape), 3.3, 0.5)
    w_c = det(tuple(c_n.shape), 4.5, 0.5)
    loss = (w_out * logits).sum() + (w_h * h_n).sum() + (w_c * c_n).sum()
    loss.backward()
    t = dict([i64("tokens", tokens), f64("out", logits), f64("h_n", h_n), f64("c_n", c_n), f64("loss.w_out", w_out),
              f64("loss.w_h", w_h), f64("loss.w_c", w_c), f64("loss", loss)])
    t.update(grad_tensors(m))
    save_safetensors(os.path.join(OUT, name + ".safetensors"), t,
                     {"script": "tools/make_fixtures.py", "torch": torch.__version__, "module": repr(m),
                      "batch": str(B), "seq": str(S)})
    save_state_dict(os.path.join(OUT, name + ".state.safetensors"), m)
    print(f"{name}: {len(t)} tensors, loss {loss.item():.6f}; state dict {list(m.state_dict())}")


BARE_CASES = {  # name: (module factory, batch, seq, with h0/c0)
    "torch_lstm_bi2": (lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), 3, 5, True),
    "torch_gru2": (lambda: nn.GRU(3, 4, num_layers=2), 2, 5, True),  # batch_first=False
    "torch_rnn_relu": (lambda: nn.RNN(3, 4, num_layers=2, bidirectional=True, nonlinearity="relu", batch_first=True), 2, 5, False),
    "torch_gru_nobias": (lambda: nn.GRU(3, 4, bias=False, batch_first=True), 2, 4, False),
    "torch_lstm_proj": (lambda: nn.LSTM(3, 5, num_layers=2, proj_size=2, batch_first=True), 2, 4, True),
}


def state_dict_cases():
    torch.set_grad_enabled(True)
    for name, (make, B, S, init_state) in BARE_CASES.items():
        bare_recurrent_case(name, make(), B, S, init_state=init_state)
    composite_case("torch_tok_enc_out")


def read_safetensors(path):
    """The tensors of a safetensors file (F32, F64, I64) as float64/int64 torch tensors."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        fmt, size = FMT[h["dtype"]]
        b, e = h["data_offsets"]
        vals = [v[0] for v in struct.iter_unpack(fmt, data[b:e])]
        out[name] = torch.tensor(vals, dtype=torch.int64 if h["dtype"] == "I64" else torch.float64).reshape(h["shape"])
    return out


def check_export(folder):
    """PyTorch's side of the round trip: each <name>.export.safetensors in folder (written by PyTorchExport from the
    layers PyTorchImport built) must load into a fresh module with load_state_dict(strict=True) and reproduce the
    fixture's output."""
    mods = {name: make() for name, (make, _, _, _) in BARE_CASES.items()}
    mods["torch_tok_enc_out"] = TokEncOut(13, 3, 4, 5)
    for name, m in mods.items():
        path = os.path.join(folder, name + ".export.safetensors")
        if not os.path.exists(path):
            print(f"{name}: no {path}")
            continue
        m = m.double()
        m.load_state_dict(read_safetensors(path), strict=True)
        ref = read_safetensors(os.path.join(OUT, name + ".safetensors"))
        with torch.no_grad():
            if name == "torch_tok_enc_out":
                y = m(ref["tokens"])[0]
            else:
                hx = None
                if "h0" in ref:
                    hx = (ref["h0"], ref["c0"]) if "c0" in ref else ref["h0"]
                y = m(ref["x"], hx)[0]
        print(f"{name}: load_state_dict(strict=True) OK, max |out - fixture| {(y - ref['out']).abs().max().item():.3g}")


def packed_cases():
    """Packed batches (Rnn.Tests/PackedInteropTests.cs): 2-layer bidirectional LSTM, GRU and tanh/relu RNN over
    pack_padded_sequence(enforce_sorted=False) with unsorted lengths (ties, 1 and S), from given h0 (and c0)."""
    lengths = torch.tensor([4, 6, 2, 6, 1])
    meta = {"packed": "pack_padded_sequence(enforce_sorted=False)", "init_state": "h0, c0"}
    for name, rnn in [
        ("packed_lstm_bi2", nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True)),
        ("packed_gru_bi2", nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True)),
        ("packed_rnn_tanh_bi2", nn.RNN(3, 4, num_layers=2, nonlinearity="tanh", bidirectional=True, batch_first=True)),
        ("packed_rnn_relu_bi2", nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True, batch_first=True)),
    ]:
        recurrent_case(os.path.join(OUT, name + ".safetensors"), rnn, 5, 6, lengths=lengths, init_state=True, meta=meta)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_grad_enabled(True)
    recurrent_case(os.path.join(OUT, "rnn_tanh.safetensors"), nn.RNN(3, 4, nonlinearity="tanh", batch_first=True), 2, 5)
    recurrent_case(os.path.join(OUT, "rnn_relu.safetensors"), nn.RNN(3, 4, nonlinearity="relu", batch_first=True), 2, 5)
    recurrent_case(os.path.join(OUT, "lstm_packed.safetensors"),
                   nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), 3, 5,
                   lengths=torch.tensor([3, 5, 2]), meta={"packed": "pack_padded_sequence(enforce_sorted=False)"})
    recurrent_case(os.path.join(OUT, "gru.safetensors"), nn.GRU(3, 4, num_layers=2, batch_first=True), 2, 5)
    recurrent_case(os.path.join(OUT, "gru_bi.safetensors"), nn.GRU(3, 4, num_layers=1, bidirectional=True, batch_first=True), 2, 4)
    embed_case(os.path.join(OUT, "embed_lstm_fc.safetensors"))
    # States in and out: a 2-layer bidirectional LSTM from given (h0, c0), packed by unsorted lengths.
    recurrent_case(os.path.join(OUT, "lstm_bi_state.safetensors"),
                   nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), 3, 5,
                   lengths=torch.tensor([3, 5, 2]), init_state=True,
                   meta={"packed": "pack_padded_sequence(enforce_sorted=False)", "init_state": "h0, c0"})
    # proj_size: a projected LSTM (P = 2 < H = 5), 2 layers, bidirectional, from given (h0, c0), and one plain layer.
    recurrent_case(os.path.join(OUT, "lstm_proj.safetensors"),
                   nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, batch_first=True), 3, 5,
                   lengths=torch.tensor([4, 5, 2]), init_state=True,
                   meta={"packed": "pack_padded_sequence(enforce_sorted=False)", "init_state": "h0, c0", "proj_size": "2"})
    recurrent_case(os.path.join(OUT, "lstm_proj1.safetensors"),
                   nn.LSTM(4, 6, proj_size=3, batch_first=True), 2, 6, meta={"proj_size": "3"})
    state_dict_cases()
    packed_cases()


if __name__ == "__main__":
    import sys
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2])
    else:
        main()
