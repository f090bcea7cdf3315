/**
 * Shared GPU fixture for tests. In CI (CI=true) a missing adapter fails the test run, since
 * Mesa's software adapter is always installed there; elsewhere GPU tests are skipped with a
 * message saying why.
 *
 * @module
 */
import { type Gpu, requestGpu } from "../gpu/device.ts";

let probe: Promise<Gpu | null> | null = null;

/** The shared device, or null (with a one-time message) when there is no adapter outside CI. */
export function testGpu(): Promise<Gpu | null> {
  probe ??= requestGpu().catch((e) => {
    if (Deno.env.get("CI")) throw e;
    console.error(`GPU tests skipped: ${(e as Error).message}`);
    return null;
  });
  return probe;
}

/** Registers a test that needs the GPU; it is ignored only where no adapter exists outside CI. */
export function gpuTest(name: string, fn: (gpu: Gpu) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async (t) => {
      const gpu = await testGpu();
      if (!gpu) {
        console.error(`skipped "${name}": no WebGPU adapter`);
        return;
      }
      void t;
      await fn(gpu);
      gpu.check();
    },
  });
}
