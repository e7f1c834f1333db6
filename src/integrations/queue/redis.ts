/**
 * Redis Streams sink: `XADD <prefix>:<kind> MAXLEN ~ <maxLen> * kind <kind> camera <id> label <label> ts <ns>
 * data <payload>`, one pipeline per batch. ioredis's own reconnect and offline queue are switched off: the
 * QueueSink buffer and backoff are the only ones, so counts stay exact.
 */
import { Redis } from 'ioredis';
import { parseTypedSinkOptions, type RedisSinkOptions } from './options.js';
import { QueueSink, type Outcome, type QueueMessage, type SinkItem } from './sink.js';

export type { RedisSinkOptions };

export class RedisStreamSink extends QueueSink {
  private readonly url: string;
  private readonly prefix: string;
  private readonly maxLen: number;
  private readonly connectTimeoutMs: number;
  private client: Redis | null = null;

  constructor(raw: RedisSinkOptions) {
    const options = parseTypedSinkOptions('redis', raw);
    super(options);
    this.url = options.url ?? 'redis://127.0.0.1:6379';
    this.addSecret(decodeURIComponent(new URL(this.url).password));
    this.prefix = options.streamPrefix ?? 'vigil';
    this.maxLen = options.maxLen ?? 100_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  }

  /** Stream key for a kind of message. */
  streamKey(kind: QueueMessage['kind']): string {
    return `${this.prefix}:${kind}`;
  }

  protected routeOf(msg: QueueMessage): string {
    return this.streamKey(msg.kind);
  }

  protected async openConnection(): Promise<void> {
    const client = new Redis(this.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: this.connectTimeoutMs,
      enableReadyCheck: true,
    });
    this.client = client;
    client.on('error', () => undefined); // surfaced through connect() / 'close'
    client.on('close', () => {
      if (this.client === client) this.connectionLost(new Error('Redis connection closed'));
    });
    await client.connect();
  }

  protected async sendBatch(items: SinkItem[]): Promise<Outcome[]> {
    const client = this.client;
    if (!client) return items.map(() => 'retry');
    const p = client.pipeline();
    for (const it of items) {
      p.xadd(
        it.route,
        'MAXLEN',
        '~',
        this.maxLen,
        '*',
        'kind',
        it.msg.kind,
        'camera',
        it.msg.cameraId,
        'label',
        it.msg.label,
        'ts',
        it.msg.timestampNs.toString(),
        'data',
        it.payload,
      );
    }
    const results = await Promise.race([
      p.exec(),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), this.ackTimeoutMs).unref()),
    ]);
    if (!results) return items.map(() => 'retry');
    return items.map((_, i) => {
      const err = results[i]?.[0];
      if (!results[i]) return 'retry';
      if (!err) return 'ok';
      // A reply error (WRONGTYPE, OOM...) is the server refusing this command; anything else is the connection.
      return err.name === 'ReplyError' ? 'rejected' : 'retry';
    });
  }

  protected async closeConnection(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) c.disconnect(false);
  }
}
