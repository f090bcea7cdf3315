/**
 * `--backend webgpu|cpu`: the flag's parsing. Opening the chosen backend is the library's
 * (run/backend.ts).
 *
 * @module
 */
import { type BackendName, BACKENDS } from "../run/backend.ts";
import { choiceOption } from "./options.ts";

export { type BackendName, BACKENDS };

/** Parses --backend (default webgpu). */
export function backendOption(value: string | undefined): BackendName {
  return choiceOption("--backend", value, BACKENDS) ?? "webgpu";
}
