/** The server's one LMDB environment and the migration of earlier data folders into it. */
export { Database, DatabaseScope, resolveSource, type DatabaseOptions, type DatabaseSource, type SubDatabaseOptions, type SyncMode } from './database.js';
export { DatabaseMigrationError, LEGACY_ENVIRONMENTS, migrateLegacy, openDataDatabase, type MigratedEnvironment, type MigrationOptions } from './migrate.js';
