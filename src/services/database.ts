/**
 * The database slot of the service context. Today the detection store's LMDB environment is the root that the
 * snapshot and track-id sub-databases live in, and auth, rules, notifications and the recording index open their
 * own environments under `dir(name)`. src/db's Database (one root environment handing out named sub-databases)
 * fills the same slot from this service when it lands.
 */
import { join } from 'node:path';
import type { Database } from 'lmdb';
import { DetectionStore } from '../store/index.js';
import type { Service, ServiceContext } from './service.js';

export type SubKey = string | number | (string | number)[];

export interface DatabaseSlot {
  readonly detections: DetectionStore;
  /** A named sub-database of the root environment (ordered-binary keys, msgpack values). */
  sub<V, K extends SubKey>(name: string): Database<V, K>;
  /** The folder of a module that still keeps its own environment. */
  dir(name: string): string;
}

export class DatabaseService implements Service {
  readonly name = 'database';
  #store: DetectionStore | null = null;

  async start(ctx: ServiceContext): Promise<void> {
    const store = DetectionStore.open({ path: join(ctx.config.dataDir, 'detections') });
    this.#store = store;
    ctx.db = {
      detections: store,
      sub: <V, K extends SubKey>(name: string) => store.openDatabase<V, K>(name, { keyEncoding: 'ordered-binary', encoding: 'msgpack' }),
      dir: (name) => join(ctx.config.dataDir, name),
    };
  }

  async stop(): Promise<void> {
    await this.#store?.close();
  }
}
