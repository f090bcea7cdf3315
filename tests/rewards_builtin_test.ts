/**
 * The built-in rewards and the example plugin against hand-computed rewards, the credit
 * assignment of shared DESIGN.md, and the contract's own checks: defineReward, option parsing
 * and the output check. All in-process (the sandbox has its own test file).
 */
import assert from "node:assert/strict";
import { assertClose } from "./_assert.ts";
import classification from "../rewards/classification.ts";
import entropy, { entropies } from "../rewards/entropy.ts";
import saccade from "../examples/saccade_reward.ts";
import { defineReward, RewardError } from "../rewards/define.ts";
import { optionTable, resolveRewardOptions } from "../rewards/options.ts";
import { bindReward, checkRewardOutput, REWARD_BOUND } from "../rewards/check.ts";
import { syntheticEpisodes } from "../rewards/synthetic.ts";
import { returnsFromRewards } from "../ram/returns.ts";
import type { Episodes } from "../rewards/types.ts";

/** T = 2 glimpses, B = 2 samples, C = 2 classes, written out by hand. */
function twoByTwo(): Episodes {
  return {
    T: 2,
    B: 2,
    C: 2,
    // (T, B, C): glimpse 1: (0.5, 0.5), (0.9, 0.1); glimpse 2: (1, 0), (0.2, 0.8)
    probs: new Float32Array([0.5, 0.5, 0.9, 0.1, 1, 0, 0.2, 0.8]),
    labels: new Int32Array([0, 0]),
    predictions: new Int32Array([0, 0, 0, 1]), // (T, B): sample 1 ends wrong
    locations: new Float32Array(8),
  };
}

Deno.test("classification pays 1 at the last glimpse for a correct prediction only", () => {
  const T = 3, B = 4;
  const ep: Episodes = {
    T,
    B,
    C: 3,
    probs: new Float32Array(T * B * 3).fill(1 / 3),
    labels: new Int32Array([0, 1, 2, 1]),
    // right early but wrong at the end for sample 0; wrong early, right at the end for 1 and 3
    predictions: new Int32Array([0, 0, 2, 0, 0, 1, 2, 1, 1, 1, 0, 1]),
    locations: new Float32Array(T * B * 2),
  };
  const r = classification.reward(ep, {}) as Float32Array;
  assert.deepEqual([...r], [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]);
});

Deno.test("entropy reward matches the hand-computed β·(H_{t−1} − H_t) plus classification", () => {
  const ln2 = Math.log(2);
  const h09 = -(0.9 * Math.log(0.9) + 0.1 * Math.log(0.1)); // 0.325083
  const h02 = -(0.2 * Math.log(0.2) + 0.8 * Math.log(0.8)); // 0.500402
  // sample 0: H_0 = ln 2, H_1 = ln 2, H_2 = 0 (one-hot; 0·ln 0 = 0), right at the end
  // sample 1: H_0 = ln 2, H_1 = h09, H_2 = h02, wrong at the end
  const expected = (beta: number) => [
    beta * (ln2 - ln2),
    beta * (ln2 - h09),
    beta * (ln2 - 0) + 1,
    beta * (h09 - h02),
  ];
  assertClose(entropy.reward(twoByTwo(), { beta: 0.5 }) as Float32Array, expected(0.5), {
    label: "β = 0.5",
  });
  assertClose(entropy.reward(twoByTwo(), { beta: 2 }) as Float32Array, expected(2), {
    label: "β = 2",
  });
  // β = 0 is the classification reward
  assertClose(
    entropy.reward(twoByTwo(), { beta: 0 }) as Float32Array,
    classification.reward(twoByTwo(), {}) as Float32Array,
    { atol: 0, rtol: 0, label: "β = 0" },
  );
  assert.equal(entropy.options.beta.default, 0.5, "DESIGN.md: β = 0.5 by default");
});

Deno.test("entropy shaping telescopes to β·(ln C − H_T) per episode", () => {
  const ep = syntheticEpisodes({ T: 6, B: 33, C: 10, seed: 7 });
  const beta = 0.5;
  const r = entropy.reward(ep, { beta }) as Float32Array;
  const c = classification.reward(ep, {}) as Float32Array;
  const H = entropies(ep.T, ep.B, ep.C, ep.probs);
  const got: number[] = [], want: number[] = [];
  for (let b = 0; b < ep.B; b++) {
    let s = 0;
    for (let t = 0; t < ep.T; t++) s += r[t * ep.B + b] - c[t * ep.B + b];
    got.push(s);
    want.push(beta * (Math.log(ep.C) - H[(ep.T - 1) * ep.B + b]));
  }
  assertClose(got, want, { atol: 1e-5, label: "Σ_t shaping" });
});

