/** Builds the sink a config names (the server passes `encode` for FlatBuffers sinks). */
import { expected } from '../../errors.js';
import { AmqpSink } from './amqp.js';
import { KafkaSink } from './kafka.js';
import { MqttSink } from './mqtt.js';
import { parseSinkOptions, sinkPath, type SinkConfig } from './options.js';
import { RedisStreamSink } from './redis.js';
import type { QueueSink, SinkStats } from './sink.js';

export type { SinkConfig };

export function createSink(raw: SinkConfig): QueueSink {
  // Parsed here to learn the type (and refuse a bad one); the constructor runs the same parser on its own input.
  const config = parseSinkOptions(raw, sinkPath(raw));
  switch (config.type) {
    case 'redis':
      return new RedisStreamSink(config);
    case 'amqp':
      return new AmqpSink(config);
    case 'mqtt':
      return new MqttSink(config);
    case 'kafka':
      return new KafkaSink(config);
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
