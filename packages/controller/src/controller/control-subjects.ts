import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  type ApplyReply,
  type ApplyRequest,
  ControlErrorCode,
  decodeControl,
  encodeControl,
  type Logger,
  type Subjects,
} from '@entropy/protocol';
import type { MonitorView } from '../monitor/index.ts';
import { respondChunked } from './nats-connect.ts';
import type { NodeBook } from './node-book.ts';
import { nodePowerRequest } from './node-power-request.ts';
import type { queueRequestHandlers } from './queue-requests.ts';
import type { ReviewRequestHandlers } from './review-requests.ts';
import { statusReplyOf } from './status-reply.ts';

/** What the control subjects answer from: the controller's parts, as functions of the moment. */
export interface ControlDeps {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly name: string;
  readonly logger: Logger;
  readonly view: () => MonitorView;
  readonly runningPlan: () => string | undefined;
  readonly leading: () => boolean;
  readonly apply: (request: ApplyRequest) => Promise<ApplyReply>;
  readonly queueRequests: ReturnType<typeof queueRequestHandlers>;
  readonly nodes: NodeBook;
  /** Why the controller cannot power a node into that state, or undefined when it can. */
  readonly powerUnsupported: (state: 'online' | 'offline') => string | undefined;
  readonly nodeRequested: (node: string) => void;
  /** Saved plans, proposals, approvals and rejections (review before apply). */
  readonly review?: ReviewRequestHandlers;
  /** `entropy explain VJOB`; absent: the verb is not served. */
  readonly explain?: (data: Uint8Array) => Uint8Array;
}

/**
 * Serves the control subjects (status, apply, submit, queue, cancel, node, explain) until the returned
 * subscriptions are unsubscribed: the leader's only, so that a standby answers nothing and clients
 * reach the leader. Every reply goes out in chunks (respondChunked): status, queue and apply grow
 * with the cluster; a handler that throws is an ENTROPY_INTERNAL reply and a log line.
 */
export function serveControlSubjects(d: ControlDeps): Subscription[] {
  const { nc, subjects: s, logger } = d;
  const subs: Subscription[] = [];
  const serve = (subject: string, handle: (m: Msg) => Promise<Uint8Array> | Uint8Array) => {
    const sub = nc.subscribe(subject);
    subs.push(sub);
    void (async () => {
      for await (const m of sub) {
        Promise.resolve()
          .then(() => handle(m))
          .catch((err: Error) => {
            logger.error({ subject: m.subject, err: err.message }, 'control request failed');
            return encodeControl('applyReply', {
              ok: false,
              error: { code: ControlErrorCode.Internal, message: err.message },
            });
          })
          .then((reply) => respondChunked(nc, m, reply))
          .catch((err: Error) => logger.error({ subject: m.subject, err: err.message }, 'control reply not sent'));
      }
    })();
  };
  serve(s.control('status'), () =>
    encodeControl('statusReply', statusReplyOf(d.view(), d.name, d.runningPlan(), d.nodes.records())),
  );
  serve(s.control('apply'), async (m) => {
    const r = decodeControl('applyRequest', m.data);
    if (!r.ok) {
      logger.warn({ subject: m.subject, ...r.error }, 'malformed apply request');
      return encodeControl('applyReply', {
        ok: false,
        error: {
          code: ControlErrorCode.BadRequest,
          message: `${r.error.field}: ${r.error.reason}`,
          field: r.error.field,
        },
      });
    }
    const reply = await d.apply(r.msg);
    if (!reply.ok) logger.warn({ planId: r.msg.planId, ...reply.error }, 'apply refused');
    return encodeControl('applyReply', reply);
  });
  serve(s.control('submit'), (m) => d.queueRequests.submit(m.data));
  serve(s.control('queue'), (m) => d.queueRequests.queue(m.data));
  serve(s.control('cancel'), (m) => d.queueRequests.cancel(m.data));
  const explain = d.explain;
  if (explain) serve(s.control('explain'), (m) => explain(m.data));
  serve(s.control('node'), (m) =>
    nodePowerRequest(
      {
        logger,
        leading: d.leading,
        view: d.view,
        records: () => d.nodes.records(),
        knownNodes: () => d.nodes.knownNodes(),
        unsupported: d.powerUnsupported,
        update: d.nodes.update,
        requested: d.nodeRequested,
      },
      m.data,
    ),
  );
  if (d.review) {
    const review = d.review;
    serve(s.control('execute'), (m) => review.execute(m.data));
    serve(s.control('plans'), (m) => review.plans(m.data));
    serve(s.control('approve'), (m) => review.approve(m.data));
    serve(s.control('reject'), (m) => review.reject(m.data));
  }
  return subs;
}
