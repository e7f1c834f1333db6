/**
 * RabbitMQ (AMQP 0-9-1) sink on a confirm channel: each message is published to a topic exchange with routing key
 * `<kind>.<camera>.<label>` and leaves the buffer only when the broker confirms it (basic.ack). A nack or a
 * channel closed before the confirm means "send again" (at-least-once).
 */
import amqplib, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { expected } from '../../errors.js';
import { url as checkUrl } from '../../validate.js';
import { BROKER_PROTOCOLS } from './protocols.js';
import { QueueSink, topicLevel, type Outcome, type QueueMessage, type SinkItem, type SinkOptions } from './sink.js';

export interface AmqpSinkOptions extends SinkOptions {
  /** amqp://user:pass@host:port/vhost (default amqp://guest:guest@127.0.0.1:5672). */
  url?: string;
  /** Exchange name (default "vigil"), declared as a topic exchange. */
  exchange?: string;
  /** Durable exchange and persistent messages (default true). */
  durable?: boolean;
  connectTimeoutMs?: number;
  /** AMQP heartbeat in seconds (default 10). */
  heartbeatS?: number;
}

export class AmqpSink extends QueueSink {
  private readonly url: string;
  readonly exchange: string;
  private readonly durable: boolean;
  private readonly connectTimeoutMs: number;
  private readonly heartbeatS: number;
  private conn: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;

  constructor(options: AmqpSinkOptions) {
    super(options);
    const where = `sinks.${options.name}`;
    const url = options.url ?? 'amqp://guest:guest@127.0.0.1:5672';
    const u = new URL(checkUrl(url, `${where}.url`, BROKER_PROTOCOLS.amqp, { allowCredentials: true }));
    this.addSecret(decodeURIComponent(u.password));
    const exchange = options.exchange ?? 'vigil';
    if (typeof exchange !== 'string' || !/^[A-Za-z0-9_.:-]{1,127}$/.test(exchange)) throw expected('an exchange name', `${where}.exchange`, exchange);
    this.url = url;
    this.exchange = exchange;
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
