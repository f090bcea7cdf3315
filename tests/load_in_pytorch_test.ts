/**
 * examples/load_in_pytorch.py loads model.safetensors with a strict load_state_dict: the
 * modules it declares must be exactly the checkpoint's non-probe tensors, and the config keys it
 * reads must exist. Checked here without PyTorch, on both shipped runs.
 */
import assert from "node:assert/strict";
import { decodeSafetensors } from "../util/safetensors.ts";
import { ROOT } from "./_cli.ts";

const script = await Deno.readTextFile(`${ROOT}examples/load_in_pytorch.py`);

for (const run of ["mnist-classification", "mnist-entropy"]) {
  Deno.test(`load_in_pytorch.py's modules and config keys match checkpoints/${run}`, async () => {
    const file = `${ROOT}checkpoints/${run}/model.safetensors`;
    const { tensors, metadata } = decodeSafetensors(await Deno.readFile(file), file);
    const config = JSON.parse(metadata.config);
    const model = config.model as Record<string, unknown>;

    const linear = [...script.matchAll(/self\.(\w+) = nn\.Linear\(/g)].map((m) => m[1]);
    assert.ok(linear.length >= 10, "the script declares the RAM's layers");
    const declared = linear.flatMap((n) => [`${n}.weight`, `${n}.bias`]).sort();
    const prefixes = [...script.matchAll(/PROBE_PREFIXES = \(([^)]*)\)/g)][0]?.[1] ?? "";
    const probe = [...prefixes.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(probe, ["vae.", "classprobe."], "the script leaves out both probes");
    const saved = [...tensors.keys()].filter((k) => !probe.some((p) => k.startsWith(p))).sort();
    assert.deepEqual(declared, saved, "a strict load_state_dict needs exactly these names");

    const keys = new Set([...script.matchAll(/m\["(\w+)"\]/g)].map((m) => m[1]));
    for (const k of keys) assert.ok(k in model, `config.model has "${k}"`);
    assert.match(script, /metadata\(\)\["config"\]/);
    // each layer's (out, in) as the script sizes it, read from the config
    const size = (expr: string): number => {
      const e = expr.trim();
      if (/^\d+$/.test(e)) return Number(e);
      if (e === "g2") return (model.patch as number) ** 2;
      const m = e.match(/^m\["(\w+)"\]$/);
      assert.ok(m, `unexpected size expression ${e}`);
      return model[m[1]] as number;
    };
    for (const m of script.matchAll(/self\.(\w+) = nn\.Linear\(([^,]+), ([^)]+)\)/g)) {
      const shape = tensors.get(`${m[1]}.weight`)!.shape;
      assert.deepEqual(shape, [size(m[3]), size(m[2])], `${m[1]}.weight (out, in)`);
    }
  });
}