Deno.test("entropy reward stays finite on one-hot, zero and tiny probabilities", () => {
  const ep: Episodes = {
    T: 2,
    B: 1,
    C: 3,
    probs: new Float32Array([1, 0, 0, 1e-38, 1 - 1e-7, 1e-7]),
    labels: new Int32Array([1]),
    predictions: new Int32Array([0, 1]),
    locations: new Float32Array(4),
  };
  const r = checkRewardOutput("entropy", 2, 1, entropy.reward(ep, { beta: 0.5 }));
  assertClose([r[0]], [0.5 * Math.log(3)], { label: "H_1 = 0" });
});

Deno.test("saccade example pays classification plus weight·(1 − d/radius) for short hops", () => {
  const ep: Episodes = {
    T: 3,
    B: 2,
    C: 2,
    probs: new Float32Array(12).fill(0.5),
    labels: new Int32Array([1, 0]),
    predictions: new Int32Array([0, 0, 0, 0, 1, 1]), // sample 0 right at the end, 1 wrong
    // (T, B, 2): sample 0 hops 0.5 then 0.1; sample 1 stays put, then jumps 2
    locations: new Float32Array([0, 0, 0, 0, 0.3, 0.4, 0, 0, 0.3, 0.5, 1, 1.7320508]),
  };
  const r = saccade.reward(ep, { weight: 0.05, radius: 0.5 }) as Float32Array;
  // d = 0.5 is not shorter than the radius: no bonus; d = 0.1 earns 0.05·(1 − 0.2) = 0.04
  assertClose(r, [0, 0, 0, 0.05, 1 + 0.04, 0], { label: "saccade rewards" });
});

Deno.test("a reward at glimpse t reaches only the actions a_1..a_{t−1} (DESIGN.md)", () => {
  const T = 5, B = 2;
  for (let t = 1; t <= T; t++) {
    const r = new Float32Array(T * B);
    r[(t - 1) * B + 1] = 1; // reward only at glimpse t, sample 1
    const G = returnsFromRewards(T, B, r); // (T−1, B): action a_s is credited with G_{s+1}
    for (let s = 1; s < T; s++) {
      assert.equal(G[(s - 1) * B + 1], s < t ? 1 : 0, `reward at glimpse ${t}, action a_${s}`);
      assert.equal(G[(s - 1) * B + 0], 0, "other samples get nothing");
    }
  }
  // With the entropy reward: making glimpse T more certain changes only r_T, so only the
  // returns of actions whose successors include glimpse T (all of them) move, by the same amount.
  const ep = syntheticEpisodes({ T, B: 1, C: 4, seed: 3 });
  const before = returnsFromRewards(T, 1, entropy.reward(ep, { beta: 0.5 }) as Float32Array);
  const last = (T - 1) * 4;
  ep.probs.set([0.97, 0.01, 0.01, 0.01], last);
  const after = returnsFromRewards(T, 1, entropy.reward(ep, { beta: 0.5 }) as Float32Array);
  const shift = after.map((g, i) => g - before[i]);
  assert.ok(Math.abs(shift[0]) > 1e-3, "the change reaches a_1");
  assertClose(shift, new Array(T - 1).fill(shift[0]), { label: "same shift for every action" });
});

Deno.test("defineReward checks the definition and types the options from the defaults", () => {
  const def = defineReward({
    name: "typed",
    description: "typed options",
    options: { w: 0.5, on: { default: true, description: "switch" }, tag: "a" },
    reward: ({ T, B }, o) => {
      const w: number = o.w, on: boolean = o.on, tag: string = o.tag;
      // @ts-expect-error: no such option
      void o.nope;
      return new Float32Array(T * B).fill(on && tag ? w : 0);
    },
  });
  assert.ok(Object.isFrozen(def) && Object.isFrozen(def.options));
  assert.deepEqual(optionTable(def.options), {
    w: { type: "number", default: 0.5, description: "" },
    on: { type: "boolean", default: true, description: "switch" },
    tag: { type: "string", default: "a", description: "" },
  });
  const bad = (d: unknown, re: RegExp) =>
    assert.throws(() => defineReward(d as Parameters<typeof defineReward>[0]), re);
  bad({ name: "", description: "", reward: () => [] }, /"name" must be a non-empty string/);
  bad({ name: "x", description: "d" }, /reward "x": defineReward: "reward" must be a function/);
  bad({ name: "x", description: "d", options: { w: NaN }, reward: () => [] }, /must be finite/);
  bad({ name: "x", description: "d", options: { w: [1] }, reward: () => [] }, /number, boolean/);
  bad(
    { name: "x", description: "d", options: { w: { default: 1, help: "" } }, reward: () => [] },
    /unknown field "help"/,
  );
});

