/**
 * One-time migration of the data folders of earlier versions, which opened one LMDB environment per module
 * (`detections/`, `auth/auth/`, `rules/`, `notify/`, `recordings.lmdb`), into the scopes of the one Database.
 *
 * Per folder: every sub-database is copied record by record, as raw bytes (keys and values byte for byte, so
 * MessagePack values and their shared-structure records decode as before), in transactions of `chunk` records,
 * into `<scope>/<name>`; then the folder is renamed to `<folder>.migrated` (kept, never deleted: the operator
 * removes it). Progress is recorded in the Database (`db/migrations`): a copy interrupted by a crash is started
 * over on the next open (the partial copy is cleared first), and a folder whose copy completed is only renamed.
 * A scope that already holds data the migration did not write is never overwritten (E_DB_MIGRATION).
 */
import { existsSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database as LmdbDatabase } from 'lmdb';
import { VigilError } from '../errors.js';
import { Database, type DatabaseOptions, type SubDatabaseOptions } from './database.js';

export class DatabaseMigrationError extends VigilError {}

/** Where earlier versions kept each module's environment, relative to the data folder, and its scope now. */
export const LEGACY_ENVIRONMENTS: readonly { path: string; scope: string }[] = [
  { path: 'detections', scope: 'store' },
  // AuthService was given `<dataDir>/auth` and AuthStore opened `auth` inside it (the JWT secret stays in auth/)
  { path: join('auth', 'auth'), scope: 'auth' },
  { path: 'rules', scope: 'rules' },
  { path: 'notify', scope: 'notify' },
  { path: 'recordings.lmdb', scope: 'segments' },
];

export interface MigratedEnvironment {
  from: string;
  scope: string;
  databases: number;
  records: number;
  /** Where the old folder (or file) is now. */
  renamedTo: string;
}

export interface MigrationOptions {
  /** Records per write transaction. Default 10000. */
  chunk?: number;
  log?: (line: string) => void;
}

// LMDB's persistent per-database flags (MDB_db.md_flags) that change how keys or values are stored
const MDB_REVERSEKEY = 0x02;
const MDB_DUPSORT = 0x04;
const MDB_INTEGERKEY = 0x08;
const MDB_DUPFIXED = 0x10;
const MDB_INTEGERDUP = 0x20;
const MDB_REVERSEDUP = 0x40;

function isLegacyEnvironment(path: string): boolean {
  if (!existsSync(path)) return false;
  return statSync(path).isDirectory() ? existsSync(join(path, 'data.mdb')) : true;
}

/** Named sub-databases of an environment with their LMDB flags (read from the main database's records). */
function subDatabases(root: LmdbDatabase<Buffer, Buffer>): { name: string; flags: number }[] {
  const out: { name: string; flags: number }[] = [];
  for (const { key, value } of root.getRange({})) {
    // MDB_db: md_pad u32, md_flags u16, ... (48 bytes)
    const v = Buffer.from(value);
    if (v.length < 48) throw new DatabaseMigrationError('E_DB_MIGRATION', `Record ${JSON.stringify(Buffer.from(key).toString())} of the main database is not a sub-database`);
    out.push({ name: Buffer.from(key).toString('utf8').replace(/\0$/, ''), flags: v.readUInt16LE(4) });
  }
  return out;
}

function codecOptions(flags: number, name: string): SubDatabaseOptions & { dupSort?: boolean } {
  if (flags & (MDB_REVERSEKEY | MDB_DUPFIXED | MDB_INTEGERDUP | MDB_REVERSEDUP)) {
    throw new DatabaseMigrationError('E_DB_MIGRATION', `Sub-database ${name} has LMDB flags 0x${flags.toString(16)} this migration does not copy`);
  }
  return { keyEncoding: flags & MDB_INTEGERKEY ? 'uint32' : 'binary', encoding: 'binary', ...(flags & MDB_DUPSORT ? { dupSort: true } : {}) };
}

