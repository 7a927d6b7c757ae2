/** A configuration problem the user must fix (bad kubeconfig, missing file, unknown context), with what to do. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}
