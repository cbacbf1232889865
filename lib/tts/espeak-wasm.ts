/**
 * The espeak-ng WASM build embeds all of espeak-ng's data — 445 files, 18.0 MB (ru_dict alone 8.5 MB) — in the
 * module's data segments. Instantiating it copies every segment into the new instance's linear memory, so each run
 * touched 18 MB of memory for the ~1 MB (phondata, phontab, one dictionary, one voice) it reads; and V8 keeps the
 * module's 18 MB of bytes for as long as the compiled module lives.
 *
 * leanEspeakWasm() reads the build's table of embedded files (the one its `__emscripten_embedded_file_data` export
 * points at) and writes a module without those files' bytes: the data segments keep everything else (espeak-ng's
 * own static data, the table and the file names; about 170 KB). The glue still creates every file in its in-memory
 * file system, pointing at memory that is now zero and never touched; the worker replaces each file's contents with
 * the bytes read from the .wasm file when espeak-ng first reads it (see WORKER_SOURCE in espeak-worker.ts), cached
 * per worker. Anything this code does not recognise in the build (another layout, passive segments, a table that
 * does not check out) makes it return undefined, and the full module is used as before.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** One embedded file: its path in the WASM file system and where its bytes are in the .wasm file. */
export interface EmbeddedFile {
  name: string;
  /** Byte offset of the contents in the .wasm file. */
  at: number;
  length: number;
}

export interface LeanWasm {
  /** The module without the embedded files' bytes. */
  bytes: Uint8Array;
  files: EmbeddedFile[];
  /** Bytes of file contents left out. */
  omittedBytes: number;
  /** Size of the .wasm file read (the files' offsets are into it). */
  wasmSize: number;
}

class Unsupported extends Error {}
const BLOCK = 64 * 1024;

/** Positional reads of a file; small reads come from 64 KiB blocks read once (the table and names are close). */
class Reader {
  private readonly blocks = new Map<number, Buffer>();
  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}
  read(position: number, length: number): Buffer {
    const first = Math.floor(position / BLOCK);
    if (length <= 4096 && first === Math.floor((position + length - 1) / BLOCK)) {
      let block = this.blocks.get(first);
      if (!block) this.blocks.set(first, (block = this.readRaw(first * BLOCK, Math.min(BLOCK, this.size - first * BLOCK))));
      const at = position - first * BLOCK;
      if (at + length > block.length) throw new Unsupported('unexpected end of file');
      return block.subarray(at, at + length);
    }
    return this.readRaw(position, length);
  }
  private readRaw(position: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) throw new Unsupported('unexpected end of file');
      done += n;
    }
    return buf;
  }
}

