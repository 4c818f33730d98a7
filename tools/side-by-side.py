#!/usr/bin/env python3
"""Side-by-side table of a peers run (shared/peers/run-all.sh with ENGINE_CMD) for docs/BENCHMARKS.md.

    python3 tools/side-by-side.py RESULTS.jsonl

Each cell: the best median over the run's passes, in ms, 1 thread -> 2 threads (the speed-up). The last two columns
are the best peer's time over ours (float32 rows; higher is better for us) at 1 and at 2 threads. Peers are pytorch,
torchsharp and onnxruntime (their int8 engine is shown but not a float32 peer); rnn-bf16 and rnn-int8 are shown
beside ours.
"""
import json
import sys

PEERS = ["pytorch", "torchsharp", "onnxruntime"]
COLUMNS = [("PyTorch", "pytorch"), ("TorchSharp", "torchsharp"), ("ONNX Runtime", "onnxruntime"),
           ("ORT int8", "onnxruntime-int8"), ("Rnn", "rnn"), ("Rnn bf16", "rnn-bf16"), ("Rnn int8", "rnn-int8")]


def main(path):
    best = {}
    order = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "median_ms" not in r or r.get("phase") == "peak":
                continue
            key = (r["engine"], r["workload"], r["phase"], int(r["threads"]))
            best[key] = min(best.get(key, float("inf")), float(r["median_ms"]))
            row = (r["workload"], r["phase"])
            if row not in order:
                order.append(row)

    def cell(engine, w, p):
        a, b = best.get((engine, w, p, 1)), best.get((engine, w, p, 2))
        if a is None and b is None:
            return "–"
        fmt = lambda v: "–" if v is None else (f"{v:.1f}" if v >= 100 else f"{v:.3f}")
        s = f"{fmt(a)} → {fmt(b)}"
        if a and b:
            s += f" ({a / b:.2f}×)"
        return s

    head = "| workload | phase | " + " | ".join(c for c, _ in COLUMNS) + " | best peer / Rnn, 1 thread | 2 threads |"
    print(head)
    print("|" + "---|" * (len(COLUMNS) + 4))
    for w, p in order:
        ratios = []
        for t in (1, 2):
            ours = best.get(("rnn", w, p, t))
            peers = [best[(e, w, p, t)] for e in PEERS if (e, w, p, t) in best]
            ratios.append(f"{min(peers) / ours:.2f}×" if ours and peers else "–")
        print(f"| {w} | {p} | " + " | ".join(cell(e, w, p) for _, e in COLUMNS) + f" | {ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: side-by-side.py RESULTS.jsonl")
    main(sys.argv[1])
