export {
  LocalFolderStore,
  MediaUploader,
  S3Store,
  StorageError,
  checkKey,
  createObjectStore,
  type ObjectStore,
  type StoredObject,
} from './store.js';
export { parseStorageOptions, type LocalStoreOptions, type S3Credentials, type S3StoreOptions, type StorageConfig } from './options.js';
