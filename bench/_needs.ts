/**
 * Plain `deno bench` (no flags) grants no permissions. A bench that reads data or starts a
 * process asks here first: with the permissions it runs; without them it registers one ignored
 * bench naming the flags and says so on stderr, so the whole run still exits 0.
 *
 * @module
 */

/** True when every permission in `names` is granted; otherwise reports the skip. */
export function benchNeeds(file: string, names: Deno.PermissionName[]): boolean {
  const missing = names.filter((name) =>
    Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state !== "granted"
  );
  if (missing.length === 0) return true;
  const flags = missing.map((m) => `--allow-${m}`).join(" ");
  console.error(`${file}: skipped, it needs ${flags} (deno task bench grants them)`);
  Deno.bench({ name: `${file} (skipped: needs ${flags})`, ignore: true, fn() {} });
  return false;
}
