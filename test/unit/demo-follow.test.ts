/** How the demo recognises the lines it expects from `kindwatch watch`. */
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { Follower, matches } from "../../demo/follow.js";

const kind = "AIModelDeployment.ai.kindwatch.dev";

describe("demo output matching", () => {
  it("matches an event line by its columns and the text it shows", () => {
    const line = `00:51:54  MODIFIED  ${kind}     ml-team/llama-3-8b  spec.replicas: 1→3`;
    assert.ok(matches(line, { event: "MODIFIED", kind, ref: "ml-team/llama-3-8b", shows: "spec.replicas: 1→3" }));
    assert.ok(matches(line, { event: "MODIFIED", kind, ref: "ml-team/llama-3-8b" }));
    assert.ok(!matches(line, { event: "ADDED", kind, ref: "ml-team/llama-3-8b" }));
    assert.ok(!matches(line, { event: "MODIFIED", kind, ref: "ml-team/llama-3" }));
    assert.ok(!matches(line, { event: "MODIFIED", kind: "AIModelDeployment", ref: "ml-team/llama-3-8b" }));
    assert.ok(!matches(line, { event: "MODIFIED", kind, ref: "ml-team/llama-3-8b", shows: "spec.replicas: 3→1" }));
  });

  it("matches a notice by its start", () => {
    const line = "removed FeatureFlag.flags.example.com: its CustomResourceDefinition is gone";
    assert.ok(matches(line, { notice: "removed FeatureFlag.flags.example.com" }));
    assert.ok(!matches(line, { notice: "watching FeatureFlag.flags.example.com" }));
    assert.ok(!matches(`00:00:00  DELETED  ${line}`, { notice: "removed" }));
  });

  it("waits for lines after a mark, colours stripped, and names what never came", async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const sink = new PassThrough();
    sink.resume();
    const follower = new Follower(out, err, sink, sink);
    out.write(`00:00:01  \x1b[32mADDED   \x1b[39m  ${kind}  ml-team/a\n`);
    await follower.expect([{ event: "ADDED", kind, ref: "ml-team/a" }], 0, 1000);
    const mark = follower.count;
    const later = follower.expect([{ notice: "watching X" }, { event: "DELETED", kind, ref: "ml-team/a" }], mark, 5000);
    err.write("watching X (new kind)\n");
    out.write(`00:00:02  DELETED   ${kind}  ml-team/a\n`);
    await later;
    await assert.rejects(
      follower.expect([{ event: "ADDED", kind, ref: "ml-team/a" }], mark, 50),
      /not shown within 0\.05 s: ADDED AIModelDeployment\.ai\.kindwatch\.dev ml-team\/a$/,
    );
    out.end();
    err.end();
    await assert.rejects(
      follower.expect([{ event: "ADDED", kind, ref: "ml-team/b" }], 0, 5000),
      /kindwatch watch ended: ADDED/,
    );
  });
});
