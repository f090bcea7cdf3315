/**
 * `--backend auto|webgpu|cpu`: the flag's parsing, and auto's decision for commands that only
 * need the name. Opening the chosen backend is the library's (run/backend.ts).
 *
 * @module
 */
import { type BackendName, BACKENDS, type OpenedBackend } from "../run/backend.ts";
import { type BackendDecision, chooseBackend } from "../ram/choose_backend.ts";
import { choiceOption } from "./options.ts";

export { type BackendName, BACKENDS };

/** Parses --backend (default auto). */
export function backendOption(value: string | undefined): BackendName {
  return choiceOption("--backend", value, BACKENDS) ?? "auto";
}

/** Parses --backend and decides auto on this machine: the backend to open and why. */
export function resolveBackendOption(value: string | undefined): Promise<BackendDecision> {
  return chooseBackend(backendOption(value));
}

/**
 * The line train and eval print for an opened backend: what runs it and why it was chosen,
 * e.g. "cpu (OpenBLAS …, 2 threads); auto: no WebGPU adapter; the CPU's BLAS runs the products".
 */
export function backendLine(opened: Pick<OpenedBackend, "description" | "decision">): string {
  return `${opened.description}; ${opened.decision.reason}`;
}
