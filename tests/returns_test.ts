import assert from "node:assert/strict";
import {
  baselineLoss,
  meanEpisodeReward,
  reinforceLoss,
  returnsFromRewards,
} from "../ram/returns.ts";
import { assertClose, randomArray } from "./_assert.ts";

Deno.test("action a_t is credited with the rewards of glimpses t+1..T", () => {
  const T = 4, B = 2;
  // r (T, B): sample 0 gets 1, 2, 4, 8 at glimpses 1..4; sample 1 gets 10 at glimpse 2 only.
  const r = new Float32Array([1, 0, 2, 10, 4, 0, 8, 0]);
  const G = returnsFromRewards(T, B, r);
  // a_1: r2+r3+r4, a_2: r3+r4, a_3: r4; r1 follows no action and is never credited.
  assert.deepEqual([...G], [14, 10, 12, 0, 8, 0]);
});

Deno.test("returns agree with a direct sum for random rewards and handle T = 1", () => {
  const T = 5, B = 3;
  const r = randomArray(T * B, 4, -2, 2);
  const G = returnsFromRewards(T, B, r);
  for (let t = 1; t < T; t++) {
    for (let b = 0; b < B; b++) {
      let s = 0;
      for (let k = t + 1; k <= T; k++) s += r[(k - 1) * B + b];
      assertClose([G[(t - 1) * B + b]], [s], { atol: 1e-6, label: `G for a_${t}, sample ${b}` });
    }
  }
  assert.equal(returnsFromRewards(1, 3, new Float32Array(3)).length, 0);
  assert.equal(baselineLoss(new Float32Array(0), new Float32Array(0)), 0);
  assert.throws(() => returnsFromRewards(2, 3, new Float32Array(5)), /5 rewards, expected T·B/);
});

Deno.test("baseline and REINFORCE terms average as documented", () => {
  // two action steps, two samples
  const b = new Float32Array([0.5, 0, 1, 2]);
  const G = new Float32Array([1, 0, 0, 2]);
  // mean over 4 steps of (b − G)²: (0.25 + 0 + 1 + 0) / 4
  assertClose([baselineLoss(b, G)], [0.3125], { label: "baseline MSE" });
  const logpi = new Float32Array([-1, -2, -3, -4]);
  // λ/B · Σ −logπ·(G − b) = 0.1/2 · (0.5 + 0 + (−3) + 0)
  assertClose([reinforceLoss(2, logpi, b, G, 0.1)], [-0.125], { label: "REINFORCE" });
  assert.equal(meanEpisodeReward(2, new Float32Array([1, 0, 2, 1])), 2);
  assert.throws(() => baselineLoss(b, new Float32Array(3)), /4 baselines, 3 returns/);
});