Deno.test("--reward-opt values parse by the type of their default; mistakes name the key", () => {
  const table = optionTable({ beta: 0.5, on: false, tag: "a" });
  assert.deepEqual(resolveRewardOptions("entropy", table, []), { beta: 0.5, on: false, tag: "a" });
  assert.deepEqual(
    resolveRewardOptions("entropy", table, ["beta=-1e-2", "on=true", "tag=x=y"]),
    { beta: -0.01, on: true, tag: "x=y" },
  );
  assert.deepEqual(resolveRewardOptions("entropy", table, { beta: 2 }), {
    beta: 2,
    on: false,
    tag: "a",
  });
  const fails = (given: string[] | Record<string, unknown>, msg: string) =>
    assert.throws(() => resolveRewardOptions("my.ts", table, given), (e) => {
      assert.ok(e instanceof RewardError);
      assert.equal(e.message, msg);
      return true;
    });
  fails(["gamma=1"], `reward "my.ts": unknown option "gamma" (its options: beta, on, tag)`);
  fails(["beta=abc"], `reward "my.ts": option "beta" must be a number, got "abc"`);
  fails(["beta="], `reward "my.ts": option "beta" must be a number, got ""`);
  fails(["beta=Infinity"], `reward "my.ts": option "beta" must be a number, got "Infinity"`);
  fails(["on=yes"], `reward "my.ts": option "on" must be a boolean, got "yes"`);
  fails(["beta"], `reward "my.ts": --reward-opt "beta" is not key=value`);
  fails(["beta=1", "beta=2"], `reward "my.ts": option "beta" given twice`);
  fails({ beta: "1" }, `reward "my.ts": option "beta" must be a number, got 1`);
  assert.throws(
    () => resolveRewardOptions("classification", {}, ["x=1"]),
    /unknown option "x" \(it takes no options\)/,
  );
});

Deno.test("output check: wrong type, wrong length, the first non-finite or out-of-bound value", () => {
  assert.throws(() => checkRewardOutput("p", 2, 3, "x"), /reward "p": returned string/);
  assert.throws(() => checkRewardOutput("p", 2, 3, new Int32Array(6)), /returned Int32Array/);
  assert.throws(
    () => checkRewardOutput("p", 2, 3, new Float32Array(5)),
    /^RewardError: reward "p": wrong shape: returned 5 values, expected T·B = 2·3 = 6$/m,
  );
  assert.throws(() => checkRewardOutput("p", 2, 3, [0, 0, 0, 0, NaN, 0]), {
    message: `reward "p": NaN at glimpse 2 sample 1`,
  });
  assert.throws(() => checkRewardOutput("p", 2, 3, [0, 0, -Infinity, 0, NaN, 0]), {
    message: `reward "p": -Infinity at glimpse 1 sample 2`,
  });
  // checked as given, before float32 (where 1e300 would read "Infinity"), against ±REWARD_BOUND
  const beyond = "(beyond the reward bound ±1000000)";
  assert.throws(() => checkRewardOutput("p", 1, 1, new Float64Array([1e300])), {
    message: `reward "p": 1e+300 at glimpse 1 sample 0 ${beyond}`,
  });
  assert.throws(() => checkRewardOutput("p", 1, 2, [1e6, -1.5e6]), {
    message: `reward "p": -1500000 at glimpse 1 sample 1 ${beyond}`,
  });
  assert.equal(REWARD_BOUND, 1e6);
  assert.equal(checkRewardOutput("p", 1, 2, [1e6, -1e6])[1], -1e6, "the bound itself passes");
  const r = checkRewardOutput("p", 1, 2, [0.5, 1]);
  assert.ok(r instanceof Float32Array && r[0] === 0.5);
});

Deno.test("bindReward runs a definition in-process with the same checks", async () => {
  const ep = syntheticEpisodes({ T: 3, B: 4, C: 5, seed: 2 });
  const fn = bindReward(entropy, { beta: 0.5 }, "entropy");
  assertClose(await fn(ep), entropy.reward(ep, { beta: 0.5 }) as Float32Array);
  const throws = defineReward({
    name: "t",
    description: "",
    reward: () => {
      throw new TypeError("bad input");
    },
  });
  assert.throws(() => bindReward(throws, {}, "t.ts")(ep), {
    message: `reward "t.ts": threw TypeError: bad input`,
  });
  const async = defineReward({
    name: "a",
    description: "",
    reward: () => Promise.resolve(new Float32Array(1)),
  });
  await assert.rejects(async () => await bindReward(async, {}, "a.ts")(ep), /wrong shape/);
  assert.throws(
    () => bindReward(entropy, { beta: 0.5 })({ ...ep, labels: new Int32Array(3) }),
    /reward "entropy": episodes: labels has 3 values, expected 4/,
  );
});
