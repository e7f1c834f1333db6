/**
 * The partition outbox: events a node produced while it could not publish them to the cluster stream (its NATS
 * link down, or JetStream not acknowledging), kept in LMDB (the server's Database, scope `cluster-outbox`) until
 * the link returns, then published in the order they were produced.
 *
 * - What is kept is the message as it would have been published: subject, headers (node, camera, the **fencing
 *   token the camera ran under when the event was produced**, production time) and the message id. So a late event
 *   of a lease that was taken over meanwhile reaches the stream recognisable by its older token (consumers refuse
 *   it: src/cluster/bridge.ts, src/cluster/stream-log.ts), and a retried publish whose first attempt did reach the
 *   stream is dropped by JetStream's duplicate window on its message id (exactly once within that window, 120 s).
 * - Keys are the node's production order (a per-start base plus the event's counter), not the order of arrival in
 *   the outbox: an event whose publish failed late still takes its place before the ones produced after it.
 * - Bounded by `maxEvents` and `maxBytes`: past either, the new event is dropped and counted (`dropped`, exported
 *   as `vigil_cluster_outbox_dropped_total`); what is stored stays a gap-free prefix of what could not be sent.
 * - It survives a restart: the entries left are published when the node next connects.
 */
import type { Database as LmdbDatabase } from 'lmdb';
import type { DatabaseScope } from '../db/database.js';
import { expected } from '../errors.js';

export interface OutboxMessage {
  subject: string;
  msgID: string;
  headers: Array<[string, string]>;
  data: Uint8Array;
}

export interface OutboxOptions {
  /** Most events held. Default 100000. */
  maxEvents?: number;
  /** Most payload bytes held (data + headers). Default 256 MiB. */
  maxBytes?: number;
}

export interface OutboxStats {
  /** Events put into the outbox. */
  stored: number;
  /** Events published from it (acknowledged by JetStream, duplicates included). */
  flushed: number;
  /** Events refused because the outbox was full. */
  dropped: number;
  /** Publishes from it that failed (the event stays; the flush retries later). */
  flushFailed: number;
  /** Outbox writes that failed (the event is lost; counted). */
  writeErrors: number;
}

const sizeOf = (m: OutboxMessage): number => m.data.byteLength + m.subject.length + m.msgID.length + m.headers.reduce((n, [k, v]) => n + k.length + v.length, 0);

export class EventOutbox {
  readonly stats: OutboxStats = { stored: 0, flushed: 0, dropped: 0, flushFailed: 0, writeErrors: 0 };
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly #db: LmdbDatabase<OutboxMessage, number>;
  /** Keys of this start are base + the producer's counter (above every key an earlier start left). */
  readonly #base: number;
  #count: number;
  #bytes = 0;

  constructor(scope: DatabaseScope, options: OutboxOptions = {}) {
    this.maxEvents = options.maxEvents ?? 100_000;
    this.maxBytes = options.maxBytes ?? 256 * 2 ** 20;
    if (!Number.isSafeInteger(this.maxEvents) || this.maxEvents < 1) throw expected('a positive integer', 'outbox.maxEvents', options.maxEvents);
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1) throw expected('a positive integer', 'outbox.maxBytes', options.maxBytes);
    this.#db = scope.open<OutboxMessage, number>('events', { keyEncoding: 'ordered-binary', encoding: 'msgpack' });
    let last = 0;
    for (const k of this.#db.getKeys({ reverse: true, limit: 1 })) last = k;
    // 2^40 counters per start: a node would have to publish a million events a second for 12 days to reach it.
    this.#base = (Math.floor(last / 2 ** 40) + 1) * 2 ** 40;
    this.#count = 0;
    for (const { value } of this.#db.getRange({})) {
      this.#count++;
      this.#bytes += sizeOf(value);
    }
  }

  /** Events held now. */
  get size(): number {
    return this.#count;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Keeps one event, `counter` being its place in this start's production order. False (counted in `dropped`)
   * when the outbox is full.
   */
  add(counter: number, m: OutboxMessage): boolean {
    const size = sizeOf(m);
    if (this.#count >= this.maxEvents || this.#bytes + size > this.maxBytes) {
      this.stats.dropped++;
      return false;
    }
    this.#count++;
    this.#bytes += size;
    this.stats.stored++;
    this.#db.put(this.#base + counter, m).catch(() => {
      this.stats.writeErrors++;
      this.#count--;
      this.#bytes -= size;
    });
    return true;
  }

  /**
   * Publishes the held events oldest first, one at a time (a failure never lets a later event pass an earlier
   * one), removing each once `publish` resolved. Stops at the first failure (the rest stay) or when `stop()` says
   * so. Resolves with the number published.
   */
  async flush(publish: (m: OutboxMessage) => Promise<void>, stop: () => boolean = () => false): Promise<number> {
    let n = 0;
    // Writes still queued in lmdb-js are not visible to reads yet.
    await this.#db.flushed;
    for (;;) {
      const page = [...this.#db.getRange({ limit: 64 })];
      if (page.length === 0) return n;
      for (const { key, value } of page) {
        if (stop()) return n;
        try {
          await publish(value);
        } catch {
          this.stats.flushFailed++;
          return n;
        }
        await this.#db.remove(key);
        this.#count--;
        this.#bytes -= sizeOf(value);
        this.stats.flushed++;
        n++;
      }
      await this.#db.flushed;
    }
  }
}
