import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '../packages/agent/src/index.ts';
import { type ActionRequest, type ActionResult, decode, encode, subjects } from '../packages/protocol/src/index.ts';
import { connectNats } from '../packages/controller/src/controller/nats-connect.ts';
import {
  agentUser,
  CONTROLLER_USER,
  OBSERVER_USER,
  OPERATOR_USER,
} from '../packages/controller/src/deploy/nats-roles.ts';
import { natsTransport } from '../packages/controller/src/executor/nats-transport.ts';
import { planNonces } from '../packages/controller/src/executor/result-check.ts';
import { startNatsServer } from './helpers/nats-server.ts';
import { type SecuredNats, startSecuredNats } from './helpers/secured-nats.ts';
import { waitFor } from './helpers/wait-for.ts';

/**
 * The security suite: a nats-server with the configuration `entropy deploy nats-config` writes,
 * and each role trying every right it must not have. Each forbidden publish must come back as the
 * server's permission violation and never reach a subscriber; each forbidden subscription must be
 * closed by the server. Attempts and refusals are counted, and must be equal.
 */

const s = subjects();
const PAYLOAD = new TextEncoder().encode('forged');

interface RoleRights {
  readonly user: string;
  readonly publishForbidden: readonly string[];
  readonly subscribeForbidden: readonly string[];
  /** What the role does: must go through, so that the refusals above are not a server refusing everything. */
  readonly publishAllowed: readonly string[];
  readonly subscribeAllowed: readonly string[];
}

const controlAll = [
  'status',
  'apply',
  'submit',
  'queue',
  'cancel',
  'node',
  'execute',
  'plans',
  'approve',
  'reject',
  'explain',
] as const;
const nodeLeaves = (node: string) => [
  s.nodeAction(node),
  s.nodeLedger(node),
  s.nodeMeta(node),
  s.nodePower(node),
  s.simLink(node),
];

const ROLES: readonly RoleRights[] = [
  {
    user: agentUser('n1'),
    publishForbidden: [
      s.nodeStatus('n2'),
      s.nodeHello('n2'),
      ...nodeLeaves('n2'),
      ...nodeLeaves('n1'),
      ...controlAll.map((v) => s.control(v)),
      s.planProgress('p1'),
      'entropy.journal.p1',
      // A result forged into the controller's inbox, another agent's, the operator's.
      '_INBOX.entropy-controller.abc.1',
      '_INBOX.agent-n2.abc',
      '_INBOX.entropy-operator.abc.1',
      '_INBOX.x',
      '$JS.API.STREAM.INFO.entropy_journal',
      '$JS.API.STREAM.DELETE.KV_entropy_queue',
      '$KV.entropy_queue.j1',
      'other.subject',
    ],
    subscribeForbidden: [
      ...nodeLeaves('n2'),
      s.nodeStatus('n2'),
      'entropy.node.*.action',
      'entropy.node.n2.>',
      'entropy.node.*.status',
      s.allNodeHello(),
      'entropy.control.>',
      s.allPlanProgress(),
      'entropy.>',
      '>',
      '_INBOX.agent-n2.>',
      '_INBOX.entropy-controller.>',
      '_INBOX.entropy-operator.>',
      '_INBOX.>',
      '_INBOX.*.>',
      '$KV.entropy_queue.>',
      '$JS.API.>',
    ],
    publishAllowed: [s.nodeStatus('n1'), s.nodeHello('n1')],
    subscribeAllowed: [...nodeLeaves('n1'), '_INBOX.agent-n1.>'],
  },
  {
    user: OPERATOR_USER,
    publishForbidden: [
      ...nodeLeaves('n1'),
      s.nodeStatus('n1'),
      s.nodeHello('n1'),
      s.planProgress('p1'),
      'entropy.journal.p1',
      '_INBOX.entropy-controller.abc.1',
      '_INBOX.agent-n1.abc',
      '$KV.entropy_queue.j1',
      '$KV.entropy_leader.leader',
      '$JS.API.STREAM.DELETE.entropy_journal',
      '$JS.API.STREAM.PURGE.entropy_journal',
      '$JS.API.STREAM.CREATE.x',
      '$JS.API.CONSUMER.CREATE.KV_entropy_queue',
    ],
    subscribeForbidden: [
      s.nodeAction('n1'),
      s.allNodeStatus(),
      s.allNodeHello(),
      'entropy.control.>',
      'entropy.>',
      '_INBOX.entropy-controller.>',
      '_INBOX.agent-n1.>',
      '_INBOX.>',
      '$KV.entropy_queue.>',
    ],
    publishAllowed: controlAll.map((v) => s.control(v)),
    subscribeAllowed: [s.allPlanProgress(), '_INBOX.entropy-operator.>'],
  },
  {
    user: OBSERVER_USER,
    publishForbidden: [
      ...(['apply', 'submit', 'cancel', 'node', 'execute', 'plans', 'approve', 'reject'] as const).map((v) =>
        s.control(v),
      ),
      ...nodeLeaves('n1'),
      s.nodeStatus('n1'),
      s.nodeHello('n1'),
      s.planProgress('p1'),
      'entropy.journal.p1',
      '_INBOX.entropy-controller.abc.1',
      '_INBOX.agent-n1.abc',
      '$JS.API.INFO',
      '$KV.entropy_queue.j1',
    ],
    subscribeForbidden: ['>', '$KV.entropy_queue.>', '$JS.API.>', 'other.>'],
    publishAllowed: [s.control('status'), s.control('queue'), s.control('explain')],
    subscribeAllowed: ['entropy.>', '_INBOX.>'],
  },
  {
    // The controller speaks for no agent and changes no queue through the operator's subjects.
    user: CONTROLLER_USER,
    publishForbidden: [
      s.nodeStatus('n1'),
      s.nodeHello('n1'),
      s.simLink('n1'),
      s.control('apply'),
      s.control('cancel'),
      'other.subject',
    ],
    subscribeForbidden: [s.nodeAction('n1'), s.allPlanProgress(), 'entropy.>', '_INBOX.agent-n1.>', '>'],
    publishAllowed: [s.nodeAction('n1'), s.planProgress('p1'), '_INBOX.agent-n1.abc'],
    subscribeAllowed: [s.allNodeStatus(), s.allNodeHello(), 'entropy.control.*', '_INBOX.entropy-controller.>'],
  },
];

