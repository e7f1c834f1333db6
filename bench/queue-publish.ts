/**
 * Queue sink hot path.
 *  1. publish() cost per DetectionBatch of 20 detections (encode to the JSON envelope + enqueue), against the
 *     baseline of JSON.stringify of the same batch into a kept Buffer (what any buffering JSON publisher pays).
 *  2. Delivery throughput to the real Redis (127.0.0.1:6379) through RedisStreamSink (encode, XADD MAXLEN ~,
 *     pipelined batches of 100, acknowledged), against the baseline of encoding the same envelope and pipelining
 *     the same XADDs with ioredis directly, 100 per round trip (no buffer, no drop accounting, no reconnects).
 * Run: node --import tsx bench/queue-publish.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { RedisStreamSink } from '../src/integrations/queue/redis.js';
import { jsonEncode } from '../src/integrations/queue/sink.js';
import type { DetectionBatch } from '../src/types.js';

const batch: DetectionBatch = {
  cameraId: 'cam-1',
  frameSequence: 1,
  timestampNs: 1_764_270_000_123_456_789n,
  frameWidth: 1920,
  frameHeight: 1080,
  detections: Array.from({ length: 20 }, (_, i) => ({
    classId: i % 3,
    className: ['person', 'car', 'bicycle'][i % 3]!,
    confidence: 0.5 + i / 50,
    box: { x1: i * 10, y1: i * 5, x2: i * 10 + 80, y2: i * 5 + 200 },
    trackId: i,
  })),
};

function nsPer(n: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

async function main(): Promise<void> {
  const N = 50_000;
  // Warm up both paths
  nsPer(5000, () => JSON.stringify(batch, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  nsPer(5000, () => jsonEncode({ kind: 'detections', cameraId: 'cam-1', label: 'detections', timestampNs: 1n, data: batch }));
  // Alternate the two in 5 rounds of N/5 and keep each one's best round: the machine is shared and noisy.
  let baseline = Infinity;
  let enqueue = Infinity;
  // Both keep what they encode (the sink holds its backlog; the baseline keeps the bytes in an array), so both
  // pay the same memory and GC cost.
  for (let r = 0; r < 5; r++) {
    const kept: Buffer[] = [];
    baseline = Math.min(
      baseline,
      nsPer(N / 5, () => kept.push(Buffer.from(JSON.stringify(batch, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))))),
    );
    kept.length = 0;
    const sink = new RedisStreamSink({ name: 'bench-enqueue', capacity: N }); // never started: enqueue only
    enqueue = Math.min(enqueue, nsPer(N / 5, () => sink.publishDetections(batch)));
    await sink.close(0);
  }

  // Delivery to real Redis
  const M = 20_000;
  const prefix = `vigil-bench:${Date.now().toString(36)}`;
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  await redis.connect();
  const payload = Buffer.from(jsonEncode({ kind: 'detections', cameraId: 'cam-1', label: 'detections', timestampNs: batch.timestampNs, data: batch }));
  let t0 = process.hrtime.bigint();
  for (let off = 0; off < M; off += 100) {
    const p = redis.pipeline();
    for (let i = 0; i < 100; i++) {
      // Same work per message as the sink: encode the envelope, then XADD
      const data = Buffer.from(jsonEncode({ kind: 'detections', cameraId: 'cam-1', label: 'detections', timestampNs: batch.timestampNs, data: batch }));
      p.xadd(`${prefix}:direct`, 'MAXLEN', '~', 100000, '*', 'kind', 'detections', 'camera', 'cam-1', 'label', 'detections', 'ts', batch.timestampNs.toString(), 'data', data);
    }
    await p.exec();
  }
  const directPerS = M / (Number(process.hrtime.bigint() - t0) / 1e9);

  const sink = new RedisStreamSink({ name: 'bench-redis', streamPrefix: `${prefix}:sink`, capacity: M + 10, batchSize: 100 });
  sink.start();
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (sink.stats().connected) {
        clearInterval(t);
        resolve();
      }
    }, 5);
  });
  t0 = process.hrtime.bigint();
  for (let i = 0; i < M; i++) sink.publishDetections(batch);
  await sink.flush(60_000);
  const sinkPerS = sink.stats().published / (Number(process.hrtime.bigint() - t0) / 1e9);
  const stats = sink.stats();
  await sink.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();

  const result = {
    date: new Date().toISOString(),
    machine: '2 vCPU Debian 12 (node-svc)',
    command: 'node --import tsx bench/queue-publish.ts',
    publish_enqueue_ns_per_msg: Math.round(enqueue),
    baseline_json_buffer_ns_per_msg: Math.round(baseline),
    redis_sink_delivered_msgs_per_s: Math.round(sinkPerS),
    baseline_redis_direct_pipeline_msgs_per_s: Math.round(directPerS),
    payload_bytes: payload.length,
    messages_enqueue: N,
    messages_redis: M,
    redis_sink_published: stats.published,
    redis_sink_dropped: stats.dropped,
  };
  console.log(`publish (encode+enqueue) ${result.publish_enqueue_ns_per_msg} ns/msg   vs baseline JSON.stringify+Buffer ${result.baseline_json_buffer_ns_per_msg} ns/msg`);
  console.log(`Redis delivery via sink  ${result.redis_sink_delivered_msgs_per_s} msg/s    vs baseline ioredis pipeline ${result.baseline_redis_direct_pipeline_msgs_per_s} msg/s   (${payload.length} B payload)`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/queue-publish.json', `${JSON.stringify(result, null, 2)}\n`);
}

await main();
