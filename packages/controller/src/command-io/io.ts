import { writeFileSync } from 'node:fs';
import { EntropyError, ErrorCode } from '@entropy/protocol';
import { readInputText } from './input-file.ts';

/**
 * Reads a JSON file, plain or gzip-compressed (`-` for standard input), a regular file within the
 * input size limit; a missing file or bad JSON is an EntropyError naming the file, with `code`
 * telling what kind of file was expected.
 */
export function readJsonFile(file: string, code: ErrorCode = ErrorCode.InvalidInstance): unknown {
  const text = readInputText(file, code);
  try {
    return JSON.parse(text);
  } catch (cause) {
    // A nesting too deep for the parser is a RangeError: one line too.
    throw new EntropyError(code, `${file}: not valid JSON (${(cause as Error).message})`, { cause });
  }
}

/** Writes a file the user asked for; failing is an EntropyError naming it. */
export function writeTextFile(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (cause) {
    throw new EntropyError(
      ErrorCode.Io,
      `${file}: cannot write (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`,
      { cause },
    );
  }
}

/** What a CLI handler returns: the text to print and the exit code. Handlers never print. */
export interface CommandResult {
  readonly output: string;
  readonly exitCode: number;
}
