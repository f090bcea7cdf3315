/**
 * `deno task rewards`: lists the built-in rewards with their options; `deno task rewards check
 * PLUGIN` loads a plugin in the sandbox, runs it on a synthetic batch and prints the shape and
 * range of what it returned. Both return their report as text (cli.ts prints it); a failing
 * plugin throws a RewardError naming it.
 *
 * @module
 */
import {
  invocationDir,
  listBuiltinRewards,
  loadReward,
  parseRewardTimeout,
} from "../rewards/loader.ts";
import { formatRewardOptions, type OptionTable } from "../rewards/options.ts";
import { syntheticEpisodes } from "../rewards/synthetic.ts";

function optionLines(table: OptionTable, indent: string): string[] {
  const entries = Object.entries(table);
  if (entries.length === 0) return [`${indent}(no options)`];
  const width = Math.max(...entries.map(([k, o]) => `${k}=${o.default}`.length));
  return entries.map(([k, o]) =>
    `${indent}--reward-opt ${`${k}=${o.default}`.padEnd(width)}  ${o.type}` +
    (o.description ? `  ${o.description}` : "")
  );
}

/**
 * The built-in rewards, their modules and options with defaults.
 *
 * @example
 * ```ts
 * import { rewardsList } from "./rewards.ts";
 * console.log(await rewardsList());
 * ```
 */
export async function rewardsList(): Promise<string> {
  const lines: string[] = ["Built-in rewards (--reward NAME, or the module path):", ""];
  for (const r of await listBuiltinRewards()) {
    lines.push(
      `${r.name}  (${r.module})`,
      `  ${r.description}`,
      ...optionLines(r.options, "  "),
      "",
    );
  }
  lines.push(
    "A plugin is any module whose default export is a reward definition: --reward ./my_reward.ts",
    "Try one: deno task rewards check ./my_reward.ts [--reward-opt key=value]",
    'Write one: README.md, section "Writing a reward plugin"',
  );
  return lines.join("\n");
}

/** Flags of `rewards check`, as commander gives them. */
export interface RewardsCheckFlags {
  rewardOpt?: string[];
  rewardTimeout?: string;
  glimpses?: string;
  batch?: string;
  classes?: string;
  seed?: string;
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!(Number.isInteger(n) && n > 0)) {
    throw new Error(`${flag} "${text}": expected a positive integer`);
  }
  return n;
}

const fmt = (v: number) =>
  (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)) ? v.toExponential(2) : v.toFixed(4);

/**
 * Loads `plugin` in the sandbox (as `--reward` would), runs it once on a seeded synthetic batch
 * (T=6, B=128, C=10 unless flags say otherwise) and reports shape, range and per-glimpse stats.
 *
 * @example
 * ```ts
 * import { rewardsCheck } from "./rewards.ts";
 * console.log(await rewardsCheck("entropy", { rewardOpt: ["beta=0.25"] }));
 * ```
 */
export async function rewardsCheck(plugin: string, flags: RewardsCheckFlags = {}): Promise<string> {
  const T = positiveInt("--glimpses", flags.glimpses, 6);
  const B = positiveInt("--batch", flags.batch, 128);
  const C = positiveInt("--classes", flags.classes, 10);
  const seed = positiveInt("--seed", flags.seed, 1);
  const timeoutMs = flags.rewardTimeout === undefined
    ? undefined
    : parseRewardTimeout(flags.rewardTimeout);
  const t0 = performance.now();
  const reward = await loadReward(plugin, {
    opts: flags.rewardOpt ?? [],
    timeoutMs,
    cwd: invocationDir(),
  });
  try {
    const t1 = performance.now();
    const ep = syntheticEpisodes({ T, B, C, seed });
    const r = await reward.fn(ep); // (T, B), checked: T·B finite values
    const t2 = performance.now();
    let min = Infinity, max = -Infinity, sum = 0;
    for (const v of r) {
      min = Math.min(min, v);
      max = Math.max(max, v);
      sum += v;
    }
    const rows = ["mean", "min", "max"].map((s) => s.padEnd(6));
    const head = ["t".padEnd(6)];
    for (let t = 0; t < T; t++) {
      const row = r.subarray(t * B, (t + 1) * B);
      let lo = Infinity, hi = -Infinity, s = 0;
      for (const v of row) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        s += v;
      }
      head.push(String(t + 1).padStart(10));
      rows[0] += fmt(s / B).padStart(10);
      rows[1] += fmt(lo).padStart(10);
      rows[2] += fmt(hi).padStart(10);
    }
    const opts = formatRewardOptions(reward.options);
    return [
      `reward "${plugin}": ${reward.name} — ${reward.description}`,
      `options: ${opts || "(none)"}`,
      `loaded in the sandbox in ${(t1 - t0).toFixed(0)} ms; one call on a synthetic batch ` +
      `(T=${T}, B=${B}, C=${C}, seed ${seed}) took ${(t2 - t1).toFixed(1)} ms`,
      `output: (${T}, ${B}) Float32Array, all finite, range [${fmt(min)}, ${fmt(max)}], ` +
      `mean return per episode ${fmt(sum / B)}`,
      "per glimpse:",
      ...[head.join(""), ...rows].map((l) => "  " + l),
    ].join("\n");
  } finally {
    await reward.close();
  }
}
