/** YAML output, in a module of its own so that only `-o yaml` loads the YAML library (see {@link yamlPrinter}). */
import { stringify } from "yaml";

/**
 * `value` as one YAML document (without the `---` separator). Written as YAML 1.1, which quotes strings such as
 * `yes`, `on` and timestamps, so that YAML 1.1 readers (go-yaml, PyYAML) read them back as strings too.
 */
export function yamlDocument(value: unknown): string {
  return stringify(value, { lineWidth: 0, version: "1.1", indentSeq: false });
}
