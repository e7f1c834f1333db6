/** Builds the sink a config names (the server passes `encode` for FlatBuffers sinks). */
import { expected } from '../../errors.js';
import { AmqpSink, type AmqpSinkOptions } from './amqp.js';
import { KafkaSink, type KafkaSinkOptions } from './kafka.js';
import { MqttSink, type MqttSinkOptions } from './mqtt.js';
import { RedisStreamSink, type RedisSinkOptions } from './redis.js';
import type { QueueSink, SinkStats } from './sink.js';

export type SinkConfig =
  | ({ type: 'redis' } & RedisSinkOptions)
  | ({ type: 'amqp' } & AmqpSinkOptions)
  | ({ type: 'mqtt' } & MqttSinkOptions)
  | ({ type: 'kafka' } & KafkaSinkOptions);

export function createSink(config: SinkConfig): QueueSink {
  switch ((config as { type?: unknown } | null)?.type) {
    case 'redis':
      return new RedisStreamSink(config as RedisSinkOptions);
    case 'amqp':
      return new AmqpSink(config as AmqpSinkOptions);
    case 'mqtt':
      return new MqttSink(config as MqttSinkOptions);
    case 'kafka':
      return new KafkaSink(config as KafkaSinkOptions);
    default:
      throw expected('"redis", "amqp", "mqtt" or "kafka"', 'sink.type', (config as { type?: unknown } | null)?.type);
  }
}

/**
 * All configured sinks behind one publish call (what the pipeline holds). Each sink buffers, drops and
 * reconnects on its own; a full or failing sink never holds back the others.
 */
export class SinkSet {
  readonly sinks: readonly QueueSink[];

  constructor(sinks: QueueSink[]) {
    const names = new Set<string>();
    for (const s of sinks) {
      if (names.has(s.name)) throw expected('unique sink names', 'sinks[].name', s.name);
      names.add(s.name);
    }
    this.sinks = [...sinks];
  }

  static fromConfig(configs: SinkConfig[], encode?: SinkConfig['encode']): SinkSet {
    if (!Array.isArray(configs)) throw expected('an array', 'sinks', configs);
    return new SinkSet(configs.map((c) => createSink(encode && !c.encode ? { ...c, encode } : c)));
  }

  start(): void {
    for (const s of this.sinks) s.start();
  }

  publishDetections(batch: Parameters<QueueSink['publishDetections']>[0]): void {
    for (const s of this.sinks) s.publishDetections(batch);
  }

  publishAlert(alert: Parameters<QueueSink['publishAlert']>[0]): void {
    for (const s of this.sinks) s.publishAlert(alert);
  }

  publishEvent(cameraId: string, label: string, data: unknown, timestampNs?: bigint): void {
    for (const s of this.sinks) s.publishEvent(cameraId, label, data, timestampNs);
  }

  publishCameraStatus(cameraId: string, status: Parameters<QueueSink['publishCameraStatus']>[1]): void {
    for (const s of this.sinks) s.publishCameraStatus(cameraId, status);
  }

  stats(): SinkStats[] {
    return this.sinks.map((s) => s.stats());
  }

  async close(flushTimeoutMs = 2000): Promise<void> {
    await Promise.all(this.sinks.map((s) => s.close(flushTimeoutMs)));
  }
}
