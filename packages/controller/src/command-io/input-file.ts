import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { EntropyError, ErrorCode } from '@entropy/protocol';

/**
 * Every file the CLI reads goes through here: a regular file (or `-`, standard input) read up to a
 * size limit, so that `entropy plan /dev/zero` or a directory is one line and bounded memory, never
 * a read without end. The limit is the process's (`--max-input-size`), 256 MiB unless raised.
 */

export const DEFAULT_MAX_INPUT_BYTES = 256 * 1024 * 1024;

let maxInputBytes = DEFAULT_MAX_INPUT_BYTES;

/** Sets the limit of every later read (`entropy --max-input-size`). */
export function setMaxInputBytes(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 1)
    throw new RangeError(`the input size limit must be a positive integer, got ${bytes}`);
  maxInputBytes = bytes;
}

export function maxInputSize(): number {
  return maxInputBytes;
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
};

/** `1048576`, `512KiB`, `256MiB`, `4G`: a positive byte count, or undefined. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) return undefined;
  const n = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

const KIND_OF_MODE: readonly [number, string][] = [
  [0o040000, 'a directory'],
  [0o020000, 'a character device'],
  [0o060000, 'a block device'],
  [0o010000, 'a FIFO'],
  [0o140000, 'a socket'],
];

function notRegular(mode: number): string {
  const type = mode & 0o170000;
  return KIND_OF_MODE.find(([m]) => m === type)?.[1] ?? 'not a regular file';
}

const limitHint = () => `the limit is ${maxInputBytes} bytes (raise it with --max-input-size)`;

/** The bytes of a file the user named, or of standard input for `-`: bounded, one-line EntropyErrors naming it. */
export function readInputBytes(file: string): Buffer {
  let fd: number;
  const stdin = file === '-';
  try {
    // /dev/stdin is a blocking descriptor even when Node's fd 0 is not. A named file is opened without
    // blocking, so that a FIFO without a writer is refused below instead of waiting forever.
    fd = stdin ? openSync('/dev/stdin', 'r') : openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    throw new EntropyError(
      ErrorCode.Io,
      `${file}: cannot read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`,
      { cause },
    );
  }
  try {
    const st = fstatSync(fd);
    if (!stdin && !st.isFile())
      throw new EntropyError(ErrorCode.Io, `${file}: ${notRegular(st.mode)}, not a regular file`);
    if (st.isFile() && st.size > maxInputBytes)
      throw new EntropyError(ErrorCode.Io, `${file}: ${st.size} bytes, too large: ${limitHint()}`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxInputBytes + 1 - total));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw new EntropyError(
          ErrorCode.Io,
          `${file}: cannot read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`,
          { cause },
        );
      }
      if (n === 0) break;
      total += n;
      // The file may grow between the check and the read (or be a pipe): the limit holds anyway.
      if (total > maxInputBytes)
        throw new EntropyError(ErrorCode.Io, `${file}: more than ${maxInputBytes} bytes, too large: ${limitHint()}`);
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
    return Buffer.concat(chunks, total);
  } finally {
    closeSync(fd);
  }
}

/** A file's text: gunzipped when it starts with gzip's magic bytes (within the same limit), else UTF-8. */
export function readInputText(file: string, code: ErrorCode = ErrorCode.Io): string {
  const bytes = readInputBytes(file);
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes.toString('utf8');
  try {
    return gunzipSync(bytes, { maxOutputLength: maxInputBytes }).toString('utf8');
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE')
      throw new EntropyError(
        code,
        `${file}: more than ${maxInputBytes} bytes once gunzipped, too large: ${limitHint()}`,
        { cause },
      );
    throw new EntropyError(code, `${file}: not valid gzip (${e.message})`, { cause });
  }
}
