/** The object store a storage config names (local folder, S3-compatible, Azure Blob). */
import { AzureBlobStore } from './azure.js';
import { parseStorageOptions, type StorageConfig } from './options.js';
import { LocalFolderStore, S3Store, type ObjectStore } from './store.js';

export function createObjectStore(raw: StorageConfig): ObjectStore {
  const config = parseStorageOptions(raw, 'storage');
  if (config.type === 'azure') return new AzureBlobStore(config);
  return config.type === 'local' ? new LocalFolderStore(config) : new S3Store(config);
}
