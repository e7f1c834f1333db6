export {
  LocalFolderStore,
  MediaUploader,
  S3Store,
  StorageError,
  checkKey,
  type ObjectStore,
  type StoredObject,
} from './store.js';
export { AzureBlobStore } from './azure.js';
export { createObjectStore } from './factory.js';
export { parseStorageOptions, type AzureStoreOptions, type LocalStoreOptions, type S3Credentials, type S3StoreOptions, type StorageConfig } from './options.js';
