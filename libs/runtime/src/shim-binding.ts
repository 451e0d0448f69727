// How the Runtime reaches the shim: its binary and how a spec becomes the
// files it reads. The Runtime drives berth-shim through berthShim()
// (shim-config.ts); a binding is a seam so the lifecycle logic stays one
// piece of code whatever writes the configs.
export interface ShimBinding<Spec, Process> {
  /** Absolute path of the shim binary (create/start/exec sub-commands). */
  readonly path: string;
  /** Writes what `shim create <stateDir>` reads (<stateDir>/config). */
  writeConfig(stateDir: string, spec: Spec): void | Promise<void>;
  /** Writes an exec config at path, read by `shim exec <stateDir> <path>`. */
  writeExecConfig(path: string, process: Process): void | Promise<void>;
  /**
   * Releases the created init in stateDir (what `shim start <stateDir>` does)
   * without spawning the shim; absent: the Runtime runs `shim start`.
   * Throws FailedPrecondition when the init is not waiting to start.
   */
  start?(stateDir: string): void | Promise<void>;
}
