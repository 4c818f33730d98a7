#!/usr/bin/python3
"""PyTorch peer for the imdb-packed workload: the imdb model at maxlen 400 on real IMDB lengths.

The model is the imdb workload's (Embedding(20000,128) -> LSTM(128) -> h of the last real step -> Linear(128,1) ->
sigmoid -> BCE, Adam lr 1e-3, batch 32), run on the batches of Rnn.Bench/Data/imdb-train-lengths-400.txt (one line =
one batch of 32 real review lengths; the same file Rnn.Bench reads), with random token ids:
  imdb-packed  pack_padded_sequence(enforce_sorted=False): each step runs only the rows still alive;
  imdb-400     padded to 400 (pre-padding, as Keras pads, so the last step is real), every padded step computed.
One timed call runs the first --batches batches (default 16); the figure printed is per training step
(the call's median / batches), with the FLOPs of the real tokens only. Output: one JSON line per workload,
as ../shared/peers prints them.
    OMP_NUM_THREADS=1 /usr/bin/python3 tools/imdb-packed-peer.py --threads 1
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--batches", type=int, default=16)
ap.add_argument("--only", default="")
ap.add_argument("--quick", action="store_true")
ap.add_argument("--lengths", default=os.path.join(HERE, "..", "Rnn.Bench", "Data", "imdb-train-lengths-400.txt"))
args = ap.parse_args()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence  # noqa: E402

torch.set_num_threads(args.threads)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
torch.manual_seed(1234)

B, S, V, E, H = 32, 400, 20000, 128, 128
rows = [[int(v) for v in line.split()] for line in open(args.lengths) if not line.startswith("#") and line.strip()]
batches = rows[:args.batches]
if any(len(r) != B for r in batches):
    sys.exit("each line of %s must hold %d lengths" % (args.lengths, B))


def uniform_init_(module, hidden):
    k = 1.0 / math.sqrt(hidden)
    for p in module.parameters():
        nn.init.uniform_(p, -k, k)


emb = nn.Embedding(V, E)
lstm = nn.LSTM(E, H, batch_first=True)
uniform_init_(lstm, H)
fc = nn.Linear(H, 1)
params = list(emb.parameters()) + list(lstm.parameters()) + list(fc.parameters())
opt = torch.optim.Adam(params, lr=1e-3)
data = []
for lens in batches:
    L = torch.tensor(lens, dtype=torch.int64)
    post = torch.zeros(B, S, dtype=torch.int64)  # post-padded for packing
    pre = torch.zeros(B, S, dtype=torch.int64)   # pre-padded for the padded run
    for b, n in enumerate(lens):
        ids = torch.randint(1, V, (n,))
        post[b, :n] = ids
        pre[b, S - n:] = ids
    data.append((L, post, pre, torch.randint(0, 2, (B, 1)).float()))


def step_packed(L, post, pre, y):
    opt.zero_grad(set_to_none=True)
    packed = pack_padded_sequence(emb(post), L, batch_first=True, enforce_sorted=False)
    _, (h, _) = lstm(packed)  # h: (1, B, H) in the caller's order, each row's last real step
    loss = F.binary_cross_entropy(torch.sigmoid(fc(h[-1])), y)
    loss.backward()
    opt.step()


def step_padded(L, post, pre, y):
    opt.zero_grad(set_to_none=True)
    out, _ = lstm(emb(pre))
    loss = F.binary_cross_entropy(torch.sigmoid(fc(out[:, -1])), y)
    loss.backward()
    opt.step()


def call(step):
    def run():
        for d in data:
            step(*d)
    return run


def bench(fn, quick):
    fn()  # warm-up
    t0 = time.perf_counter()
    fn()
    est = time.perf_counter() - t0
    reps = 3 if quick else int(min(30, max(5, math.ceil(1.0 / est))))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


tokens = sum(sum(b) for b in batches)
# Real tokens only: LSTM fwd 2·4H·(E+H) per token, bwd twice that plus the input gradient, and the head.
flops_step = (2 * 4 * H * (E + H) * 3 + 2 * 4 * H * E) * tokens / len(batches) + 3 * 2 * B * H
version = "%s (debian python3-torch)" % torch.__version__
only = set(filter(None, args.only.split(",")))
for name, step in (("imdb-packed", step_packed), ("imdb-400", step_padded)):
    if only and name not in only:
        continue
    ts = [t / len(batches) for t in bench(call(step), args.quick)]
    med = statistics.median(ts)
    print(json.dumps({"engine": "pytorch", "version": version, "workload": name, "phase": "train_step",
                      "threads": args.threads, "median_ms": round(med * 1e3, 4), "min_ms": round(min(ts) * 1e3, 4),
                      "reps": len(ts), "batches": len(batches), "flops": int(flops_step),
                      "gflops": round(flops_step / med / 1e9, 3)}), flush=True)
