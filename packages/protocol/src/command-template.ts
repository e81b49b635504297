import { EntropyError } from './entropy-error.ts';
import { ErrorCode } from './error-codes.ts';
/**
 * Commands an operator gives on a command line (the agent's `--shutdown-command`, the controller's
 * `--boot-command`), split into an argv once, at start, and run later without a shell: a node id
 * substituted into `{node}` stays one argument whatever it holds. Pure; the processes run them.
 *
 * Two spellings: a JSON array of strings (`["ipmitool", "-H", "{node}-bmc", "chassis", "power", "on"]`),
 * or words as a POSIX shell splits them: blanks separate, single quotes keep everything, double quotes
 * keep everything but `\"` and `\\`, a backslash outside quotes keeps the next character. Unquoted
 * shell operators are refused, since no shell would run them: `sh -c '...'` says so explicitly.
 */
export interface CommandTemplate {
  /** The words as given, placeholders unreplaced; `argv[0]` is the program. */
  readonly argv: readonly string[];
}

export const CommandTemplateErrorCode = ErrorCode.CommandTemplate;

/** A template that does not parse; `option` names the command-line option it came from. */
export class CommandTemplateError extends EntropyError {
  override name = 'CommandTemplateError';
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(ErrorCode.CommandTemplate, `${option}: ${message}`, { context: { option } });
  }
}

export interface CommandTemplateOptions {
  /** The option the text comes from, for error messages (`--boot-command`). */
  readonly option: string;
  /** Placeholders the template may use, without braces (`node`). */
  readonly placeholders: readonly string[];
  /** Placeholders it must use. */
  readonly required?: readonly string[];
  /**
   * Refuse a placeholder inside quotes (`'{vjob}'`, `"{vm}"`), or, in a JSON argv, inside a word
   * holding blanks (`["sh", "-c", "echo {vjob}"]`): such a word is shell code, and a value put into
   * it would be read by that shell. Each placeholder then stays one argument of its own program.
   */
  readonly unquotedPlaceholders?: boolean;
}

const PLACEHOLDER_RE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const SHELL_OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`']);

export function parseCommandTemplate(text: string, options: CommandTemplateOptions): CommandTemplate {
  const fail = (message: string): never => {
    throw new CommandTemplateError(options.option, message);
  };
  const trimmed = text.trim();
  const quoted = options.unquotedPlaceholders === true;
  const argv = trimmed.startsWith('[') ? jsonArgv(trimmed, fail, quoted) : splitWords(trimmed, fail, quoted);
  if (argv.length === 0 || argv[0] === '') fail('is empty: give a program and its arguments');
  const used = new Set<string>();
  for (const word of argv)
    for (const m of word.matchAll(PLACEHOLDER_RE)) {
      if (!options.placeholders.includes(m[1]!))
        fail(`unknown placeholder {${m[1]}} (known: ${options.placeholders.map((p) => `{${p}}`).join(' ') || 'none'})`);
      used.add(m[1]!);
    }
  for (const r of options.required ?? [])
    if (!used.has(r)) fail(`must use {${r}} (as one word, or part of one): ${JSON.stringify(text)}`);
  return { argv };
}

/** The argv with every placeholder replaced; a value stays inside the word it was put in. */
export function commandArgv(template: CommandTemplate, values: Readonly<Record<string, string>>): string[] {
  return template.argv.map((word) => word.replace(PLACEHOLDER_RE, (all, name: string) => values[name] ?? all));
}

/** One line for logs: each word JSON-quoted when it needs it. */
export function describeCommand(argv: readonly string[]): string {
  return argv.map((w) => (/^[A-Za-z0-9_./:=@%+,{}-]+$/.test(w) ? w : JSON.stringify(w))).join(' ');
}

/** The argv of a JSON array (`["prog", "arg"]`), as a template (`parseCommandTemplate`) or already parsed. */
export function parseCommandArgv(argv: readonly string[], options: CommandTemplateOptions): CommandTemplate {
  return parseCommandTemplate(JSON.stringify(argv), options);
}

const holdsPlaceholder = (s: string) => /\{[A-Za-z_][A-Za-z0-9_]*\}/.test(s);

function jsonArgv(text: string, fail: (message: string) => never, unquotedPlaceholders = false): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    fail(`starts with '[' but is not a JSON array: ${(err as Error).message}`);
  }
  if (!Array.isArray(value) || !value.every((w) => typeof w === 'string'))
    fail('a JSON argv must be an array of strings');
  if (unquotedPlaceholders)
    for (const w of value as string[])
      if (/\s/.test(w) && holdsPlaceholder(w))
        fail(
          `placeholder in a word with blanks (${JSON.stringify(w)}): that word is shell code; pass the value as an argument of its own ("$1")`,
        );
  return value as string[];
}

function splitWords(text: string, fail: (message: string) => never, unquotedPlaceholders = false): string[] {
  const quotedPlaceholder = (s: string, at: number) => {
    if (unquotedPlaceholders && holdsPlaceholder(s))
      fail(
        `placeholder inside quotes at character ${at + 1}: each placeholder is passed as one argument without a shell; remove the quotes`,
      );
  };
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  const add = (s: string) => (word = (word ?? '') + s);
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== undefined) words.push(word);
      word = undefined;
      i++;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail(`unterminated single quote at character ${i + 1}`);
      quotedPlaceholder(text.slice(i + 1, end), i);
      add(text.slice(i + 1, end));
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let s = '';
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) j++;
        s += text[j];
      }
      if (j >= text.length) fail(`unterminated double quote at character ${i + 1}`);
      quotedPlaceholder(s, i);
      add(s);
      i = j + 1;
    } else if (c === '\\') {
      if (i + 1 >= text.length) fail('ends with a lone backslash');
      add(text[i + 1]!);
      i += 2;
    } else if (SHELL_OPERATORS.has(c)) {
      fail(`unquoted '${c}' at character ${i + 1}: the command runs without a shell; write sh -c '...' to use one`);
    } else {
      add(c);
      i++;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}
