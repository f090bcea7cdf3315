/**
 * The early-information reward and the seed's shifted entropy reward (examples/) against
 * hand-computed rewards, and what each credits an action with under the trainer's returns
 * G_{t+1} = Σ_{k>t} r_k (ram/returns.ts).
 */
import assert from "node:assert/strict";
import { assertClose } from "./_assert.ts";
import early from "../rewards/early.ts";
import { listBuiltinRewards, resolveRewardSpec } from "../rewards/loader.ts";
import entropy, { entropies } from "../rewards/entropy.ts";
import seedShifted, { shiftOneGlimpse } from "../examples/seed_shifted_reward.ts";
import { syntheticEpisodes } from "../rewards/synthetic.ts";
import { returnsFromRewards } from "../ram/returns.ts";
import type { Episodes } from "../rewards/types.ts";
import { glimpse } from "./_cli.ts";

/** T = 3 glimpses, B = 2 samples, C = 2 classes, written out by hand. */
function threeByTwo(): Episodes {
  return {
    T: 3,
    B: 2,
    C: 2,
    // (T, B, C): glimpse 1: (0.5, 0.5), (0.9, 0.1); 2: (0.8, 0.2), (0.5, 0.5); 3: (1, 0), (0.2, 0.8)
    probs: new Float32Array([0.5, 0.5, 0.9, 0.1, 0.8, 0.2, 0.5, 0.5, 1, 0, 0.2, 0.8]),
    labels: new Int32Array([0, 0]),
    predictions: new Int32Array([0, 0, 0, 0, 0, 1]), // (T, B): sample 1 ends wrong
    locations: new Float32Array(12),
  };
}

const H2 = (p: number) => -(p * Math.log(p) + (1 - p) * Math.log(1 - p));

Deno.test("early-information pays −β·H_t at every glimpse plus 1 at T for a right prediction", () => {
  const ln2 = Math.log(2);
  for (const beta of [0.1, 2]) {
    const r = early.reward(threeByTwo(), { beta }) as Float32Array;
    // (T, B): sample 0 H = ln 2, H(0.8), 0 and right; sample 1 H = H(0.9), ln 2, H(0.2), wrong
    assertClose(r, [
      -beta * ln2,
      -beta * H2(0.9),
      -beta * H2(0.8),
      -beta * ln2,
      1 - 0,
      -beta * H2(0.2),
    ], { atol: 1e-6, label: `β = ${beta}` });
  }
  assert.equal(early.name, "early-information");
  assert.equal(early.options.beta.default, 0.1);
});

Deno.test("early-information credits a_t with 1[correct] − β·Σ_{k>t} H_k; entropy with 1[correct] + βH_t − βH_T", () => {
  const ep = syntheticEpisodes({ T: 6, B: 17, C: 10, seed: 3 });
  const { T, B } = ep, beta = 0.3;
  const H = entropies(T, B, ep.C, ep.probs);
  const right = (b: number) => ep.predictions[(T - 1) * B + b] === ep.labels[b] ? 1 : 0;
  const Ge = returnsFromRewards(T, B, early.reward(ep, { beta }) as Float32Array);
  const Gs = returnsFromRewards(T, B, entropy.reward(ep, { beta }) as Float32Array);
  const wantE: number[] = [], wantS: number[] = [];
  for (let t = 1; t < T; t++) { // action a_t at index t−1
    for (let b = 0; b < B; b++) {
      let later = 0;
      for (let k = t; k < T; k++) later += H[k * B + b];
      wantE.push(right(b) - beta * later);
      wantS.push(right(b) + beta * H[(t - 1) * B + b] - beta * H[(T - 1) * B + b]);
    }
  }
  assertClose(Ge, wantE, { atol: 1e-5, label: "early returns" });
  assertClose(Gs, wantS, { atol: 1e-5, label: "entropy returns (telescoped)" });
});

Deno.test("seed-shifted entropy moves rewards one glimpse later: a_t is credited with Σ_{k≥t} r_k", async () => {
  assert.deepEqual([...shiftOneGlimpse(3, 1, [1, 2, 3])], [0, 1, 5]);
  assert.deepEqual([...shiftOneGlimpse(1, 2, [4, 5])], [4, 5]);
  // (T = 2, B = 2): r'_1 = 0, r'_2 = r_1 + r_2
  assert.deepEqual([...shiftOneGlimpse(2, 2, [1, 2, 3, 4])], [0, 0, 4, 6]);
  const ep = threeByTwo(), beta = 0.5, ln2 = Math.log(2);
  const r = await seedShifted.reward(ep, { beta });
  // the entropy reward of threeByTwo: sample 0: 0, β(ln 2 − H(0.8)), β·H(0.8) + 1;
  // sample 1: β(ln 2 − H(0.9)), β(H(0.9) − ln 2), β(ln 2 − H(0.2))
  const r0 = [0, beta * (ln2 - H2(0.8)), beta * H2(0.8) + 1];
  const r1 = [beta * (ln2 - H2(0.9)), beta * (H2(0.9) - ln2), beta * (ln2 - H2(0.2))];
  assertClose(r as Float32Array, [0, 0, r0[0], r1[0], r0[1] + r0[2], r1[1] + r1[2]], {
    atol: 1e-6,
    label: "shifted rewards",
  });
  // credit: G'_{t+1} = Σ_{k≥t} r_k = 1[correct] + βH_{t−1} − βH_T, H_0 = ln C
  const syn = syntheticEpisodes({ T: 6, B: 9, C: 10, seed: 5 });
  const { T, B } = syn;
  const H = entropies(T, B, syn.C, syn.probs);
  const G = returnsFromRewards(T, B, await seedShifted.reward(syn, { beta }) as Float32Array);
  const want: number[] = [];
  for (let t = 1; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const before = t === 1 ? Math.log(syn.C) : H[(t - 2) * B + b];
      const right = syn.predictions[(T - 1) * B + b] === syn.labels[b] ? 1 : 0;
      want.push(right + beta * before - beta * H[(T - 1) * B + b]);
    }
  }
  assertClose(G, want, { atol: 1e-5, label: "seed-shifted returns" });
});

Deno.test("deno task rewards check passes early-information and the seed-shifted example", async () => {
  for (
    const [file, name] of [
      ["rewards/early.ts", "early-information"],
      ["examples/seed_shifted_reward.ts", "seed-shifted-entropy"],
    ]
  ) {
    const r = await glimpse("rewards", "check", file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^reward "${file}": ${name} — `, "m"));
    assert.match(r.stdout, /output: \(6, 128\) Float32Array, all finite/);
  }
});

Deno.test("early-information is a built-in name that loads in the sandbox", async () => {
  const spec = await resolveRewardSpec("early-information");
  assert.equal(spec.builtin, true);
  assert.ok(spec.url.endsWith("/rewards/early.ts"), spec.url);
  const names = (await listBuiltinRewards()).map((r) => r.name);
  assert.ok(names.includes("early-information"), names.join(", "));
});