/** A cursor over bytes already read, with the WASM encodings. */
class Cursor {
  constructor(readonly buf: Buffer, public pos = 0) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new Unsupported('truncated');
    return this.buf[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw new Unsupported('bad LEB128');
  }
  /** Skips a signed LEB128 of up to 64 bits; returns it when it fits a 32-bit integer. */
  s64(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      if (shift < 32) result |= (b & 0x7f) << shift;
      shift += 7;
      if (shift > 70) throw new Unsupported('bad LEB128');
    } while (b & 0x80);
    if (shift < 32 && b & 0x40) result |= -1 << shift;
    return result;
  }
  skip(n: number): void {
    this.pos += n;
  }
  name(): string {
    const n = this.u32();
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
  /** A constant expression: its value when it is a lone i32.const, else undefined. */
  constExpr(): number | undefined {
    let value: number | undefined;
    let ops = 0;
    for (;;) {
      const op = this.byte();
      if (op === 0x0b) return ops === 1 ? value : undefined;
      ops++;
      value = undefined;
      if (op === 0x41) value = this.s64();
      else if (op === 0x42) this.s64();
      else if (op === 0x43) this.skip(4);
      else if (op === 0x44) this.skip(8);
      else if (op === 0x23 || op === 0xd2) this.u32();
      else if (op === 0xd0) this.byte();
      else throw new Unsupported(`constant expression opcode 0x${op.toString(16)}`);
    }
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

interface Section {
  id: number;
  /** Offset of the contents in the file, and their size. */
  at: number;
  size: number;
  /** The contents (all sections but the data section are read whole). */
  body?: Buffer;
}

interface Segment {
  /** Memory address the segment is written to. */
  address: number;
  length: number;
  /** Offset of its bytes in the file. */
  at: number;
}

/** Reads the sections' places (and every section's contents but the data section's). */
function sections(reader: Reader, fileSize: number): Section[] {
  const header = reader.read(0, 8);
  if (header.readUInt32LE(0) !== 0x6d736100 || header.readUInt32LE(4) !== 1) throw new Unsupported('not a WASM module');
  const out: Section[] = [];
  let pos = 8;
  while (pos < fileSize) {
    const head = new Cursor(reader.read(pos, Math.min(6, fileSize - pos)));
    const id = head.byte();
    const size = head.u32();
    const at = pos + head.pos;
    if (at + size > fileSize) throw new Unsupported('section past the end');
    out.push({ id, at, size, ...(id === 11 ? {} : { body: reader.read(at, size) }) });
    pos = at + size;
  }
  return out;
}

/** The value of the exported i32 global `name` (imported globals come first in the index space). */
function exportedGlobal(list: Section[], name: string): number {
  let index: number | undefined;
  const exports = list.find((s) => s.id === 7);
  if (!exports) throw new Unsupported('no export section');
  const ec = new Cursor(exports.body!);
  for (let n = ec.u32(); n > 0; n--) {
    const exportName = ec.name();
    const kind = ec.byte();
    const i = ec.u32();
    if (kind === 3 && exportName === name) index = i;
  }
  if (index === undefined) throw new Unsupported(`no ${name} export`);
  let imported = 0;
  const imports = list.find((s) => s.id === 2);
  if (imports) {
    const ic = new Cursor(imports.body!);
    for (let n = ic.u32(); n > 0; n--) {
      ic.name();
      ic.name();
      const kind = ic.byte();
      if (kind === 0) ic.u32();
      else if (kind === 1) {
        ic.byte();
        ic.limits();
      } else if (kind === 2) ic.limits();
      else if (kind === 3) {
        ic.skip(2);
        imported++;
      } else if (kind === 4) {
        ic.byte();
        ic.u32();
      } else throw new Unsupported(`import kind ${kind}`);
    }
  }
  if (index < imported) throw new Unsupported(`${name} is imported`);
  const globals = list.find((s) => s.id === 6);
  if (!globals) throw new Unsupported('no global section');
  const gc = new Cursor(globals.body!);
  const count = gc.u32();
  for (let i = 0; i < count; i++) {
    gc.skip(2); // type, mutability
    const value = gc.constExpr();
    if (i === index - imported) {
      if (value === undefined) throw new Unsupported(`${name} is not an i32 constant`);
      return value >>> 0;
    }
  }
  throw new Unsupported(`global ${index} missing`);
}

/** The data section's segments: all active, memory 0, at constant addresses (anything else is not supported). */
function segments(reader: Reader, data: Section): Segment[] {
  const out: Segment[] = [];
  // Segment headers are small; read them as they come (the bytes between them are skipped).
  let pos = data.at;
  const end = data.at + data.size;
  const first = new Cursor(reader.read(pos, Math.min(5, data.size)));
  const count = first.u32();
  pos += first.pos;
  for (let i = 0; i < count; i++) {
    const c = new Cursor(reader.read(pos, Math.min(32, end - pos)));
    const flags = c.u32();
    if (flags === 2) {
      if (c.u32() !== 0) throw new Unsupported('a segment for another memory');
    } else if (flags !== 0) throw new Unsupported('a passive data segment');
    const address = c.constExpr();
    if (address === undefined) throw new Unsupported('a segment at a computed address');
    const length = c.u32();
    const at = pos + c.pos;
    if (at + length > end) throw new Unsupported('segment past the end of its section');
    out.push({ address: address >>> 0, length, at });
    pos = at + length;
  }
  if (pos !== end) throw new Unsupported('data section size mismatch');
  return out;
}

/** Reads `length` bytes of the initial memory image at `address` (zero where no segment writes). */
function memory(reader: Reader, segs: Segment[], address: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (const g of segs) {
    const a = Math.max(address, g.address);
    const b = Math.min(address + length, g.address + g.length);
    if (a < b) reader.read(g.at + (a - g.address), b - a).copy(out, a - address);
  }
  return out;
}

function fileAt(segs: Segment[], address: number, length: number): number {
  if (length === 0) return 0;
  const s = segs.find((g) => address >= g.address && address + length <= g.address + g.length);
  if (!s) throw new Unsupported(`file contents ${address}+${length} are not in one data segment`);
  return s.at + (address - s.address);
}

/** The embedded-file table: { name, len, content } entries of three u32s, as the glue's loader walks it. */
function embeddedFiles(reader: Reader, segs: Segment[], table: number): { name: string; address: number; length: number; at: number }[] {
  const out: { name: string; address: number; length: number; at: number }[] = [];
  let ptr = table;
  for (;;) {
    const entry = memory(reader, segs, ptr, 16);
    const nameAddress = entry.readUInt32LE(0);
    const length = entry.readUInt32LE(4);
    const address = entry.readUInt32LE(8);
    const raw = memory(reader, segs, nameAddress, 512);
    const nul = raw.indexOf(0);
    if (nul <= 1) throw new Unsupported('a file name without its end');
    const name = raw.toString('utf8', 0, nul);
    if (!name.startsWith('/') || !/^[\x20-\x7e]+$/.test(name)) throw new Unsupported(`odd file name ${JSON.stringify(name)}`);
    out.push({ name, address, length, at: fileAt(segs, address, length) });
    if (out.length > 100_000) throw new Unsupported('file table without an end');
    ptr += 12;
    if (entry.readUInt32LE(12) === 0) return out; // the glue's do { … } while (HEAPU32[ptr >> 2])
  }
}

/** The parts of [start, end) outside the sorted, merged ranges. */
function subtract(start: number, end: number, ranges: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let pos = start;
  for (const [a, b] of ranges) {
    if (b <= pos || a >= end) continue;
    if (a > pos) out.push([pos, a]);
    pos = Math.max(pos, b);
  }
  if (pos < end) out.push([pos, end]);
  return out;
}

/**
 * The espeak-ng module at `wasmPath` without its embedded files' bytes, and where those bytes are; undefined when
 * the build is not laid out as expected (then the caller compiles the module as it is).
 */
export function leanEspeakWasm(wasmPath: string): LeanWasm | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(wasmPath, 'r');
    const size = fstatSync(fd).size;
    const reader = new Reader(fd, size);
    const list = sections(reader, size);
    const data = list.find((s) => s.id === 11);
    if (!data || list.filter((s) => s.id === 11).length !== 1) throw new Unsupported('no single data section');
    const segs = segments(reader, data);
    const files = embeddedFiles(reader, segs, exportedGlobal(list, '__emscripten_embedded_file_data'));
    const ranges = files
      .filter((f) => f.length > 0)
      .map((f): [number, number] => [f.address, f.address + f.length])
      .sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    // The new data section: each segment's bytes outside the files' contents.
    const body: Buffer[] = [];
    let kept = 0;
    for (const s of segs) {
      for (const [a, b] of subtract(s.address, s.address + s.length, merged)) {
        kept++;
        body.push(Buffer.from([0x00, 0x41, ...sleb32(a), 0x0b, ...leb(b - a)]), reader.read(s.at + (a - s.address), b - a));
      }
    }
    const dataBody = Buffer.concat([Buffer.from(leb(kept)), ...body]);
    const parts: Buffer[] = [Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])];
    for (const s of list) {
      const contents = s.id === 11 ? dataBody : s.id === 12 ? Buffer.from(leb(kept)) : s.body!;
      parts.push(Buffer.from([s.id, ...leb(contents.length)]), contents);
    }
    const bytes = Buffer.concat(parts);
    const omittedBytes = merged.reduce((n, [a, b]) => n + b - a, 0);
    return { bytes, files: files.map(({ name, at, length }) => ({ name, at, length })), omittedBytes, wasmSize: size };
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function sleb32(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}
