import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatTime,
  getCondition,
  getConditions,
  isConditionTrue,
  removeCondition,
  setCondition,
} from "../../src/object/index.js";

const T0 = "2026-11-25T10:00:00Z";
const T1 = "2026-11-25T10:05:00Z";
const at = (iso: string) => () => new Date(iso);

type Obj = { metadata: { generation?: number }; status?: { conditions: Array<Record<string, unknown>> } };
const binding = (generation?: number): Obj => ({ metadata: generation === undefined ? {} : { generation } });

describe("setCondition", () => {
  it("creates status and the list, stamps the time and the generation", () => {
    const obj = binding(3);
    const result = setCondition(
      obj,
      { type: "Ready", status: "False", reason: "Pulling", message: "pulling model" },
      { now: () => new Date("2026-11-25T10:00:00.987Z") },
    );
    assert.deepEqual(result, { ok: true, changed: true });
    assert.deepEqual(obj.status, {
      conditions: [
        {
          type: "Ready",
          status: "False",
          observedGeneration: 3,
          lastTransitionTime: T0,
          reason: "Pulling",
          message: "pulling model",
        },
      ],
    });
    assert.deepEqual(Object.keys(obj.status?.conditions[0] ?? {}), [
      "type",
      "status",
      "observedGeneration",
      "lastTransitionTime",
      "reason",
      "message",
    ]);
  });

  it("keeps the transition time when only the reason or message changes", () => {
    const obj = binding(1);
    setCondition(obj, { type: "Ready", status: "False", reason: "A" }, { now: at(T0) });
    assert.deepEqual(
      setCondition(obj, { type: "Ready", status: "False", reason: "B", message: "m" }, { now: at(T1) }),
      {
        ok: true,
        changed: true,
      },
    );
    assert.deepEqual(getCondition(obj, "Ready"), {
      type: "Ready",
      status: "False",
      observedGeneration: 1,
      lastTransitionTime: T0,
      reason: "B",
      message: "m",
    });
  });

  it("moves the transition time when the status changes", () => {
    const obj = binding(1);
    setCondition(obj, { type: "Ready", status: "False", reason: "A" }, { now: at(T0) });
    setCondition(obj, { type: "Ready", status: "True", reason: "A" }, { now: at(T1) });
    assert.equal(getCondition(obj, "Ready")?.lastTransitionTime, T1);
    assert.equal(getCondition(obj, "Ready")?.status, "True");
  });

  it("reports no change and keeps the list when nothing differs", () => {
    const obj = binding(2);
    const cond = { type: "Ready", status: "True", reason: "Ok", message: "fine" } as const;
    setCondition(obj, cond, { now: at(T0) });
    const list = obj.status?.conditions;
    assert.deepEqual(setCondition(obj, cond, { now: at(T1) }), { ok: true, changed: false });
    assert.equal(obj.status?.conditions, list);
    assert.equal(getCondition(obj, "Ready")?.lastTransitionTime, T0);
  });

  it("uses a given lastTransitionTime only when the status changes", () => {
    const obj = binding(1);
    setCondition(obj, { type: "Ready", status: "False", lastTransitionTime: T0 }, { now: at(T1) });
    assert.equal(getCondition(obj, "Ready")?.lastTransitionTime, T0);
    setCondition(obj, { type: "Ready", status: "False", reason: "X", lastTransitionTime: T1 });
    assert.equal(getCondition(obj, "Ready")?.lastTransitionTime, T0);
    setCondition(obj, { type: "Ready", status: "True", lastTransitionTime: "2026-11-25T12:00:00Z" });
    assert.equal(getCondition(obj, "Ready")?.lastTransitionTime, "2026-11-25T12:00:00Z");
  });

  it("tracks metadata.generation, and an explicit observedGeneration wins", () => {
    const obj = binding(1);
    setCondition(obj, { type: "Ready", status: "True" }, { now: at(T0) });
    (obj.metadata as { generation: number }).generation = 2;
    assert.deepEqual(setCondition(obj, { type: "Ready", status: "True" }, { now: at(T1) }), {
      ok: true,
      changed: true,
    });
    assert.equal(getCondition(obj, "Ready")?.observedGeneration, 2);
    assert.equal(getCondition(obj, "Ready")?.lastTransitionTime, T0);
    setCondition(obj, { type: "Ready", status: "True", observedGeneration: 9 });
    assert.equal(getCondition(obj, "Ready")?.observedGeneration, 9);
  });

  it("omits observedGeneration when the object has no generation", () => {
    const obj = binding();
    setCondition(obj, { type: "Ready", status: "Unknown" }, { now: at(T0) });
    assert.deepEqual(obj.status?.conditions, [{ type: "Ready", status: "Unknown", lastTransitionTime: T0 }]);
  });

  it("removes reason and message the input leaves out", () => {
    const obj = binding();
    setCondition(obj, { type: "Ready", status: "True", reason: "Ok", message: "m" }, { now: at(T0) });
    assert.deepEqual(setCondition(obj, { type: "Ready", status: "True" }, { now: at(T1) }), {
      ok: true,
      changed: true,
    });
    assert.deepEqual(obj.status?.conditions, [{ type: "Ready", status: "True", lastTransitionTime: T0 }]);
  });

  it("touches only its own entry and keeps extra fields and malformed neighbours", () => {
    const obj = {
      metadata: {},
      status: {
        phase: "Running",
        conditions: [
          "junk",
          { type: "Synced", status: "True", lastTransitionTime: T0 },
          { type: "Ready", status: "False", lastTransitionTime: T0, lastProbeTime: T0 },
          null,
        ],
      },
    };
    setCondition(obj, { type: "Ready", status: "True" }, { now: at(T1) });
    assert.deepEqual(obj.status, {
      phase: "Running",
      conditions: [
        "junk",
        { type: "Synced", status: "True", lastTransitionTime: T0 },
        { type: "Ready", status: "True", lastTransitionTime: T1, lastProbeTime: T0 },
        null,
      ],
    });
  });

  it("fills in a missing transition time on an existing entry", () => {
    const obj = { status: { conditions: [{ type: "Ready", status: "True" }] } };
    assert.deepEqual(setCondition(obj, { type: "Ready", status: "True" }, { now: at(T1) }), {
      ok: true,
      changed: true,
    });
    assert.deepEqual(obj.status.conditions, [{ type: "Ready", status: "True", lastTransitionTime: T1 }]);
  });

  it("appends a new type after the existing ones", () => {
    const obj = binding();
    setCondition(obj, { type: "A", status: "True" }, { now: at(T0) });
    setCondition(obj, { type: "B", status: "False" }, { now: at(T0) });
    assert.deepEqual(
      getConditions(obj).map((c) => c.type),
      ["A", "B"],
    );
  });

  it("uses the real clock by default, at seconds precision", () => {
    const obj = binding();
    const before = Math.floor(Date.now() / 1000) * 1000;
    setCondition(obj, { type: "Ready", status: "True" });
    const stamp = getCondition(obj, "Ready")?.lastTransitionTime ?? "";
    assert.match(stamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.ok(Date.parse(stamp) >= before && Date.parse(stamp) <= Date.now());
  });

  it("refuses a status or conditions field of the wrong type, leaving it alone", () => {
    const a = { status: "broken" };
    assert.deepEqual(setCondition(a, { type: "Ready", status: "True" }, { now: at(T0) }), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: ["status"],
      expected: "map",
      actual: "string",
    });
    assert.deepEqual(a, { status: "broken" });
    const b = { status: { conditions: { Ready: "True" } } };
    assert.deepEqual(setCondition(b, { type: "Ready", status: "True" }, { now: at(T0) }), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: ["status", "conditions"],
      expected: "array",
      actual: "map",
    });
    assert.deepEqual(b, { status: { conditions: { Ready: "True" } } });
  });

  it("refuses a frozen status", () => {
    const obj = { status: Object.freeze({ conditions: Object.freeze([]) }) };
    assert.deepEqual(setCondition(obj, { type: "Ready", status: "True" }, { now: at(T0) }), {
      ok: false,
      changed: false,
      reason: "read-only",
      at: ["status"],
    });
    assert.deepEqual(obj.status.conditions, []);
  });
});

