/**
 * The hub on a shared (cluster) sequence, in process: a resume before the node caught up with the stream is refused
 * (E_RESUME_NOT_READY); a position ahead of the node (numbered by another node) goes live after it.
 *
 * One sequence for the whole cluster, and sinks once per event (three Vigil nodes on a 3-broker JetStream cluster,
 * loopback, real processes, NanoDet on OpenCV's vtest clip; Mosquitto and a webhook receiver started here):
 * - a WebSocket client subscribed on node A records its last sequence, A is killed (-9), the client resumes on
 *   node B with `resume_after`: what B sends continues A's sequence exactly (every event of the stream after it,
 *   in order, no gap, no duplicate), including the events produced while the client was away;
 * - every node has the same MQTT queue and webhook channel configured: each detection and alert reaches them once,
 *   not once per node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as flatbuffers from 'flatbuffers';
import WebSocket from 'ws';
import mqtt from 'mqtt';
import { connectAdmin } from '../../src/cluster/nats.js';
import { clusterStatus } from '../../src/cluster/admin.js';
import {
  vigil_wire_ErrorNotice as WireError,
  vigil_wire_Message as Message,
  vigil_wire_Payload as Payload,
  vigil_wire_ServerHello as WireHello,
  vigil_wire_SubscribeAck as WireAck,
} from '../../src/stream/generated/message_generated.js';
import { topicLevel } from '../../src/integrations/queue/sink.js';
import { StreamHub, type StreamSocket } from '../../src/stream/hub.js';
import type { EventLog, SequencedEvent, StreamEvent } from '../../src/stream/events.js';
import { Registry } from 'prom-client';
import { media } from '../helpers/media.js';
import { dumpNodeLogs, freePort, readEvents, sleep, startNatsCluster, until, VigilNode, type StreamEventRecord } from './harness.js';

const CAMERAS = ['people', 'lobby'].map((id) => ({ id, source: { kind: 'file', path: media('vtest-h264.mp4'), loop: true, realtime: true }, detectFps: 2 }));
const RULE = { id: 'people-present', name: 'People present', kind: 'occupancy', cameras: ['people', 'lobby'], classes: ['person'], condition: 'above', threshold: 0, notify: [{ channel: 'hook' }] };
const step = (what: string): void => void process.stderr.write(`${new Date().toISOString()} ${what}\n`);

/** The stream's messages a client is sent: all but those under a token lower than one seen before for the camera. */
function deliverable(msgs: readonly StreamEventRecord[]): StreamEventRecord[] {
  const max = new Map<string, number>();
  return msgs.filter((m) => {
    const cur = max.get(m.camera) ?? 0;
    if (m.fence < cur) return false;
    max.set(m.camera, m.fence);
    return true;
  });
}

interface Received {
  seq: number;
  type: number;
}

/** A /ws client that records every event's sequence; `subscribe` resolves with the SubscribeAck (or throws the ErrorNotice code). */
class WsClient {
  readonly events: Received[] = [];
  hello: { lastSeq: number; oldestSeq: number } | null = null;
  readonly #ws: WebSocket;
  readonly #waiters: Array<(m: Message) => boolean> = [];
  constructor(port: number, token: string) {
    this.#ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ['vigil.v1'], { headers: { authorization: `Bearer ${token}` } });
    this.#ws.binaryType = 'nodebuffer';
    this.#ws.on('message', (d: Buffer) => {
      const m = Message.getRootAsMessage(new flatbuffers.ByteBuffer(new Uint8Array(d).slice()));
      const t = m.payloadType();
      if (t === Payload.ServerHello) {
        const h = m.payload(new WireHello()) as WireHello;
        this.hello = { lastSeq: Number(h.lastSeq()), oldestSeq: Number(h.oldestSeq()) };
      } else if (t === Payload.DetectionBatch || t === Payload.TrackEvent || t === Payload.AlertEvent || t === Payload.CameraStatusEvent) {
        this.events.push({ seq: Number(m.seq()), type: t });
      }
      for (let i = 0; i < this.#waiters.length; i++) if (this.#waiters[i]!(m)) this.#waiters.splice(i--, 1);
    });
    this.#ws.on('error', () => {});
  }
  async open(): Promise<void> {
    await new Promise<void>((resolve, reject) => (this.#ws.once('open', () => resolve()), this.#ws.once('error', reject)));
    await until(() => this.hello, 10_000, 'the server hello');
  }
  async subscribe(id: string, resumeAfter?: number): Promise<{ replayFrom: number; replayTo: number; gap: number }> {
    const answer = new Promise<Message>((resolve) =>
      this.#waiters.push((m) => {
        const t = m.payloadType();
        if (t === Payload.SubscribeAck && (m.payload(new WireAck()) as WireAck).requestId() === id) return resolve(m), true;
        if (t === Payload.ErrorNotice && (m.payload(new WireError()) as WireError).requestId() === id) return resolve(m), true;
        return false;
      }),
    );
    this.#ws.send(JSON.stringify({ type: 'subscribe', id, ...(resumeAfter === undefined ? {} : { resume_after: resumeAfter }) }));
    const m = await answer;
    if (m.payloadType() === Payload.ErrorNotice) {
      const e = m.payload(new WireError()) as WireError;
      throw new Error(`${e.code()}: ${e.message()}`);
    }
    const a = m.payload(new WireAck()) as WireAck;
    return { replayFrom: Number(a.replayFrom()), replayTo: Number(a.replayTo()), gap: Number(a.gap()) };
  }
  lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }
  close(): void {
    this.#ws.terminate();
  }
}