/** A connection's permission violations, as the server reports them. */
function violations(nc: NatsConnection): { operation: string; subject: string }[] {
  const seen: { operation: string; subject: string }[] = [];
  void (async () => {
    for await (const st of nc.status()) {
      const err =
        st.type === 'error' ? (st.error as { name?: string; operation?: string; subject?: string }) : undefined;
      if (err?.name === 'PermissionViolationError')
        seen.push({ operation: err.operation ?? '', subject: err.subject ?? '' });
    }
  })();
  return seen;
}

describe('security: each role of the generated configuration, on a real nats-server', () => {
  let nats: SecuredNats;
  /** Subscribed to everything an observer may read: a forbidden publication that got through would land here. */
  const delivered: string[] = [];
  const tally = { publish: { attempts: 0, refused: 0 }, subscribe: { attempts: 0, refused: 0 } };

  beforeAll(async () => {
    nats = await startSecuredNats({ nodes: ['n1', 'n2'] });
    const witness = await nats.connectAs(OBSERVER_USER);
    for (const subject of ['entropy.>', '_INBOX.>'])
      witness.subscribe(subject, { callback: (_e, m) => void delivered.push(m.subject) });
    await witness.flush();
  });

  afterAll(async () => {
    await nats?.stop();
    // Printed for the record: what the suite tried and what the server refused.
    process.stdout.write(`security suite: ${JSON.stringify(tally)}\n`);
  });

  for (const role of ROLES) {
    it(`${role.user}: every forbidden publish and subscribe is refused by the server; its own rights work`, async () => {
      const nc = await nats.connectAs(role.user);
      const refused = violations(nc);
      delivered.splice(0);

      for (const subject of role.publishForbidden) nc.publish(subject, PAYLOAD);
      await nc.flush();
      await waitFor(
        `${role.user}'s ${role.publishForbidden.length} publish refusals`,
        () => role.publishForbidden.every((sub) => refused.some((r) => r.operation === 'publish' && r.subject === sub)),
        20_000,
      );
      tally.publish.attempts += role.publishForbidden.length;
      tally.publish.refused += role.publishForbidden.filter((sub) =>
        refused.some((r) => r.operation === 'publish' && r.subject === sub),
      ).length;

      let subsRefused = 0;
      for (const subject of role.subscribeForbidden) {
        const sub = nc.subscribe(subject);
        const closed = await Promise.race([sub.closed, delay(20_000).then(() => 'still open' as const)]);
        if (closed instanceof Error && /permissions violation for subscription/i.test(closed.message)) subsRefused++;
        else expect.fail(`${role.user} could subscribe to ${subject} (${String(closed)})`);
      }
      tally.subscribe.attempts += role.subscribeForbidden.length;
      tally.subscribe.refused += subsRefused;
      expect(subsRefused).toBe(role.subscribeForbidden.length);

      // Its own rights: subscriptions stay open, publications raise no violation and reach a reader.
      const subs = role.subscribeAllowed.map((subject) => nc.subscribe(subject));
      for (const subject of role.publishAllowed) nc.publish(subject, PAYLOAD);
      await nc.flush();
      await delay(200);
      await nc.flush();
      expect(subs.filter((x) => x.isClosed()).map((x) => x.getSubject())).toEqual([]);
      const ownRefused = (r: { operation: string; subject: string }) =>
        (r.operation === 'publish' ? role.publishAllowed : role.subscribeAllowed).includes(r.subject);
      expect(refused.filter(ownRefused)).toEqual([]);
      const readable = role.publishAllowed.filter((sub) => sub.startsWith('entropy.') || sub.startsWith('_INBOX.'));
      await waitFor(`${role.user}'s own publications`, () => readable.every((sub) => delivered.includes(sub)), 20_000);
      // None of the forbidden ones was delivered.
      expect(delivered.filter((sub) => role.publishForbidden.includes(sub))).toEqual([]);
      await nc.close();
    });
  }

  it('totals: every forbidden attempt of every role was refused', () => {
    expect(tally.publish.attempts).toBeGreaterThan(60);
    expect(tally.subscribe.attempts).toBeGreaterThan(35);
    expect(tally.publish.refused).toBe(tally.publish.attempts);
    expect(tally.subscribe.refused).toBe(tally.subscribe.attempts);
  });

  it("agent n1 can answer a request sent to it once, and can neither see n2's actions nor put a forged result for n2 before the executor", async () => {
    const controller = await connectNats({ nats: nats.url, creds: nats.creds(CONTROLLER_USER) }, 'security-controller');
    const n1 = await nats.connectAs(agentUser('n1'));
    const n2 = await nats.connectAs(agentUser('n2'));
    const n1Refused = violations(n1);
    const rejected: string[] = [];
    const transport = natsTransport(controller, { subjects: s, onRejected: (r) => void rejected.push(r.reason) });
    const nonceOf = planNonces();
    const request = (node: string, n: number): ActionRequest => {
      const actionId = `p1:a${n}`;
      return {
        actionId,
        planId: 'p1',
        type: 'pause',
        vm: `v${n}`,
        vjob: 'j1',
        demand: { cpu: 1, mem: 1 },
        from: node,
        estimatedMs: 0,
        timeoutMs: 10_000,
        nonce: nonceOf(actionId),
      };
    };
    const answer = (req: ActionRequest, node: string, durationMs: number): Uint8Array =>
      encode('actionResult', {
        actionId: req.actionId,
        node,
        ok: true,
        durationMs,
        state: 'paused',
        host: node,
        ...(req.nonce ? { nonce: req.nonce } : {}),
      });
    let release: () => void = () => {};
    const n2Answered = new Promise<void>((r) => (release = r));
    // n2 answers once n1 has tried its forgeries.
    n2.subscribe(s.nodeAction('n2'), {
      callback: (_e, m) => {
        const r = decode('actionRequest', m.data);
        if (r.ok) void n2Answered.then(() => m.respond(answer(r.msg, 'n2', 42)));
      },
    });
    const forgedTo: string[] = [];
    n1.subscribe(s.nodeAction('n1'), {
      callback: (_e, m) => {
        const r = decode('actionRequest', m.data);
        if (!r.ok || !m.reply) return;
        m.respond(answer(r.msg, 'n1', 7));
        // A second answer to the same request: refused (allow_responses lets it answer once).
        m.respond(answer(r.msg, 'n1', 8));
        // n1 knows the controller's inbox from its own reply subject and guesses the next ones: it forges n2's result, with n2's action id.
        const [inbox, k] = [
          m.reply.slice(0, m.reply.lastIndexOf('.')),
          Number(m.reply.slice(m.reply.lastIndexOf('.') + 1)),
        ];
        for (let j = k - 3; j <= k + 3; j++) {
          if (j === k || j < 0) continue;
          forgedTo.push(`${inbox}.${j}`);
          n1.publish(`${inbox}.${j}`, answer({ ...request('n2', 2), nonce: r.msg.nonce }, 'n2', 1));
        }
      },
    });
    await Promise.all([n1.flush(), n2.flush()]);
    const signal = new AbortController().signal;
    const toN2 = transport.send(request('n2', 2), { signal, timeoutMs: 10_000 });
    const fromN1 = await transport.send(request('n1', 1), { signal, timeoutMs: 10_000 });
    expect(fromN1).toMatchObject({ node: 'n1', durationMs: 7 });
    await waitFor(
      "the server's refusals of n1's second answer and forgeries",
      () => n1Refused.length >= forgedTo.length + 1,
      20_000,
    );
    expect(
      n1Refused.every((r) => r.operation === 'publish' && r.subject.startsWith('_INBOX.entropy-controller.')),
    ).toBe(true);
    release();
    expect(await toN2).toMatchObject({ actionId: 'p1:a2', node: 'n2', durationMs: 42 });
    // Nothing forged even reached the executor's inbox.
    expect(rejected).toEqual([]);
    await controller.close();
  });
});

