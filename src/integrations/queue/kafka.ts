/**
 * Kafka sink (kafkajs): one topic per kind (`<prefix>.detections`, `.alert`, `.event`, `.status`), keyed by
 * camera id so a camera's messages stay ordered within a partition; acks=-1 (all in-sync replicas). kafkajs's own
 * retries are off: the QueueSink buffer, backoff and counters apply as for the other brokers.
 */
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { expected } from '../../errors.js';
import { QueueSink, type Outcome, type QueueMessage, type SinkItem, type SinkOptions } from './sink.js';

export interface KafkaSinkOptions extends SinkOptions {
  /** host:port list. */
  brokers: string[];
  clientId?: string;
  /** Topic prefix (default "vigil"). */
  topicPrefix?: string;
  ssl?: boolean;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  connectTimeoutMs?: number;
}

const BROKER_RE = /^[A-Za-z0-9.-]{1,253}:[0-9]{1,5}$|^\[[0-9A-Fa-f:]+\]:[0-9]{1,5}$/;

export class KafkaSink extends QueueSink {
  private readonly kafka: Kafka;
  readonly topicPrefix: string;
  private producer: Producer | null = null;

  constructor(options: KafkaSinkOptions) {
    super(options);
    const where = `sinks.${options.name}`;
    if (!Array.isArray(options.brokers) || options.brokers.length === 0) throw expected('a non-empty array of "host:port"', `${where}.brokers`, options.brokers);
    options.brokers.forEach((b, i) => {
      if (typeof b !== 'string' || !BROKER_RE.test(b) || Number(b.slice(b.lastIndexOf(':') + 1)) > 65535) {
        throw expected('"host:port"', `${where}.brokers[${i}]`, b);
      }
    });
    const prefix = options.topicPrefix ?? 'vigil';
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9._-]{1,200}$/.test(prefix)) throw expected('a topic prefix of [A-Za-z0-9._-]', `${where}.topicPrefix`, prefix);
    const sasl = options.sasl;
    if (sasl !== undefined) {
      if (!['plain', 'scram-sha-256', 'scram-sha-512'].includes(sasl?.mechanism)) {
        throw expected('"plain", "scram-sha-256" or "scram-sha-512"', `${where}.sasl.mechanism`, sasl?.mechanism);
      }
      if (typeof sasl.username !== 'string' || typeof sasl.password !== 'string') throw expected('username and password strings', `${where}.sasl`, '(object)');
      this.addSecret(sasl.password);
    }
    this.topicPrefix = prefix;
    const timeout = options.connectTimeoutMs ?? 3000;
    this.kafka = new Kafka({
      clientId: options.clientId ?? `vigil-${options.name}`,
      brokers: options.brokers,
      connectionTimeout: timeout,
      requestTimeout: this.ackTimeoutMs,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
      ...(options.ssl ? { ssl: true } : {}),
      ...(sasl ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as never } : {}),
    });
  }

  topicOf(kind: QueueMessage['kind']): string {
    return `${this.topicPrefix}.${kind}`;
  }

  protected routeOf(msg: QueueMessage): string {
    return this.topicOf(msg.kind);
  }

  protected async openConnection(): Promise<void> {
    const producer = this.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    this.producer = producer;
    producer.on(producer.events.DISCONNECT, () => {
      if (this.producer === producer) this.connectionLost(new Error('Kafka producer disconnected'));
    });
    await producer.connect();
  }

  protected async sendBatch(items: SinkItem[]): Promise<Outcome[]> {
    const producer = this.producer;
    if (!producer) return items.map(() => 'retry');
    // Items go out grouped per topic in one request; the batch succeeds or fails as a whole.
    const byTopic = new Map<string, SinkItem[]>();
    for (const it of items) {
      const l = byTopic.get(it.route);
      if (l) l.push(it);
      else byTopic.set(it.route, [it]);
    }
    await producer.sendBatch({
      acks: -1,
      timeout: this.ackTimeoutMs,
      topicMessages: [...byTopic.entries()].map(([topic, list]) => ({
        topic,
        messages: list.map((it) => ({
          key: it.msg.cameraId,
          value: it.payload,
          timestamp: String(it.msg.timestampNs / 1_000_000n),
          headers: { kind: it.msg.kind, label: it.msg.label, 'content-type': this.contentType },
        })),
      })),
    });
    return items.map(() => 'ok');
  }

  protected async closeConnection(): Promise<void> {
    const p = this.producer;
    this.producer = null;
    if (p) {
      try {
        await Promise.race([p.disconnect(), new Promise((r) => setTimeout(r, 1000).unref())]);
      } catch {
        // not connected
      }
    }
  }
}
