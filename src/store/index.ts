/** Detection store, retention, embeddings and search: the public surface of src/store/. */
export {
  DetectionStore, Collection, VigilStoreError,
  type SyncMode, type DetectionStoreOptions, type CommittedBatch, type DetectionQuery, type PageRequest, type DetectionPage,
  type ReplayResult, type StoreStats,
} from './detection-store.js';
export { RetentionManager, statfsDisk, storeHealthCheck, type RetentionOptions, type RetentionReport, type StoreHealth, type DiskStats } from './retention.js';
export { VectorIndex, type VectorIndexOptions, type TrackVector, type SearchFilters, type SearchRequest, type SearchHit, type OpenReport } from './vector-index.js';
export { searchRest, parseSearchBody, parseSearchQuery, searchHitToJson, type SearchRestBody, type SearchRestHit, type SearchRestResponse } from './search-rest.js';
export { TrackEmbeddings, registerTrackEmbeddingMetrics, type TrackObservation, type CroppableFrame, type TrackEmbedder, type TrackVectorSink, type TrackEmbeddingsOptions, type TrackEmbeddingStats } from './track-embeddings.js';