describe("reading conditions", () => {
  const obj = {
    status: {
      conditions: [
        { type: "Ready", status: "True", reason: 5, message: "ok", observedGeneration: 1.5, extra: { x: 1 } },
        { type: "Ready", status: "False" },
        { type: "Synced", status: "true" },
        { type: "Degraded", status: "False" },
        { status: "True" },
        7,
      ],
    },
  };

  it("getCondition returns a checked copy of the first entry of the type", () => {
    const ready = getCondition(obj, "Ready");
    assert.deepEqual(ready, { type: "Ready", status: "True", message: "ok", extra: { x: 1 } });
    (ready?.extra as { x: number }).x = 2;
    assert.deepEqual((obj.status.conditions[0] as { extra: unknown }).extra, { x: 1 });
  });

  it("getCondition ignores an entry whose status is not True, False or Unknown", () => {
    assert.equal(getCondition(obj, "Synced"), undefined);
    assert.equal(getCondition(obj, "Absent"), undefined);
    assert.equal(getCondition({}, "Ready"), undefined);
  });

  it("getConditions lists the well-formed entries", () => {
    assert.deepEqual(
      getConditions(obj).map((c) => [c.type, c.status]),
      [
        ["Ready", "True"],
        ["Ready", "False"],
        ["Degraded", "False"],
      ],
    );
  });

  it("isConditionTrue is true only for status True", () => {
    assert.equal(isConditionTrue(obj, "Ready"), true);
    assert.equal(isConditionTrue(obj, "Degraded"), false);
    assert.equal(isConditionTrue(obj, "Synced"), false);
    assert.equal(isConditionTrue(obj, "Absent"), false);
    assert.equal(isConditionTrue({ status: { conditions: [{ type: "X", status: "Unknown" }] } }, "X"), false);
  });
});

