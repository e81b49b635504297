import { MemoryQueueStore } from './queue-store.ts';
import { describeQueueStore } from '../../test/support/queue-store-contract.ts';

describeQueueStore('in-memory', async () => new MemoryQueueStore());
