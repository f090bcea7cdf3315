import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { currentCheckpointFile, STAGING_DIR } from "../run/checkpoint_commit.ts";
import { LOCK_FILE, lockRunFolder, processAlive, RunFolderBusyError } from "../run/run_lock.ts";
import { loadCheckpoint, MODEL_FILE } from "../run/checkpoint.ts";
import { assertWholeCheckpoint, saveStep } from "./_run_folder_fixture.ts";

const FIXTURE = fileURLToPath(new URL("./_run_folder_fixture.ts", import.meta.url));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "glimpse-runfolder-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** The pid of a process that has exited (so it is not alive). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("a crash at any point of a checkpoint save leaves the old or the new one, whole", async () => {
  // Every point a save passes: 4 files staged, the commit, 4 files moved in.
  const events: string[] = [];
  await withDir(async (dir) => {
    await saveStep(dir, 1, (e) => {
      events.push(e);
    });
  });
  assert.equal(events.length, 9, events.join(", "));
  for (const [i, event] of events.entries()) {
    await withDir(async (dir) => {
      await saveStep(dir, 1);
      await assert.rejects(
        saveStep(dir, 2, (e) => {
          if (e === event) throw new Error(`crash after ${e}`);
        }),
        /crash after/,
      );
      const expected = i < events.indexOf("committed") ? 1 : 2;
      // A reader sees the committed generation before any recovery …
      assert.equal(await assertWholeCheckpoint(dir), expected, `crash after ${event}`);
      // … and the next writer finishes or discards the commit, leaving no trace of it.
      const lock = await lockRunFolder(dir, "a test");
      assert.equal(await assertWholeCheckpoint(dir), expected, `recovered after ${event}`);
      assert.deepEqual(await names(dir), [
        "config.json",
        LOCK_FILE,
        "metrics.jsonl",
        MODEL_FILE,
        "optimizer.safetensors",
      ]);
      assert.equal(lock.notes.length, 1, lock.notes.join("\n"));
      await lock.release();
      await saveStep(dir, 3);
      assert.equal(await assertWholeCheckpoint(dir), 3);
    });
  }
});

Deno.test("kill -9 during checkpoint saves never leaves a mixed or unreadable checkpoint", async () => {
  await withDir(async (dir) => {
    for (let round = 0; round < 6; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", FIXTURE, dir],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      // Let it save at least two checkpoints (an overwrite), however loaded the machine, then
      // kill it at an arbitrary point of a later one.
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/^[2-9]|\d\d/m.test(text)) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`the fixture ended before saving step 2: ${text}`);
        text += value;
      }
      await new Promise((r) => setTimeout(r, 17 + 37 * round));
      child.kill("SIGKILL");
      await lines.cancel().catch(() => {});
      await child.status;
      const before = await assertWholeCheckpoint(dir);
      assert.ok(before >= 2, `step ${before} after the fixture reported step 2 saved`);
      const lock = await lockRunFolder(dir, "a test");
      const after = await assertWholeCheckpoint(dir);
      assert.ok(after === before || after === before + 1, `${before} → ${after}`);
      assert.ok(!(await names(dir)).some((n) => n.endsWith(".tmp") || n === STAGING_DIR));
      await lock.release();
    }
  });
});

Deno.test("a run folder has one writer; a dead writer's lock and temporary files are taken over", async () => {
  await withDir(async (dir) => {
    const first = await lockRunFolder(dir, "a training");
    await assert.rejects(lockRunFolder(dir, "a training"), (e: Error) => {
      assert.ok(e instanceof RunFolderBusyError);
      assert.match(
        e.message,
        new RegExp(
          `^Cannot use run folder "${dir}": a training \\(pid ${Deno.pid} on .*\\) holds it`,
        ),
      );
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    await first.release();
    assert.deepEqual(await names(dir), [], "release removes the lock");

    const pid = await deadPid();
    assert.equal(await processAlive(pid), false);
    await Deno.writeTextFile(
      `${dir}/${LOCK_FILE}`,
      JSON.stringify({ pid, hostname: Deno.hostname(), started: "then", purpose: "a training" }),
    );
    await Deno.writeTextFile(`${dir}/.model.safetensors.${pid}.abc.def.tmp`, "half");
    await Deno.writeTextFile(`${dir}/.model.safetensors.${Deno.pid}.abc.def.tmp`, "mine");
    const taken = await lockRunFolder(dir, "a training");
    assert.match(
      taken.notes.join("\n"),
      new RegExp(`taking over the lock of a training pid ${pid}`),
    );
    assert.match(taken.notes.join("\n"), /removed 1 temporary file/);
    assert.deepEqual(await names(dir), [`.model.safetensors.${Deno.pid}.abc.def.tmp`, LOCK_FILE]);
    await taken.release();

    // A lock from another host cannot be checked: refused, never taken over.
    await Deno.writeTextFile(
      `${dir}/${LOCK_FILE}`,
      JSON.stringify({ pid, hostname: "elsewhere", started: "then", purpose: "a training" }),
    );
    await assert.rejects(lockRunFolder(dir, "a training"), /pid \d+ on elsewhere/);
  });
});

Deno.test("checkpoint reads refuse a FIFO instead of blocking on it", async () => {
  await withDir(async (dir) => {
    await saveStep(dir, 1);
    await Deno.remove(`${dir}/${MODEL_FILE}`);
    const mk = await new Deno.Command("mkfifo", { args: [`${dir}/${MODEL_FILE}`] }).output();
    assert.ok(mk.success);
    await assert.rejects(
      loadCheckpoint(dir),
      new RegExp(`^Error: Cannot read "${dir}/${MODEL_FILE}": is a FIFO \\(named pipe\\)`),
    );
    assert.equal(await currentCheckpointFile(dir, MODEL_FILE), `${dir}/${MODEL_FILE}`);
  });
});
