export {
  LocalFolderStore,
  MediaUploader,
  S3Store,
  StorageError,
  checkKey,
  createObjectStore,
  type LocalStoreOptions,
  type ObjectStore,
  type S3StoreOptions,
  type StorageConfig,
  type StoredObject,
} from './store.js';
