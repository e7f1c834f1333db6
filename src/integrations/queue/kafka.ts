/**
 * Kafka sink (kafkajs): one topic per kind (`<prefix>.detections`, `.alert`, `.event`, `.status`), keyed by
 * camera id so a camera's messages stay ordered within a partition; acks=-1 (all in-sync replicas). kafkajs's own
 * retries are off: the QueueSink buffer, backoff and counters apply as for the other brokers.
 */
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { parseTypedSinkOptions, type KafkaSinkOptions } from './options.js';
import { QueueSink, type Outcome, type QueueMessage, type SinkItem } from './sink.js';

export type { KafkaSinkOptions };

export class KafkaSink extends QueueSink {
  private readonly kafka: Kafka;
  readonly topicPrefix: string;
  private producer: Producer | null = null;

  constructor(raw: KafkaSinkOptions) {
    const options = parseTypedSinkOptions('kafka', raw);
    super(options);
    const sasl = options.sasl;
    if (sasl) this.addSecret(sasl.password);
    this.topicPrefix = options.topicPrefix ?? 'vigil';
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
