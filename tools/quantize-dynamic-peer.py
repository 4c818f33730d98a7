#!/usr/bin/python3
"""PyTorch peer for lstm-infer-1 with int8 weights: torch.quantization.quantize_dynamic on nn.LSTM(128, 256),
batch 1, 100 steps, inference (../shared/WORKLOADS.md's lstm-infer-1), beside the float model on the same input.
Prints one JSON line per engine as ../shared/peers prints them (engine pytorch-int8, and pytorch for the float
model run in the same process), plus the largest output difference between the two on stderr.
    OMP_NUM_THREADS=1 /usr/bin/python3 tools/quantize-dynamic-peer.py --threads 1
"""
import argparse
import json
import math
import statistics
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--quick", action="store_true")
args = ap.parse_args()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(1234)
T, B, I, H = 100, 1, 128, 256
m = nn.LSTM(I, H)
k = 1.0 / math.sqrt(H)
for p in m.parameters():
    nn.init.uniform_(p, -k, k)


class Wrap(nn.Module):  # quantize_dynamic swaps child modules, never the top-level one
    def __init__(self, lstm):
        super().__init__()
        self.lstm = lstm

    def forward(self, x):
        return self.lstm(x)


q = torch.quantization.quantize_dynamic(Wrap(m), {nn.LSTM}, dtype=torch.qint8)
assert type(q.lstm) is not nn.LSTM, "quantize_dynamic left the LSTM in float"

x = torch.randn(T, B, I)
flops = 2 * T * B * 4 * H * (I + H)


def bench(fn):
    for _ in range(3):
        fn()
    t0 = time.perf_counter()
    fn()
    est = time.perf_counter() - t0
    reps = 5 if args.quick else int(min(200, max(10, math.ceil(3.0 / est))))
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


with torch.inference_mode():
    diff = (m(x)[0] - q(x)[0]).abs().max().item()
    print("# quantize_dynamic largest |output difference| vs float: %.3g (outputs up to %.3g)" % (diff, m(x)[0].abs().max().item()), file=sys.stderr)
    for engine, model in (("pytorch", m), ("pytorch-int8", q)):
        ts = bench(lambda: model(x))
        med = statistics.median(ts)
        print(json.dumps({"engine": engine, "version": "%s (debian python3-torch, quantize_dynamic)" % torch.__version__,
                          "workload": "lstm-infer-1", "phase": "fwd", "threads": args.threads,
                          "median_ms": round(med * 1e3, 4), "min_ms": round(min(ts) * 1e3, 4), "reps": len(ts),
                          "flops": flops, "gflops": round(flops / med / 1e9, 3)}), flush=True)
