/**
 * The database slot of the service context: the server's one LMDB environment (src/db/), `<dataDir>/db`, opened
 * first and closed last. Each module gets its own scope of it (`scope(name)`: store, auth, rules, notify,
 * segments), so writes of different modules can share a transaction. A data folder of an earlier version (one
 * environment per module) is migrated into it on the first start (src/db/migrate.ts).
 */
import { join } from 'node:path';
import type { Database as LmdbDatabase } from 'lmdb';
import type { Database, DatabaseScope } from '../db/database.js';
import { openDataDatabase } from '../db/migrate.js';
import { DetectionStore } from '../store/index.js';
import type { DatabaseSlot, Service, ServiceContext, SubKey } from './service.js';

export class DatabaseService implements Service {
  readonly name = 'database';
  #database: Database | null = null;
  #store: DetectionStore | null = null;

  async start(ctx: ServiceContext): Promise<void> {
    const log = ctx.log.child('database');
    const { database } = openDataDatabase(ctx.config.dataDir, { log: (line) => log.info(line) });
    this.#database = database;
    const store = DetectionStore.open({ database: database.scope('store') });
    this.#store = store;
    ctx.db = {
      database,
      detections: store,
      scope: (name) => database.scope(name),
      sub: <V, K extends SubKey>(name: string) => store.openDatabase<V, K>(name, { keyEncoding: 'ordered-binary', encoding: 'msgpack' }),
      dir: (name) => join(ctx.config.dataDir, name),
    };
  }

  async stop(): Promise<void> {
    try {
      await this.#store?.close();
    } finally {
      await this.#database?.close();
    }
  }
}
