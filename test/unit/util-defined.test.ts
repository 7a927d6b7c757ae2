/** definedProps(): optional keys left out when undefined, and typed by where the result goes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ListOptions } from "../../src/client/index.js";
import { definedProps } from "../../src/util/defined.js";
import type { WatchAllOptions } from "../../src/watchall/index.js";

describe("definedProps", () => {
  it("leaves out undefined values and keeps every other one, falsy ones included", () => {
    const signal: AbortSignal | undefined = undefined;
    const opts: ListOptions = definedProps({ limit: 0, labelSelector: "", continue: undefined, signal });
    assert.deepEqual(opts, { limit: 0, labelSelector: "" });
    assert.equal("continue" in opts, false);
    assert.equal("signal" in opts, false);
  });

  it("keeps null, false and objects as they are", () => {
    const include = { groups: ["apps"] };
    const opts: WatchAllOptions = { ...definedProps({ include, metadataOnly: false, checkpoint: undefined }) };
    assert.deepEqual(opts, { include, metadataOnly: false });
    assert.equal(opts.include, include);
  });

  it("rejects a key the target type lacks, inside a spread too (checked by tsc)", () => {
    const namespace: string | undefined = "demo";
    const labelSelector: string | undefined = "app=web";
    const opts: WatchAllOptions = {
      ...definedProps({
        labelSelector,
        // @ts-expect-error WatchAllOptions has no namespace: the plain spread this replaces let it through unseen.
        namespace,
      }),
    };
    // @ts-expect-error a misspelt key is refused as well
    const misspelt: ListOptions = definedProps({ labelSelektor: labelSelector });
    // @ts-expect-error with no target type there is nothing to check keys against, so the call itself is refused
    const untyped = definedProps({ labelSelector });
    // At run time the helper cannot know the target: what the compiler refused above is copied like any key.
    assert.deepEqual(opts, { labelSelector, namespace });
    assert.deepEqual(misspelt, { labelSelektor: labelSelector });
    assert.deepEqual(untyped, { labelSelector });
  });
});
