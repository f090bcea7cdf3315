/**
 * Rewards for REINFORCE: the plugin contract (`defineReward`, `RewardDefinition`), the built-in
 * rewards, and the sandboxed loader the trainer uses for `--reward X --reward-opt k=v
 * --reward-timeout ms`.
 *
 * @example
 * ```ts
 * import { loadReward } from "./mod.ts";
 * const reward = await loadReward("./my_reward.ts", { opts: ["weight=0.2"], timeoutMs: 10_000 });
 * try {
 *   // rewards (T, B) = await reward.fn(episodes); record reward.metadata with the run
 * } finally {
 *   await reward.close();
 * }
 * ```
 *
 * @module
 */
export type { Episodes, RewardFn } from "./types.ts";
export * from "./define.ts";
export * from "./options.ts";
export { bindReward, checkEpisodes, checkRewardOutput, REWARD_BOUND } from "./check.ts";
export * from "./sandbox.ts";
export * from "./loader.ts";
export { syntheticEpisodes, type SyntheticShape } from "./synthetic.ts";
export { default as classificationReward } from "./classification.ts";
export { default as entropyReward, entropies } from "./entropy.ts";
