export { parseVJobFile, vjobFileSchema, type VJobSpec, type VMSpec } from './vjob-file.ts';
export { bySubmission, MemoryQueueStore, VJobEnd, type QueueStore, type StoredVJob } from './queue-store.ts';
export {
  KvQueueStore,
  openQueueStore,
  queueBucketOf,
  QueueStoreKind,
  DEFAULT_QUEUE_HISTORY,
} from './kv-queue-store.ts';
