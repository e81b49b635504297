import type * as z from 'zod';
import { type InputIssue, jsonPath } from '@entropy/protocol';

/** zod's issues as InputIssues: an unknown key is reported at its own path, where a user looks for it. */
export function inputIssues(error: z.ZodError): InputIssue[] {
  return error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((key) => ({ path: jsonPath([...i.path, key]), reason: `unknown field '${key}'` }))
      : [{ path: jsonPath(i.path), reason: i.message }],
  );
}
