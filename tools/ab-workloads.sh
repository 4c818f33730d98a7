#!/usr/bin/env bash
# Alternating A/B of `Rnn.Bench workloads` between two checkouts, each built in Release beforehand
# (`dotnet build Rnn.Bench -c Release` in each). Runs ROUNDS rounds at 1 and 2 threads, the order of the two builds
# swapped every round, 1-thread runs pinned to one CPU (PIN_CPU), and prints each row's median over the rounds.
#   usage: tools/ab-workloads.sh OLD_CHECKOUT NEW_CHECKOUT [--only a,b]     (ROUNDS=10 PIN_CPU=1 by default)
set -euo pipefail
old=$1; new=$2; shift 2
only=(); [ "${1:-}" = --only ] && only=(--only "$2")
rounds=${ROUNDS:-10}; pin=${PIN_CPU:-1}
out=$(mktemp -d)
dll=Rnn.Bench/bin/Release/net10.0/Rnn.Bench.dll
for r in $(seq 1 "$rounds"); do
  for t in 1 2; do
    cpus=$pin; [ "$t" = 2 ] && cpus=0,1
    if [ $((r % 2)) = 0 ]; then order="new old"; else order="old new"; fi
    for b in $order; do
      dir=$old; [ "$b" = new ] && dir=$new
      taskset -c "$cpus" dotnet "$dir/$dll" workloads --threads "$t" "${only[@]}" > "$out/$b-t$t-r$r.json"
    done
  done
done
# Median over the rounds of each row's median_ms, and new/old (rows of other engines, e.g. rnn-int8, keyed apart).
printf "%-28s %10s %10s %8s\n" "workload phase threads" "old ms" "new ms" "new/old"
awk -v RS='\n' 'BEGIN{FS="[:,\"]+"} /"build"/ {
    for (i = 1; i < NF; i++) { if ($i == "build") b = $(i+1); if ($i == "workload") w = $(i+1); if ($i == "phase") p = $(i+1);
      if ($i == "threads") t = $(i+1); if ($i == "median_ms") m = $(i+1); if ($i == "engine") e = $(i+1) }
    key = (e == "rnn" ? "" : e " ") w " " p " " t; v[b, key, ++n[b, key]] = m; keys[key] = 1 }
  function med(b, k,   a, i, j, c, x) { c = n[b, k]; for (i = 1; i <= c; i++) { x = v[b, k, i] + 0; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2 }
  END { for (k in keys) { o = n["old", k] ? med("old", k) : 0; w = n["new", k] ? med("new", k) : 0
      if (o > 0 && w > 0) printf "%-28s %10.3f %10.3f %8.3f\n", k, o, w, w / o
      else { os = "-"; ws = "-"; if (o > 0) os = sprintf("%.3f", o); if (w > 0) ws = sprintf("%.3f", w); printf "%-28s %10s %10s %8s\n", k, os, ws, "-" } } }' \
  <(for f in "$out"/*.json; do b=$(basename "$f" | cut -d- -f1); sed "s/^{/{\"build\":\"$b\",/" "$f"; done) | sort
echo "raw runs: $out"