/**
 * An admin token on `node`: the password the first-run admin got, printed by whichever node created it (each node
 * its own when users are per node; the one that seeded the cluster when users are shared), so every printed one
 * is tried.
 */
async function login(node: VigilNode, nodes: VigilNode[]): Promise<string> {
  const printed = nodes.flatMap((n) => [...n.stdout.matchAll(/created user "admin" with password (\S+)/g)].map((m) => m[1]!));
  for (const password of [...new Set(printed)]) {
    const res = await fetch(`http://127.0.0.1:${node.port}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password }),
    });
    if (res.status === 200) return ((await res.json()) as { access_token: string }).access_token;
  }
  throw new Error(`no printed admin password logs in on ${node.spec.id} (${printed.length} tried)`);
}

/** A shared-sequence log as a cluster node has one (src/cluster/stream-log.ts), driven by hand. */
class SharedLog implements EventLog {
  readonly sharedSequence = true;
  ready = false;
  last = 0;
  readonly #listeners = new Set<(items: SequencedEvent[]) => void>();
  append(): null {
    return null;
  }
  onDurable(l: (items: SequencedEvent[]) => void): () => void {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  }
  lastSeq(): number {
    return this.last;
  }
  oldestSeq(): number {
    return this.last ? 1 : 0;
  }
  async *since(): AsyncIterable<SequencedEvent> {}
  deliver(seq: number): void {
    this.last = seq;
    const event: StreamEvent = { kind: 'camera_status', status: { cameraId: 'c', status: 'running', previous: 'starting', timestampNs: 1n, message: '' } };
    for (const l of this.#listeners) l([{ seq, event }]);
  }
}

test('hub on a shared sequence: a resume before the node caught up is refused; one ahead of it goes live after that position', () => {
  const log = new SharedLog();
  const hub = new StreamHub({ log, registry: new Registry() });
  const sent: Uint8Array[] = [];
  const socket: StreamSocket = { send: (m) => (sent.push(m), 1), getBufferedAmount: () => 0, end: () => {}, cork: (cb) => cb() };
  const c = hub.attach(socket, { sub: 'a', role: 'admin', cameras: '*', source: 'local', family: 'f' });
  const control = (o: object): void => hub.handleMessage(c, new TextEncoder().encode(JSON.stringify(o)).buffer as ArrayBuffer, false);
  const last = (): Message => Message.getRootAsMessage(new flatbuffers.ByteBuffer(sent.at(-1)!.slice()));
  control({ type: 'subscribe', id: 's1', resume_after: 40 });
  const e = last().payload(new WireError()) as WireError;
  assert.deepEqual([e.code(), e.message(), e.requestId()], ['E_RESUME_NOT_READY', 'This node is still reading the cluster event stream; send the subscribe again shortly', 's1']);
  log.ready = true;
  log.last = 30;
  control({ type: 'subscribe', id: 's2', resume_after: 40 });
  const a = last().payload(new WireAck()) as WireAck;
  assert.deepEqual([a.requestId(), Number(a.replayFrom()), Number(a.replayTo()), Number(a.gap())], ['s2', 0, 0, 0]);
  const before = sent.length;
  for (const seq of [39, 40, 41, 42]) log.deliver(seq);
  hub.flush();
  assert.deepEqual(sent.slice(before).map((m) => Number(Message.getRootAsMessage(new flatbuffers.ByteBuffer(m.slice())).seq())), [41, 42]);
});

test('WebSocket resume across nodes continues the sequence exactly; queue and webhook sinks run once per event', { timeout: 290_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-cluster-resume-'));
  const nats = await startNatsCluster(dir);
  // Mosquitto for the MQTT queue sink, a webhook receiver for the notification channel: shared by all nodes.
  const mqttPort = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${mqttPort} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const mosquitto: ChildProcess = spawn('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  const hooks: Array<{ event: string; alertId: string }> = [];
  const hookServer: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { event: string; alert: Record<string, unknown> };
      hooks.push({ event: j.event, alertId: String(j.alert.alert_id ?? j.alert.alertId ?? j.alert.id) });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', () => r()));
  const hookPort = (hookServer.address() as { port: number }).port;
  const queued = new Map<string, number>();
  let sub: mqtt.MqttClient | null = null;
  const extra = {
    notify: { channels: { hook: { type: 'webhook', url: `http://127.0.0.1:${hookPort}/hook` } }, allow: [`127.0.0.1:${hookPort}`] },
    integrations: { queues: [{ name: 'mq', type: 'mqtt', url: `mqtt://127.0.0.1:${mqttPort}`, format: 'json', publish: ['detections', 'alerts'] }] },
  };
  const nodes = ['A', 'B', 'C'].map((id) => new VigilNode({ id, dir, servers: nats.urls, cameras: CAMERAS, rules: [RULE], extra }));
  const [a, b] = nodes as [VigilNode, VigilNode, VigilNode];
  const clients: WsClient[] = [];
  let admin: Awaited<ReturnType<typeof connectAdmin>> | null = null;
  try {
    await until(async () => {
      const c = mqtt.connect(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0, connectTimeout: 1000 });
      const ok = await new Promise<boolean>((r) => (c.once('connect', () => r(true)), c.once('error', () => r(false))));
      if (ok) sub = c;
      else c.end(true);
      return ok;
    }, 10_000, 'mosquitto');
    await new Promise<void>((resolve, reject) => sub!.subscribe('vigil/#', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    sub!.on('message', (topic, payload) => {
      if (topic.endsWith('/status') || topic.endsWith('/available')) return;
      const j = JSON.parse(payload.toString()) as { timestampNs: string };
      const key = `${topic}|${j.timestampNs}`;
      queued.set(key, (queued.get(key) ?? 0) + 1);
    });

    await Promise.all(nodes.map((n) => n.start()));
    admin = await connectAdmin(nats.urls, 'vigil');
    await until(async () => {
      const s = await clusterStatus(admin!, 2000);
      return s.cameras.length === 2 && s.cameras.every((c) => c.node && c.state === 'running');
    }, 60_000, 'both cameras running');
    step('cluster up');

    // 1. Subscribed on A (live, all cameras and kinds) until events of both cameras' owners flowed.
    const onA = new WsClient(a.port, await login(a, nodes));
    clients.push(onA);
    await onA.open();
    await until(async () => {
      try {
        return await onA.subscribe('a1');
      } catch (err) {
        if (/E_RESUME_NOT_READY/.test((err as Error).message)) return null;
        throw err;
      }
    }, 20_000, 'a subscription on A');
    await until(() => onA.events.filter((e) => e.type === Payload.DetectionBatch).length >= 12, 60_000, '12 detection batches on A');
    const seen = onA.lastSeq();
    const killedAt = Date.now();
    a.kill9();
    step(`A killed after seq ${seen}`);
    const onAEvents = onA.events.slice();
    // Away for a while: B and C (and the camera A ran, once it moved) go on producing.
    await sleep(6000);

    // 2. Resume on B after the last sequence seen on A.
    const reconnectAt = Date.now();
    const onB = new WsClient(b.port, await login(b, nodes));
    clients.push(onB);
    await onB.open();
    const ack = await onB.subscribe('b1', seen);
    const streamEnd = (await readEvents(nats.urls)).at(-1)!.seq;
    assert.equal(ack.gap, 0);
    assert.equal(ack.replayFrom, seen + 1, JSON.stringify(ack));
    await until(() => onB.lastSeq() >= streamEnd + 10, 60_000, `B's client past the stream's end at reconnect (${streamEnd}) by 10`);
    step(`resumed on B: ${onB.events.length} events up to ${onB.lastSeq()}`);

    // What B sent so far, taken before reading the stream (which holds all of it: B read it from there).
    const gotB = onB.events.slice();
    const stream = await readEvents(nats.urls);
    const expected = deliverable(stream);
    const bySeq = new Map(stream.map((m) => [m.seq, m]));
    // A: everything of the stream from its first event to the last it saw, nothing twice, in order.
    const firstA = onAEvents[0]!.seq;
    assert.deepEqual(onAEvents.map((e) => e.seq), expected.filter((m) => m.seq >= firstA && m.seq <= seen).map((m) => m.seq));
    // B: the continuation: every deliverable message after `seen`, up to what it got, in order; no gap, no duplicate.
    const lastB = gotB.at(-1)!.seq;
    assert.deepEqual(gotB.map((e) => e.seq), expected.filter((m) => m.seq > seen && m.seq <= lastB).map((m) => m.seq));
    // The kinds match the stream's (the WS message is the stream message with that number).
    const kindOf: Record<number, string> = { [Payload.DetectionBatch]: 'detections', [Payload.TrackEvent]: 'tracks', [Payload.AlertEvent]: 'alerts', [Payload.CameraStatusEvent]: 'camera_status' };
    assert.deepEqual(gotB.map((e) => kindOf[e.type]), gotB.map((e) => bySeq.get(e.seq)!.kind));
    // Events produced while the client was away arrived, from both surviving nodes' cameras.
    const whileAway = gotB.map((e) => bySeq.get(e.seq)!).filter((m) => m.time > killedAt && m.time < reconnectAt);
    assert.ok(whileAway.filter((m) => m.kind === 'detections').length >= 5, `${whileAway.length} events produced while away`);
    step('resume checked');

    // 3. Sinks once per event: every node has the MQTT queue and the webhook channel; only the owner feeds them.
    const settleEnd = Date.now() - 3000;
    const survivors = stream.filter((m) => m.node !== 'A' && m.time < settleEnd);
    const detections = survivors.filter((m) => m.kind === 'detections');
    const expectedKeys = detections.flatMap((m) => {
      const batch = m.data.batch as { cameraId: string; timestampNs: string; detections: Array<{ className: string }> };
      // the MQTT sink's topic level: "sports ball" -> "sports_ball" (src/integrations/queue/sink.ts topicLevel)
      return [...new Set(batch.detections.map((d) => topicLevel(d.className)))].map((cls) => `vigil/${topicLevel(batch.cameraId)}/${cls}|${batch.timestampNs}`);
    });
    assert.ok(expectedKeys.length >= 10, `${expectedKeys.length} queue messages expected`);
    await until(() => expectedKeys.every((k) => queued.has(k)), 20_000, 'every detection on the MQTT queue').catch((err: Error) => {
      const missing = expectedKeys.filter((k) => !queued.has(k));
      throw new Error(`${err.message}: ${missing.length} of ${expectedKeys.length} missing, e.g. ${missing.slice(0, 3).join(' ')}; received e.g. ${[...queued.keys()].slice(-3).join(' ')}`);
    });
    const raised = survivors.filter((m) => m.kind === 'alerts' && (m.data.alert as { state: string }).state === 'raised').map((m) => (m.data.alert as { alertId: string }).alertId);
    assert.ok(raised.length >= 1, 'an alert raised by B or C');
    await until(() => raised.every((id) => hooks.some((h) => h.alertId === id && h.event === 'raised')), 30_000, 'a webhook call per raised alert');
    await sleep(2000);
    assert.deepEqual(expectedKeys.map((k) => [k, queued.get(k)]), expectedKeys.map((k) => [k, 1]), 'each detection once on the queue');
    assert.deepEqual([...queued].filter(([, n]) => n > 1), [], 'no queue message twice');
    const hookCounts = new Map<string, number>();
    for (const h of hooks) hookCounts.set(`${h.alertId}|${h.event}`, (hookCounts.get(`${h.alertId}|${h.event}`) ?? 0) + 1);
    assert.deepEqual([...hookCounts].filter(([, n]) => n > 1), [], 'no webhook call twice');
    assert.deepEqual(raised.map((id) => hookCounts.get(`${id}|raised`)), raised.map(() => 1));
    step('sinks checked');
  } catch (err) {
    dumpNodeLogs(nodes);
    throw err;
  } finally {
    for (const c of clients) c.close();
    (sub as mqtt.MqttClient | null)?.end(true);
    await admin?.nc.close().catch(() => {});
    await Promise.all(nodes.map((n) => n.stop()));
    await nats.stop();
    mosquitto.kill('SIGKILL');
    await new Promise<void>((r) => hookServer.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
});
