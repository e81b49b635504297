import { jsonPath, type InputIssue } from '@entropy/protocol';

type Path = readonly PropertyKey[];

/**
 * Reads untyped JSON with every problem recorded under its JSON path, so that one pass reports all
 * of them (`$.constraints[12].id: unknown constraint 'foo'`). Hand-written rather than a schema:
 * BtrPlace instances hold tens of thousands of small maps, and this stays linear and cheap.
 */
export class JsonReader {
  readonly issues: InputIssue[] = [];

  report(path: Path, reason: string): undefined {
    if (this.issues.length < 50) this.issues.push({ path: jsonPath(path), reason });
    return undefined;
  }

  object(x: unknown, path: Path): Record<string, unknown> | undefined {
    if (typeof x === 'object' && x !== null && !Array.isArray(x)) return x as Record<string, unknown>;
    return this.report(path, x === undefined ? 'is missing' : 'must be an object');
  }

  array(x: unknown, path: Path): unknown[] | undefined {
    if (Array.isArray(x)) return x;
    return this.report(path, x === undefined ? 'is missing' : 'must be an array');
  }

  int(x: unknown, path: Path): number | undefined {
    if (typeof x === 'number' && Number.isInteger(x)) return x;
    return this.report(path, x === undefined ? 'is missing' : `must be an integer, got ${JSON.stringify(x)}`);
  }

  number(x: unknown, path: Path): number | undefined {
    if (typeof x === 'number' && Number.isFinite(x)) return x;
    return this.report(path, x === undefined ? 'is missing' : `must be a number, got ${JSON.stringify(x)}`);
  }

  string(x: unknown, path: Path): string | undefined {
    if (typeof x === 'string') return x;
    return this.report(path, x === undefined ? 'is missing' : 'must be a string');
  }

  boolean(x: unknown, path: Path, fallback: boolean): boolean {
    if (x === undefined) return fallback;
    if (typeof x === 'boolean') return x;
    this.report(path, 'must be true or false');
    return fallback;
  }

  /** An integer id given as an object key ("12"). */
  key(k: string, path: Path): number | undefined {
    const n = Number(k);
    if (k !== '' && Number.isInteger(n)) return n;
    return this.report(path, `'${k}' is not an integer id`);
  }
}