describe("removeCondition", () => {
  it("removes every entry of the type and keeps the rest in order", () => {
    const obj = {
      status: {
        conditions: [
          { type: "Ready", status: "True" },
          { type: "Synced", status: "True" },
          { type: "Ready", status: "False" },
        ],
      },
    };
    assert.deepEqual(removeCondition(obj, "Ready"), { ok: true, changed: true });
    assert.deepEqual(obj.status.conditions, [{ type: "Synced", status: "True" }]);
    assert.deepEqual(removeCondition(obj, "Ready"), { ok: true, changed: false });
  });

  it("has nothing to do without a conditions list", () => {
    assert.deepEqual(removeCondition({}, "Ready"), { ok: true, changed: false });
    assert.deepEqual(removeCondition({ status: { conditions: "x" } }, "Ready"), { ok: true, changed: false });
  });

  it("refuses a frozen status and keeps the condition", () => {
    const obj = { status: Object.freeze({ conditions: [{ type: "Ready", status: "True" }] }) };
    assert.deepEqual(removeCondition(obj, "Ready"), { ok: false, changed: false, reason: "read-only", at: ["status"] });
    assert.equal(isConditionTrue(obj, "Ready"), true);
  });
});

describe("formatTime", () => {
  it("formats UTC at whole seconds, truncating fractions like Go", () => {
    assert.equal(formatTime(new Date("2026-11-25T10:00:00Z")), "2026-11-25T10:00:00Z");
    assert.equal(formatTime(new Date("2026-11-25T10:00:00.999Z")), "2026-11-25T10:00:00Z");
    assert.equal(formatTime(new Date("2026-11-25T12:30:05+02:00")), "2026-11-25T10:30:05Z");
  });

  it("throws on an invalid date, a caller bug rather than data", () => {
    assert.throws(() => formatTime(new Date(Number.NaN)), RangeError);
  });
});
