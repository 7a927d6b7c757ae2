/** Checkpoints: the ledger of handled events, stand-ins for objects known by stamp only, and the file round trip. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError } from "../../src/config/errors.js";
import { ghost, Ledger, readCheckpoint, stamp, unstamp, writeCheckpoint } from "../../src/watchall/checkpoint.js";
import type { KindInfo, ObjectEvent, WatchAllEvent } from "../../src/watchall/types.js";

const info: KindInfo = { group: "example.com", version: "v1", kind: "Widget", resource: "widgets", namespaced: true };

function ev(type: ObjectEvent["type"], name: string, rv: string, uid = `uid-${name}`): ObjectEvent {
  return {
    type,
    origin: "live",
    ...info,
    namespace: "ns",
    name,
    resourceVersion: rv,
    object: {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name, namespace: "ns", uid, resourceVersion: rv },
    },
  };
}

describe("stamps and ghosts", () => {
  it("round-trips uid and resourceVersion", () => {
    assert.deepEqual(unstamp(stamp("u-1", "42")), { uid: "u-1", resourceVersion: "42" });
    assert.deepEqual(unstamp(stamp(undefined, "42")), { uid: "", resourceVersion: "42" });
  });

  it("makes a stand-in object from a key and a stamp", () => {
    assert.deepEqual(ghost(info, "ns/w", stamp("u", "7")), {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "w", namespace: "ns", uid: "u", resourceVersion: "7" },
    });
    assert.deepEqual(ghost({ ...info, group: "", namespaced: false }, "n", stamp("u", "7")).metadata, {
      name: "n",
      uid: "u",
      resourceVersion: "7",
    });
  });
});

describe("Ledger", () => {
  it("follows adds, updates and deletes, and forgets a removed kind", () => {
    const ledger = new Ledger();
    assert.equal(ledger.dirty, false);
    const events: WatchAllEvent[] = [
      { type: "KIND_ADDED", ...info },
      ev("ADDED", "a", "1"),
      ev("ADDED", "b", "2"),
      ev("MODIFIED", "a", "3"),
      ev("DELETED", "b", "4"),
    ];
    for (const e of events) ledger.apply(e);
    assert.equal(ledger.dirty, true);
    assert.deepEqual(ledger.snapshot(), {
      format: 1,
      kinds: { "widgets.example.com": { ...info, resourceVersion: "4", objects: { "ns/a": "uid-a 3" } } },
    });
    assert.equal(ledger.dirty, false);
    ledger.apply({ type: "KIND_VERSION_CHANGED", ...info, version: "v2", previousVersion: "v1" });
    assert.equal(ledger.snapshot().kinds["widgets.example.com"]?.version, "v2");
    ledger.apply({ type: "KIND_REMOVED", ...info, version: "v2" });
    assert.deepEqual(ledger.snapshot().kinds, {});
  });

  it("remembers a kind without objects, so that its removal can be told after a restart", () => {
    const ledger = new Ledger();
    ledger.apply({ type: "KIND_ADDED", ...info });
    assert.deepEqual(ledger.snapshot().kinds["widgets.example.com"]?.objects, {});
  });

  it("starts from a checkpoint", () => {
    const ledger = new Ledger({
      format: 1,
      kinds: { "widgets.example.com": { ...info, objects: { "ns/a": "uid-a 3" } } },
    });
    ledger.apply(ev("ADDED", "c", "9"));
    assert.deepEqual(ledger.snapshot().kinds["widgets.example.com"]?.objects, { "ns/a": "uid-a 3", "ns/c": "uid-c 9" });
  });
});

describe("checkpoint files", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kindwatch-checkpoint-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes and reads back, and a missing file is no checkpoint", async () => {
    const path = join(dir, "cp.json");
    assert.equal(await readCheckpoint(path), undefined);
    const checkpoint = {
      format: 1 as const,
      kinds: { "widgets.example.com": { ...info, objects: { "ns/a": "u 1" } } },
    };
    await writeCheckpoint(path, checkpoint);
    assert.deepEqual(await readCheckpoint(path), checkpoint);
    assert.deepEqual(JSON.parse(await readFile(path, "utf8")), checkpoint);
  });

  it("refuses a file that is not JSON, or not a checkpoint, with a ConfigError that says what to do", async () => {
    const bad = join(dir, "bad.json");
    for (const text of ["{", '{"format":2,"kinds":{}}', '{"format":1,"kinds":{"x":{"objects":{}}}}']) {
      await writeFile(bad, text);
      await assert.rejects(
        readCheckpoint(bad),
        (err) => err instanceof ConfigError && /delete it to start over/.test(err.message),
      );
    }
  });
});

describe("Ledger: objects in doubt", () => {
  it("keeps what was handed out and not handled, so that a restart tells it again or deletes it", () => {
    const ledger = new Ledger();
    ledger.apply({ type: "KIND_ADDED", ...info });
    ledger.apply(ev("ADDED", "a", "1", "uid-a1"));
    assert.equal(ledger.ahead, false);
    const newObject = ev("ADDED", "b", "2");
    const reused = ev("ADDED", "a", "4", "uid-a2");
    const update = ev("MODIFIED", "a", "3", "uid-a1");
    ledger.doubt(update);
    assert.equal(ledger.ahead, false, "an object the checkpoint knows needs no saving ahead");
    ledger.doubt(newObject);
    ledger.doubt(reused);
    assert.equal(ledger.ahead, true);
    ledger.snapshot();
    ledger.unsaved();
    assert.equal(ledger.ahead, true, "a snapshot that could not be saved leaves the doubts ahead");
    const kind = ledger.snapshot().kinds["widgets.example.com"];
    assert.equal(ledger.ahead, false);
    assert.deepEqual(kind?.objects, { "ns/a": stamp("uid-a1", "1"), "ns/b": stamp("uid-b", "") });
    assert.deepEqual(kind?.doubts, { "ns/a": ["uid-a2"] });

    for (const e of [update, newObject, reused]) {
      ledger.settle(e);
      ledger.apply(e);
    }
    const settled = ledger.snapshot().kinds["widgets.example.com"];
    assert.deepEqual(settled?.objects, { "ns/a": stamp("uid-a2", "4"), "ns/b": stamp("uid-b", "2") });
    assert.equal(settled?.doubts, undefined);
  });

  it("carries a checkpoint's doubts until an event of their object is handled", () => {
    const ledger = new Ledger({
      format: 1,
      kinds: {
        "widgets.example.com": { ...info, objects: { "ns/a": stamp("uid-a2", "") }, doubts: { "ns/a": ["uid-a1"] } },
      },
    });
    assert.deepEqual(ledger.snapshot().kinds["widgets.example.com"]?.doubts, { "ns/a": ["uid-a1"] });
    ledger.apply({ ...ev("DELETED", "a", "", "uid-a1"), finalStateUnknown: true });
    const kind = ledger.snapshot().kinds["widgets.example.com"];
    assert.equal(kind?.doubts, undefined);
    assert.deepEqual(kind?.objects, { "ns/a": stamp("uid-a2", "") }, "the delete of a1 leaves a2 be");
  });
});
