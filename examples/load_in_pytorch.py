"""Load a glimpse run into PyTorch and follow its policy on one image.

    pip install torch safetensors   # or: apt-get install python3-torch python3-safetensors
    python3 examples/load_in_pytorch.py checkpoints/mnist-classification/model.safetensors

model.safetensors names and shapes its tensors as nn.Linear has them (fc1.weight is
(out, in)), so load_state_dict takes them as they are; the probes' tensors carry a "vae." or
"classprobe." prefix and are left out here. Its metadata "config" holds the run config (sizes, glimpses).
This mirrors glimpse's RAM with the rnn core and one retina scale (the default config).
"""
import json
import sys

# The probes' tensors (VAE probe, class probe) are not part of the RAM.
PROBE_PREFIXES = ("vae.", "classprobe.")

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


class RAM(nn.Module):
    def __init__(self, m):
        super().__init__()
        if m["core"] != "rnn" or m["scales"] != 1:
            raise SystemExit("this example covers the rnn core with one retina scale")
        self.m = m
        g2 = m["patch"] * m["patch"]
        self.fc1 = nn.Linear(g2, m["glimpseHidden"])
        self.fc2 = nn.Linear(2, m["locationHidden"])
        self.fc3 = nn.Linear(m["glimpseHidden"], m["glimpseOut"])
        self.fc4 = nn.Linear(m["locationHidden"], m["glimpseOut"])
        self.i2h = nn.Linear(m["glimpseOut"], m["hidden"])
        self.h2h = nn.Linear(m["hidden"], m["hidden"])
        self.loc1 = nn.Linear(m["hidden"], m["policyHidden"])
        self.loc2 = nn.Linear(m["policyHidden"], 2)
        self.base = nn.Linear(m["hidden"], 1)
        self.cls = nn.Linear(m["hidden"], m["classes"])

    def retina(self, x, l):
        """The g×g patch whose top-left is floor((l+1)/2·size) − g//2; outside reads 0."""
        g, (b, hgt, wid) = self.m["patch"], x.shape
        xp = F.pad(x, (g, g, g, g))
        col = torch.floor((l[:, 0] + 1) / 2 * wid).long() - g // 2 + g
        row = torch.floor((l[:, 1] + 1) / 2 * hgt).long() - g // 2 + g
        r = torch.arange(g)
        rows, cols = row[:, None] + r, col[:, None] + r
        return xp[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]].reshape(b, -1)

    @torch.no_grad()
    def explain(self, x):
        """Mean policy from the centre: per glimpse the location and log p (B, C)."""
        h = torch.zeros(x.shape[0], self.m["hidden"])
        l = torch.zeros(x.shape[0], 2)
        steps = []
        for _ in range(self.m["glimpses"]):
            hg, hl = F.relu(self.fc1(self.retina(x, l))), F.relu(self.fc2(l))
            g = F.relu(self.fc3(hg) + self.fc4(hl))
            h = F.relu(self.i2h(g) + self.h2h(h))
            steps.append((l, F.log_softmax(self.cls(h), 1)))
            l = torch.tanh(self.loc2(F.relu(self.loc1(h)))).clamp(-1, 1)
        return steps


def main(path):
    with safe_open(path, "pt") as f:
        config = json.loads(f.metadata()["config"])
    model = RAM(config["model"])
    tensors = load_file(path)
    model.load_state_dict({k: v for k, v in tensors.items() if not k.startswith(PROBE_PREFIXES)})
    x = torch.zeros(1, config["model"]["height"], config["model"]["width"])
    x[0, 6:22, 13:15] = 1.0  # a "1"
    for t, (l, logp) in enumerate(model.explain(x), 1):
        p, c = logp.exp().max(1)
        print(f"glimpse {t}: at ({l[0, 0]:+.3f}, {l[0, 1]:+.3f}) predicts {int(c)} (p = {float(p):.3f})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "checkpoints/mnist-classification/model.safetensors")
