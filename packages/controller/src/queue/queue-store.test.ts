import { MemoryQueueStore } from './queue-store.ts';
import { describeQueueStore } from './queue-store-contract.ts';

describeQueueStore('in-memory', async () => new MemoryQueueStore());
