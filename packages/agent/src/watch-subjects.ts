/** What entropy-watch subscribes to, and whether it shows replies whose request it did not see. */
export interface WatchSubscriptions {
  readonly subjects: readonly string[];
  readonly unpairedReplies: boolean;
}

/** A NATS subject or pattern: dot-separated tokens, `*` a whole token, `>` only last. */
const SUBJECT_RE = /^([^\s.*>]+|\*)(\.([^\s.*>]+|\*))*(\.>)?$|^>$/;

/**
 * Without a filter: everything under the prefix, and every reply (under each inbox prefix), shown
 * whether its request was seen or not. With filters: those subjects, and the replies subscription
 * for the replies to their requests only; a filter that names replies itself (`_INBOX.>`) shows them all.
 */
export function watchSubscriptions(
  filters: readonly string[],
  prefix: string,
  inboxPrefixes: readonly string[],
): WatchSubscriptions {
  for (const f of filters)
    if (!SUBJECT_RE.test(f))
      throw new Error(
        `${JSON.stringify(f)} is not a NATS subject (tokens separated by dots, * for one token, > for the rest)`,
      );
  const watched = filters.length > 0 ? [...new Set(filters)] : [`${prefix}.>`];
  const namesReplies = (f: string) => f === '>' || inboxPrefixes.some((p) => f === `${p}.>` || f.startsWith(`${p}.`));
  const replies = inboxPrefixes.map((p) => `${p}.>`).filter(() => !watched.some(namesReplies));
  return { subjects: [...watched, ...replies], unpairedReplies: filters.length === 0 || filters.some(namesReplies) };
}
