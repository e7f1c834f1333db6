/**
 * One LMDB environment for the whole server (`<dataDir>/db`): the detection store, auth, rules, the notification
 * outbox and the recording segment index each get named sub-databases under their own prefix, so writes of
 * different modules can commit in one transaction (an alert and its event-log entry) and there is one file, one
 * sync policy and one map to size.
 *
 * - Sub-database names are `<scope>/<name>`; a scope with the empty prefix uses bare names (a module opened on its
 *   own folder through `Database.open`, which is also how the folders of earlier versions were laid out, so
 *   src/db/migrate.ts copies them name for name).
 * - The map is reserved large (1 TiB of address space by default, nothing is allocated: without LMDB's writemap
 *   the file grows with the data) so it never has to be remapped while readers hold pages.
 * - maxDbs bounds the named sub-databases of every module together (one per camera in the store): 8192 by default.
 */
import { mkdirSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import { open, type Database as LmdbDatabase, type RootDatabase } from 'lmdb';
import { expected, VigilClosedError } from '../errors.js';

/**
 * How commits reach the disk.
 * - 'durable' (default): every commit is fsynced before it is acknowledged. Survives process kill and power loss.
 * - 'overlapping': LMDB's overlapping sync; acknowledged at commit, flushed right after in the background. Survives
 *   a process kill (the data is in the OS page cache); a power loss or kernel crash can lose the last acknowledged
 *   commits (the database stays consistent: it reopens at the last flushed transaction).
 * - 'none': no fsync at all (LMDB noSync). Only for throw-away data: a power loss can lose any amount of recent
 *   data and, with an unlucky write order, corrupt the file.
 */
export type SyncMode = 'durable' | 'overlapping' | 'none';

export interface DatabaseOptions {
  /** Directory of the LMDB environment (created if missing); a path with an extension is one file instead. */
  path: string;
  sync?: SyncMode;
  /** Most named sub-databases, all scopes together (each camera of the store takes one). Default 8192. */
  maxDbs?: number;
  /** Address space reserved for the map, bytes (not allocated). Default 1 TiB. */
  mapSizeBytes?: number;
}

export type KeyEncoding = 'binary' | 'uint32' | 'ordered-binary';
export type ValueEncoding = 'binary' | 'msgpack' | 'ordered-binary' | 'string' | 'json';

export interface SubDatabaseOptions {
  keyEncoding?: KeyEncoding;
  encoding?: ValueEncoding;
  /**
   * lmdb-js custom codecs (`{ writeKey, readKey }`, `{ encode, decode }`): a second handle on a sub-database that
   * decodes in place from lmdb-js's shared buffers (see src/store/row-reader.ts). Such handles are not shared.
   * A key encoder reads and writes raw byte keys, in LMDB's byte order: one with `enableNullTermination` is refused
   * (lmdb-js would switch the sub-database, for every handle on it, to its ordered-binary comparator).
   */
  keyEncoder?: object;
  encoder?: object;
}

const DEFAULT_MAX_DBS = 8192;
const DEFAULT_MAP_SIZE = 2 ** 40;
const SCOPE_RE = /^[a-z][a-z0-9-]{0,31}$/;

export class Database {
  readonly path: string;
  readonly sync: SyncMode;
  /** The lmdb-js root: for modules that read its statistics; open sub-databases through a scope. */
  readonly env: RootDatabase;
  private readonly opened = new Map<string, LmdbDatabase<any, any>>();
  // Opened once: lmdb-js parks a finished iterator's native cursor on its handle for reuse and never closes it when
  // the handle is garbage-collected, so a handle opened per call left an LMDB cursor (~1 KB) behind per call.
  private root: LmdbDatabase<Buffer, Buffer> | null = null;
  private closing: Promise<void> | null = null;
  private closed_ = false;

  private constructor(options: DatabaseOptions) {
    if (typeof options !== 'object' || options === null) throw expected('an options object', 'options', options);
    if (typeof options.path !== 'string' || options.path === '') throw expected('a directory path', 'options.path', options.path);
    const sync = options.sync ?? 'durable';
    if (sync !== 'durable' && sync !== 'overlapping' && sync !== 'none') throw expected("'durable', 'overlapping' or 'none'", 'options.sync', options.sync);
    const maxDbs = options.maxDbs ?? DEFAULT_MAX_DBS;
    if (!Number.isInteger(maxDbs) || maxDbs < 16 || maxDbs > 32_000) throw expected('an integer from 16 to 32000', 'options.maxDbs', options.maxDbs);
    const mapSize = options.mapSizeBytes ?? DEFAULT_MAP_SIZE;
    if (!Number.isSafeInteger(mapSize) || mapSize < 2 ** 20) throw expected('an integer number of bytes >= 1 MiB', 'options.mapSizeBytes', options.mapSizeBytes);
    this.path = options.path;
    this.sync = sync;
    // lmdb-js keeps a path with an extension as one file (plus `-lock`) instead of a folder
    mkdirSync(extname(this.path) === '' ? this.path : dirname(this.path), { recursive: true });
    this.env = open({
      path: this.path,
      maxDbs,
      mapSize,
      overlappingSync: sync === 'overlapping',
      noSync: sync === 'none',
      commitDelay: 0,
      compression: false,
    });
  }

  /** Opens (or creates) the environment. Synchronous: LMDB opens memory-mapped. */
  static open(options: DatabaseOptions): Database {
    return new Database(options);
  }

  get closed(): boolean {
    return this.closed_;
  }

  assertOpen(): void {
    if (this.closed_ || this.closing) throw new VigilClosedError('Database');
  }

  /** The sub-databases of one module: names `<prefix>/<name>` ('' = bare names). */
  scope(prefix: string): DatabaseScope {
    if (prefix !== '' && (typeof prefix !== 'string' || !SCOPE_RE.test(prefix))) throw expected('a scope name of 1-32 lowercase letters, digits or -', 'prefix', prefix);
    return new DatabaseScope(this, prefix);
  }

  /**
   * Opens (or creates) one sub-database by its full name; the same name hands out the same handle. A handle with a
   * custom `keyEncoder`/`encoder` is new on each call: keep it (each handle that has run a range keeps a native
   * cursor that lmdb-js does not free with the handle).
   */
  openDB<V = unknown, K extends import('lmdb').Key = import('lmdb').Key>(name: string, options: SubDatabaseOptions = {}): LmdbDatabase<V, K> {
    this.assertOpen();
    if (typeof name !== 'string' || name === '') throw expected('a sub-database name', 'name', name);
    if (options.keyEncoder || options.encoder) {
      // LMDB keeps one comparator per sub-database for the whole environment, and lmdb-js sets its `compareFast`
      // (null-terminated ordered-binary keys) for a handle whose key encoder has `enableNullTermination`: the
      // sub-database's other handles would then compare raw keys of different lengths by whatever bytes lie after
      // the shorter one (a range without `start` skipped rows: see row-reader.ts).
      if (options.keyEncoder && 'enableNullTermination' in options.keyEncoder) {
        throw expected('a key encoder of raw byte keys (without enableNullTermination)', 'options.keyEncoder', options.keyEncoder);
      }
      return this.env.openDB<V, K>({ name, ...options } as never);
    }
    const key = `${name}\0${options.keyEncoding ?? ''}\0${options.encoding ?? ''}`;
    let db = this.opened.get(key);
    if (!db) {
      db = this.env.openDB<V, K>({ name, ...options } as never);
      this.opened.set(key, db);
    }
    return db as LmdbDatabase<V, K>;
  }

  /** Names of the sub-databases that exist in the environment, sorted (bytewise). */
  names(): string[] {
    this.assertOpen();
    const root = (this.root ??= this.env.openDB<Buffer, Buffer>({ name: null, keyEncoding: 'binary', encoding: 'binary' } as never));
    const out: string[] = [];
    // lmdb-js stores names NUL-terminated
    for (const key of root.getKeys({})) out.push(Buffer.from(key as Buffer).toString('utf8').replace(/\0$/, ''));
    return out;
  }

  /**
   * Bytes the file occupies, bytes in use by some sub-database (or LMDB's own trees), and the rest: free pages
   * that new writes reuse before the file grows.
   */
  spaceUsage(): { fileBytes: number; usedBytes: number; reusableBytes: number } {
    this.assertOpen();
    type PageStats = { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
    const pages = (s: PageStats): number => s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
    const stats = this.env.getStats() as PageStats & { pageSize: number; lastPageNumber: number; free?: PageStats };
    let used = pages(stats) + (stats.free ? pages(stats.free) : 0);
    for (const name of this.names()) used += pages(this.openDB(name, { keyEncoding: 'binary', encoding: 'binary' }).getStats() as PageStats);
    const filePages = stats.lastPageNumber + 1;
    return { fileBytes: filePages * stats.pageSize, usedBytes: used * stats.pageSize, reusableBytes: Math.max(0, filePages - used) * stats.pageSize };
  }

  /**
   * Read transactions open on the environment (every process), and how many commits the oldest is behind the
   * newest. LMDB reuses no page freed after the oldest open read transaction, so a lag that keeps growing is a
   * pinned snapshot and the file grows with every commit until it ends.
   */
  readTransactions(): { open: number; oldestLagTxns: number | null } {
    this.assertOpen();
    const last = (this.env.getStats() as { lastTxnId: number }).lastTxnId;
    // mdb_reader_list's lines after its header: "pid thread txnid", txnid "-" for an idle slot.
    const txns = this.env
      .readerList()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length === 3 && /^\d+$/.test(f[2]!))
      .map((f) => Number(f[2]));
    return { open: txns.length, oldestLagTxns: txns.length === 0 ? null : last - Math.min(...txns) };
  }

  /**
   * Runs `fn` inside one asynchronous write transaction (batched with the other pending writes) and resolves with
   * its result after the commit (durably with sync 'durable'). Writes inside use the sub-databases' `putSync` /
   * `removeSync`; everything `fn` writes, in any scope, commits together or not at all.
   */
  transaction<T>(fn: () => T): Promise<T> {
    this.assertOpen();
    return this.env.transaction(fn) as Promise<T>;
  }

  /** Like `transaction`, but runs and commits at once (blocks the thread for the commit). */
  transactionSync<T>(fn: () => T): T {
    this.assertOpen();
    return this.env.transactionSync(fn);
  }

  /**
   * Inside a write transaction: runs `fn` in a nested transaction that is rolled back alone when `fn` throws (the
   * error is rethrown; the enclosing transaction goes on).
   */
  nested<T>(fn: () => T): T {
    return this.env.childTransaction(fn) as unknown as T;
  }

  /** Resolves when every write issued so far is committed. */
  flushed(): Promise<boolean> {
    return this.env.flushed;
  }

  /** Closes the environment after the pending writes. Idempotent. Close the modules using it first. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      try {
        await this.env.flushed;
      } finally {
        this.closed_ = true;
        await this.env.close();
      }
    })();
    return this.closing;
  }
}

/** One module's view of the database: its sub-databases, and the shared transactions. */
export class DatabaseScope {
  constructor(
    readonly database: Database,
    readonly prefix: string,
  ) {}

  /** The full name of one of this scope's sub-databases. */
  fullName(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}/${name}`;
  }

  open<V = unknown, K extends import('lmdb').Key = import('lmdb').Key>(name: string, options: SubDatabaseOptions = {}): LmdbDatabase<V, K> {
    return this.database.openDB<V, K>(this.fullName(name), options);
  }

  /** This scope's sub-database names (without the prefix). */
  names(): string[] {
    if (this.prefix === '') return this.database.names().filter((n) => !n.includes('/'));
    const p = `${this.prefix}/`;
    return this.database.names().filter((n) => n.startsWith(p)).map((n) => n.slice(p.length));
  }

  transaction<T>(fn: () => T): Promise<T> {
    return this.database.transaction(fn);
  }

  transactionSync<T>(fn: () => T): T {
    return this.database.transactionSync(fn);
  }

  assertOpen(): void {
    this.database.assertOpen();
  }
}

/**
 * What a module's constructor takes: a scope of a shared Database (the server), or a folder for a module used on its
 * own (tests, tools), which opens a Database there that the module then owns and closes.
 */
export type DatabaseSource = DatabaseScope | string;

/** Resolves a DatabaseSource: the scope, and whether the caller owns (must close) its Database. */
export function resolveSource(source: DatabaseSource, what: string, defaults: Omit<DatabaseOptions, 'path'> = {}): { scope: DatabaseScope; owned: boolean } {
  if (source instanceof DatabaseScope) return { scope: source, owned: false };
  if (typeof source === 'string' && source !== '') return { scope: Database.open({ ...defaults, path: source }).scope(''), owned: true };
  throw expected('a folder path or a DatabaseScope', what, source);
}
