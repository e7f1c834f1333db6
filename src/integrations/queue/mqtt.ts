/**
 * MQTT sink (mqtt.js), topics in the style NVR users know:
 *  - `<prefix>/<camera>/<label>`: detections are split per object class (`vigil/gate/person` carries the gate
 *    camera's person detections of one frame), alerts on `<prefix>/<camera>/alert`, events on their label;
 *  - `<prefix>/<camera>/status`: camera status, retained;
 *  - `<prefix>/available`: "online" (retained) once connected, "offline" as the last will.
 * QoS 1 by default: a message leaves the buffer on PUBACK. mqtt.js's own reconnect is off (QueueSink reconnects).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { parseTypedSinkOptions, type MqttSinkOptions } from './options.js';
import type { DetectionBatch } from '../../types.js';
import { QueueSink, topicLevel, type Outcome, type QueueMessage, type SinkItem } from './sink.js';

export type { MqttSinkOptions };

export class MqttSink extends QueueSink {
  private readonly url: string;
  private readonly username: string | undefined;
  private readonly password: string | undefined;
  readonly topicPrefix: string;
  private readonly qos: 0 | 1 | 2;
  private readonly clientId: string;
  private readonly connectTimeoutMs: number;
  private readonly keepaliveS: number;
  private client: MqttClient | null = null;

  constructor(raw: MqttSinkOptions) {
    const options = parseTypedSinkOptions('mqtt', raw);
    super(options);
    this.url = options.url ?? 'mqtt://127.0.0.1:1883';
    this.username = options.username;
    this.password = options.password;
    this.addSecret(options.password);
    this.topicPrefix = options.topicPrefix ?? 'vigil';
    this.qos = options.qos ?? 1;
    this.clientId = options.clientId ?? `vigil-${options.name}-${process.pid}`;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.keepaliveS = options.keepaliveS ?? 30;
  }

  get availabilityTopic(): string {
    return `${this.topicPrefix}/available`;
  }

  protected override expand(msg: QueueMessage): QueueMessage[] {
    if (msg.kind !== 'detections') return [msg];
    const batch = msg.data as DetectionBatch;
    const byClass = new Map<string, DetectionBatch['detections']>();
    for (const d of batch.detections) {
      const list = byClass.get(d.className);
      if (list) list.push(d);
      else byClass.set(d.className, [d]);
    }
    return [...byClass.entries()].map(([label, detections]) => ({ ...msg, label, data: { ...batch, detections } }));
  }

  protected override retainOf(msg: QueueMessage): boolean {
    return msg.kind === 'status';
  }

  protected routeOf(msg: QueueMessage): string {
    return `${this.topicPrefix}/${topicLevel(msg.cameraId)}/${topicLevel(msg.label)}`;
  }

  protected openConnection(): Promise<void> {
    return new Promise((resolve, reject) => {
      const client = mqtt.connect(this.url, {
        clientId: this.clientId,
        ...(this.username !== undefined ? { username: this.username } : {}),
        ...(this.password !== undefined ? { password: this.password } : {}),
        reconnectPeriod: 0,
        connectTimeout: this.connectTimeoutMs,
        keepalive: this.keepaliveS,
        clean: true,
        queueQoSZero: false,
        will: { topic: this.availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      });
      this.client = client;
      let settled = false;
      client.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      client.on('close', () => {
        if (!settled) {
          settled = true;
          reject(new Error('MQTT connection closed before CONNACK'));
        } else if (this.client === client) {
          this.connectionLost(new Error('MQTT connection closed'));
        }
      });
      client.on('connect', () => {
        client.publish(this.availabilityTopic, 'online', { qos: 1, retain: true }, (err) => {
          if (settled) return;
          settled = true;
          if (err) reject(err);
          else resolve();
        });
      });
    });
  }

  protected sendBatch(items: SinkItem[]): Promise<Outcome[]> {
    const client = this.client;
    if (!client) return Promise.resolve(items.map((): Outcome => 'retry'));
    return this.waitAll(items, (it, _i, done) => {
      client.publish(it.route, it.payload, { qos: this.qos, retain: it.retain }, (err) => done(err ? 'retry' : 'ok'));
    });
  }

  protected async closeConnection(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (!c) return;
    await new Promise<void>((resolve) => {
      if (c.connected) {
        // A clean shutdown: say so on the availability topic, then disconnect (the will is not sent).
        c.publish(this.availabilityTopic, 'offline', { qos: 1, retain: true }, () => c.end(false, {}, () => resolve()));
        setTimeout(() => c.end(true, {}, () => resolve()), 1000).unref();
      } else {
        c.end(true, {}, () => resolve());
      }
    });
  }
}
