/** Reads one file out of a zip archive with Node alone, for machines without `unzip`. */
import { readFile } from "node:fs/promises";
import zlib from "node:zlib";

const endOfCentralDirectory = 0x06054b50;
const centralEntry = 0x02014b50;
const localHeader = 0x04034b50;

function fail(zipPath: string, why: string): never {
  throw new Error(`${zipPath}: ${why}`);
}

/** The bytes of `entryName` in the zip file at `zipPath` (stored or deflated entries; no zip64). */
export async function readZipEntry(zipPath: string, entryName: string): Promise<Buffer> {
  const zip = await readFile(zipPath);
  // The end record is the last 22 bytes, unless a comment (at most 65535 bytes) follows it.
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    // The signature may also occur inside the comment: the real record's comment length reaches the end exactly.
    if (zip.readUInt32LE(i) === endOfCentralDirectory && i + 22 + zip.readUInt16LE(i + 20) === zip.length) {
      end = i;
      break;
    }
  }
  if (end < 0) fail(zipPath, "not a zip file (no end of central directory)");
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  if (at === 0xffffffff) fail(zipPath, "zip64 archives are not supported");
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== centralEntry) fail(zipPath, "corrupt central directory");
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const offset = zip.readUInt32LE(at + 42);
    const name = zip.toString("utf8", at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (name !== entryName) continue;
    if (zip.readUInt32LE(offset) !== localHeader) fail(zipPath, `corrupt local header of ${name}`);
    // The local header's name and extra field may differ in length from the central directory's.
    const start = offset + 30 + zip.readUInt16LE(offset + 26) + zip.readUInt16LE(offset + 28);
    const raw = zip.subarray(start, start + compressedSize);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? zlib.inflateRawSync(raw) : undefined;
    if (!data) fail(zipPath, `${name} uses compression method ${method}; only stored and deflated are supported`);
    // zlib.crc32 arrived in Node 20.15; older Nodes check the size alone.
    const crcOk = typeof zlib.crc32 !== "function" || zlib.crc32(data) === crc;
    if (data.length !== size || !crcOk) fail(zipPath, `${name} is corrupt (size or CRC mismatch)`);
    return data;
  }
  return fail(zipPath, `no entry ${entryName}`);
}
