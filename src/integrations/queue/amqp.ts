/**
 * RabbitMQ (AMQP 0-9-1) sink on a confirm channel: each message is published to a topic exchange with routing key
 * `<kind>.<camera>.<label>` and leaves the buffer only when the broker confirms it (basic.ack). A nack or a
 * channel closed before the confirm means "send again" (at-least-once).
 */
import amqplib, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { parseTypedSinkOptions, type AmqpSinkOptions } from './options.js';
import { QueueSink, topicLevel, type Outcome, type QueueMessage, type SinkItem } from './sink.js';

export type { AmqpSinkOptions };

export class AmqpSink extends QueueSink {
  private readonly url: string;
  readonly exchange: string;
  private readonly durable: boolean;
  private readonly connectTimeoutMs: number;
  private readonly heartbeatS: number;
  private conn: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;

  constructor(raw: AmqpSinkOptions) {
    const options = parseTypedSinkOptions('amqp', raw);
    super(options);
    this.url = options.url ?? 'amqp://guest:guest@127.0.0.1:5672';
    this.addSecret(decodeURIComponent(new URL(this.url).password));
    this.exchange = options.exchange ?? 'vigil';
    this.durable = options.durable ?? true;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.heartbeatS = options.heartbeatS ?? 10;
  }

  protected routeOf(msg: QueueMessage): string {
    return `${msg.kind}.${topicLevel(msg.cameraId)}.${topicLevel(msg.label)}`;
  }

  protected async openConnection(): Promise<void> {
    const u = new URL(this.url);
    u.searchParams.set('heartbeat', String(this.heartbeatS));
    const conn = await amqplib.connect(u.toString(), { timeout: this.connectTimeoutMs });
    this.conn = conn;
    conn.on('error', () => undefined); // followed by 'close'
    conn.on('close', (err?: Error) => {
      if (this.conn === conn) this.connectionLost(err ?? new Error('AMQP connection closed'));
    });
    const ch = await conn.createConfirmChannel();
    this.channel = ch;
    ch.on('error', () => undefined);
    ch.on('close', () => {
      if (this.channel === ch) this.connectionLost(new Error('AMQP channel closed'));
    });
    await ch.assertExchange(this.exchange, 'topic', { durable: this.durable });
  }

  protected sendBatch(items: SinkItem[]): Promise<Outcome[]> {
    const ch = this.channel;
    if (!ch) return Promise.resolve(items.map((): Outcome => 'retry'));
    return this.waitAll(items, (it, _i, done) => {
      ch.publish(
        this.exchange,
        it.route,
        it.payload,
        {
          persistent: this.durable,
          contentType: this.contentType,
          type: it.msg.kind,
          timestamp: Math.floor(Number(it.msg.timestampNs / 1_000_000_000n)),
          headers: { camera: it.msg.cameraId, label: it.msg.label, ts: it.msg.timestampNs.toString() },
        },
        (err: unknown) => done(err ? 'retry' : 'ok'),
      );
    });
  }

  protected async closeConnection(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    this.channel = null;
    if (conn) {
      try {
        await Promise.race([conn.close(), new Promise((r) => setTimeout(r, 1000).unref())]);
      } catch {
        // already closed
      }
    }
  }
}
