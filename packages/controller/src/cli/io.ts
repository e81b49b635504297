import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { EntropyError, ErrorCode } from '../errors.ts';

/**
 * Reads a JSON file, plain or gzip-compressed; a missing file or bad JSON is an EntropyError naming
 * the file, with `code` telling what kind of file was expected.
 */
export function readJsonFile(file: string, code: ErrorCode = ErrorCode.InvalidInstance): unknown {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (cause) {
    throw new EntropyError(ErrorCode.Io, `${file}: cannot read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  let text: string;
  try {
    text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (cause) {
    throw new EntropyError(code, `${file}: not valid gzip (${(cause as Error).message})`, { cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new EntropyError(code, `${file}: not valid JSON (${(cause as Error).message})`, { cause });
  }
}

/** Writes a file the user asked for; failing is an EntropyError naming it. */
export function writeTextFile(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (cause) {
    throw new EntropyError(ErrorCode.Io, `${file}: cannot write (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
}

/** What a CLI handler returns: the text to print and the exit code. Handlers never print. */
export interface CommandResult {
  readonly output: string;
  readonly exitCode: number;
}
