#!/usr/bin/env python3
"""Evaluation throughput of the PyTorch peer (shared/peer/ram_torch.py), for bench/peer.ts.

The peer prints training images/s but does not time its evaluation, so this loads the peer's
own model and test split (running the script with --epochs 0, which trains nothing) and times
forward passes over the test images in batches of --batch (128, as glimpse's evaluate does),
under torch.no_grad() and m.eval() exactly as the peer evaluates.

Usage: /usr/bin/python3 bench/peer_eval.py PEER.py DIGITS_DIR [--passes 2] [--batch 128]
       [--threads 2]
Prints one JSON line: {"evalImagesPerSecond", "evalImagesPerCpuSecond" (process CPU time, all
threads), "images", "seconds"}.
"""
import json
import runpy
import sys
import time

peer, digits = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
passes = int(rest[rest.index("--passes") + 1]) if "--passes" in rest else 2
batch = int(rest[rest.index("--batch") + 1]) if "--batch" in rest else 128
threads = rest[rest.index("--threads") + 1] if "--threads" in rest else "2"

sys.argv = [peer, "--digits", digits, "--epochs", "0", "--threads", threads]
g = runpy.run_path(peer, run_name="__main__")
torch, m, Xte = g["torch"], g["m"], g["Xte"]
m.eval()
with torch.no_grad():
    m(Xte[:batch])  # warm-up
    t0, c0 = time.time(), time.process_time()
    n = 0
    for _ in range(passes):
        for i in range(0, len(Xte), batch):
            m(Xte[i:i + batch])
            n += len(Xte[i:i + batch])
    dt, cpu = time.time() - t0, time.process_time() - c0
print(json.dumps({
    "evalImagesPerSecond": n / dt,
    "evalImagesPerCpuSecond": n / cpu,
    "images": n,
    "seconds": dt,
}), flush=True)
