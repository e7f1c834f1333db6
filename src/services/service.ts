/**
 * The unit the server is composed of: a Service starts with the shared context once every service before it has
 * started, and stops in reverse order. A service gets the objects of earlier services through its constructor, so
 * nothing refers forward; it attaches its listeners in start(), before any later service can emit.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { VigilError } from '../errors.js';
import type { Logger } from '../log.js';
import type { VigilConfig } from '../config/index.js';
import { HealthRegistry } from './health.js';
import type { Database as LmdbDatabase } from 'lmdb';
import type { Database, DatabaseScope } from '../db/database.js';
import type { DetectionStore } from '../store/index.js';

/** The database slot, filled by DatabaseService (src/services/database.ts). */
export type SubKey = string | number | (string | number)[];

export interface DatabaseSlot {
  readonly database: Database;
  readonly detections: DetectionStore;
  /** One module's scope of the Database ('auth', 'rules', 'notify', 'segments'; the store has 'store'). */
  scope(name: string): DatabaseScope;
  /** A named sub-database of the store's scope (ordered-binary keys, msgpack values). */
  sub<V, K extends SubKey>(name: string): LmdbDatabase<V, K>;
  /** A module's folder under the data folder (for files that are not in the database). */
  dir(name: string): string;
}

export interface ServiceContext {
  readonly config: VigilConfig;
  readonly log: Logger;
  /** Prometheus registry every service adds its metrics to (served by GET /metrics). */
  readonly metrics: Registry;
  /** Health checks every service registers (served by GET /health). */
  readonly health: HealthRegistry;
  /** The database, once the database service has started; reading it earlier throws E_NOT_STARTED. */
  db: DatabaseSlot;
}

export interface Service {
  readonly name: string;
  start(ctx: ServiceContext): Promise<void>;
  /** Releases what start() acquired. Called once, also after a failed start of a later service. */
  stop(): Promise<void>;
}

/** Reads a value a service makes in start(): a later service reading it before then is a composition bug. */
export function started<T>(value: T | null | undefined, what: string): T {
  if (value === null || value === undefined) throw new VigilError('E_NOT_STARTED', `${what} is read before its service started`);
  return value;
}

export function createContext(config: VigilConfig, log: Logger): ServiceContext {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  let db: DatabaseSlot | null = null;
  return {
    config,
    log,
    metrics,
    health: new HealthRegistry(),
    get db(): DatabaseSlot {
      return started(db, 'ctx.db');
    },
    set db(value: DatabaseSlot) {
      db = value;
    },
  };
}

export interface RunningServices {
  /** Stops the started services in reverse order; errors are logged, never thrown. Idempotent. */
  stop(): Promise<void>;
}

/** Starts `services` in order; when one fails, those already started are stopped (in reverse) and the error rethrown. */
export async function startServices(services: readonly Service[], ctx: ServiceContext): Promise<RunningServices> {
  const running: Service[] = [];
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const s of running.reverse()) {
        try {
          await s.stop();
        } catch (err) {
          ctx.log.error(`stopping ${s.name}: ${(err as Error).message}`);
        }
      }
    })());
  try {
    for (const s of services) {
      running.push(s);
      await s.start(ctx);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { stop };
}
