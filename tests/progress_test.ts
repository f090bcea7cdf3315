import assert from "node:assert/strict";
import { clock, Meter, ProgressBar, progressLine, ProgressView } from "../commands/progress.ts";

Deno.test("Meter's rate is recent: a slow start fades out of the rate and the ETA", () => {
  let t = 0;
  const m = new Meter(1000, 5, () => t);
  assert.deepEqual(m.update(0), { rate: null, eta: null });
  t = 10;
  m.update(10); // 1 unit/s for the first 10 s
  for (let i = 1; i <= 10; i++) {
    t = 10 + i;
    m.update(10 + 100 * i); // then 100 units/s
  }
  const { rate, eta } = m.update(1010);
  assert.ok(Math.abs(rate! - 100) < 1e-9, `recent rate ${rate}`);
  assert.equal(eta, 0);
  t = 25;
  assert.ok(Math.abs(m.update(1510).eta! - 0) < 1e-9, "done beyond total: no time left");
  const half = new Meter(200, 5, () => t);
  half.update(0);
  t = 26;
  assert.equal(half.update(50).eta, 3, "150 left at 50/s");
});

Deno.test("progressLine and clock: one style with count, rate and ETA", () => {
  assert.equal(clock(65), "1:05");
  assert.equal(clock(3725), "1:02:05");
  const line = progressLine("evaluating", 50, 200, 123.4, 90, "img");
  assert.equal(line, `evaluating ${"█".repeat(6)}${"░".repeat(18)} 50/200  123 img/s  ETA 1:30`);
  assert.match(progressLine("x", 0, 10, null, null, "batch"), /– batch\/s {2}ETA –$/);
});

Deno.test("ProgressBar draws on a terminal, clears when done, and stays silent otherwise", () => {
  const out: string[] = [];
  const bar = new ProgressBar("run 1/2", 10, "img", true, (s) => out.push(s));
  bar.update(10);
  bar.done();
  assert.ok(out[0].startsWith("\r\x1b[2Krun 1/2 █"), JSON.stringify(out[0]));
  assert.match(out[0], /█+ 10\/10 {2}/);
  assert.equal(out[1], "\r\x1b[2K");
  const quiet: string[] = [];
  const off = new ProgressBar("x", 10, "img", false, (s) => quiet.push(s));
  off.update(5);
  off.done();
  assert.deepEqual(quiet, []);
});

Deno.test("the training bar shows the recent images/s and an ETA to the end of training", () => {
  const out: string[] = [];
  const view = new ProgressView(true, false, (s) => out.push(s));
  view.batchSize = 32;
  const p = { epoch: 1, epochs: 2, batch: 4, batches: 4, step: 4, loss: 1, accuracy: 0.5 };
  view.step({ ...p, imagesPerSecond: 10 });
  assert.match(
    out.at(-1)!,
    /epoch 1\/2 █+ 4\/4 {2}loss 1\.0000 {2}acc 50\.00% {2}– img\/s {2}ETA –/,
  );
});