describe('security: on a server without permissions, the executor still takes no forged result', () => {
  it("ignores n1's forgery of n2's result (n2's action id, the node n2, n1's own nonce) and takes n2's answer", async () => {
    const server = await startNatsServer();
    const controller = await connectNats(server.url, 'open-controller');
    const agent = await connectNats(server.url, 'open-agents');
    try {
      const rejected: string[] = [];
      const transport = natsTransport(controller, { subjects: s, onRejected: (r) => void rejected.push(r.reason) });
      const nonceOf = planNonces();
      const req = (node: string, n: number): ActionRequest => ({
        actionId: `p1:a${n}`,
        planId: 'p1',
        type: 'pause',
        vm: `v${n}`,
        vjob: 'j1',
        demand: { cpu: 1, mem: 1 },
        from: node,
        estimatedMs: 0,
        timeoutMs: 10_000,
        nonce: nonceOf(`p1:a${n}`),
      });
      const result = (r: ActionRequest, node: string, durationMs: number, nonce = r.nonce): ActionResult => ({
        actionId: r.actionId,
        node,
        ok: true,
        durationMs,
        ...(nonce ? { nonce } : {}),
      });
      let n2Reply = '';
      let n1Nonce = '';
      agent.subscribe(s.nodeAction('n2'), { callback: (_e, m) => void (n2Reply = m.reply ?? '') });
      agent.subscribe(s.nodeAction('n1'), {
        callback: (_e, m) => {
          const r = decode('actionRequest', m.data);
          if (r.ok) n1Nonce = r.msg.nonce ?? '';
          m.respond(encode('actionResult', result(r.ok ? r.msg : req('n1', 1), 'n1', 7)));
        },
      });
      await agent.flush();
      const signal = new AbortController().signal;
      const toN2 = transport.send(req('n2', 2), { signal, timeoutMs: 10_000 });
      await transport.send(req('n1', 1), { signal, timeoutMs: 10_000 });
      await waitFor("n2's request", () => n2Reply !== '');
      // Everything n1 could know or guess: n2's action id and node, its own nonce, a guessed one.
      agent.publish(n2Reply, encode('actionResult', result(req('n2', 2), 'n2', 1, n1Nonce)));
      agent.publish(n2Reply, encode('actionResult', result(req('n2', 2), 'n2', 1, 'a-guessed-nonce-0000')));
      agent.publish(n2Reply, encode('actionResult', result(req('n2', 2), 'n1', 1)));
      await waitFor('the three forgeries, ignored', () => rejected.length === 3);
      agent.publish(n2Reply, encode('actionResult', result(req('n2', 2), 'n2', 42)));
      expect(await toN2).toMatchObject({ node: 'n2', durationMs: 42 });
      expect(rejected).toEqual([
        "reply without the action's nonce",
        "reply without the action's nonce",
        'reply from node n1 for an action sent to n2',
      ]);
    } finally {
      await controller.close();
      await agent.close();
      await server.stop();
    }
  });
});