/**
 * Copies the environments of earlier versions found in `dataDir` into `db` (see the file comment). Synchronous;
 * returns what it moved (empty when there was nothing to migrate).
 */
export function migrateLegacy(db: Database, dataDir: string, options: MigrationOptions = {}): MigratedEnvironment[] {
  const chunk = options.chunk ?? 10_000;
  const log = options.log ?? (() => undefined);
  const progress = db.scope('db').open<string, string>('migrations');
  const report: MigratedEnvironment[] = [];
  for (const legacy of LEGACY_ENVIRONMENTS) {
    const path = join(dataDir, legacy.path);
    if (!isLegacyEnvironment(path)) continue;
    const scope = db.scope(legacy.scope);
    const state = progress.get(legacy.path);
    let databases = 0;
    let records = 0;
    if (state !== 'done') {
      const existing = scope.names();
      const holding = existing.filter((name) => db.openDB(scope.fullName(name), { keyEncoding: 'binary', encoding: 'binary' }).getCount() > 0);
      if (state === undefined && holding.length > 0) {
        throw new DatabaseMigrationError('E_DB_MIGRATION', `${path} holds data from an earlier version, but scope "${legacy.scope}" of ${db.path} already holds ${holding.join(', ')}: move one of them away`);
      }
      // an interrupted copy: start over
      if (existing.length > 0) db.transactionSync(() => {
        for (const name of existing) db.openDB(scope.fullName(name), { keyEncoding: 'binary', encoding: 'binary' }).clearSync();
      });
      progress.putSync(legacy.path, 'started');
      log(`migrating ${path} into scope "${legacy.scope}" of ${db.path}`);
      const env = open({ path, readOnly: true, maxDbs: 32_000, compression: false });
      try {
        const root = env.openDB<Buffer, Buffer>({ name: null, keyEncoding: 'binary', encoding: 'binary' } as never);
        for (const { name, flags } of subDatabases(root)) {
          const codec = codecOptions(flags, name);
          const from = env.openDB<Buffer, Buffer | number>({ name, ...codec } as never);
          const to = db.openDB<Buffer, Buffer | number>(scope.fullName(name), codec);
          const it = from.getRange({})[Symbol.iterator]();
          for (let done = false; !done; ) {
            db.transactionSync(() => {
              for (let i = 0; i < chunk; i++) {
                const n = it.next();
                if (n.done) {
                  done = true;
                  return;
                }
                // keys arrive in order: append where LMDB allows it (pages stay full)
                const key = codec.keyEncoding === 'binary' ? Buffer.from(n.value.key as Buffer) : n.value.key;
                const value = Buffer.from(n.value.value);
                if (!codec.dupSort && (to.putSync(key, value, { append: true }) as unknown as boolean) !== false) continue;
                to.putSync(key, value);
              }
            });
          }
          // the target was empty: its count is what was copied
          records += to.getCount();
          databases++;
        }
      } finally {
        void env.close();
      }
      progress.putSync(legacy.path, 'done');
    }
    const renamedTo = `${path}.migrated`;
    renameSync(path, renamedTo);
    if (existsSync(`${path}-lock`)) renameSync(`${path}-lock`, `${renamedTo}-lock`);
    log(`migrated ${path}: ${databases} sub-databases, ${records} records; the old copy is in ${renamedTo}`);
    report.push({ from: path, scope: legacy.scope, databases, records, renamedTo });
  }
  return report;
}

/**
 * Opens `<dataDir>/db`, the server's one Database, and migrates the environments of earlier versions into it once.
 */
export function openDataDatabase(dataDir: string, options: Omit<DatabaseOptions, 'path'> & MigrationOptions = {}): { database: Database; migrated: MigratedEnvironment[] } {
  const { chunk, log, ...dbOptions } = options;
  const database = Database.open({ ...dbOptions, path: join(dataDir, 'db') });
  try {
    return { database, migrated: migrateLegacy(database, dataDir, { ...(chunk !== undefined ? { chunk } : {}), ...(log ? { log } : {}) }) };
  } catch (err) {
    void database.close();
    throw err;
  }
}
