import { dirname, isAbsolute, resolve } from "node:path";

/** Resolves `path` as kubectl does: relative to the kubeconfig file that named it. */
export function resolvePath(path: string, file: string): string {
  return isAbsolute(path) ? path : resolve(dirname(file), path);
}
