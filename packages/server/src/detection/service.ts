import { PatchwardenError } from '@patchwarden/core';
import type { Store } from '@patchwarden/store';
import type { FastifyBaseLogger } from 'fastify';
import type { DetectionService } from './types.js';

/** Not built yet: the agent-protocol work replaces this. */
export function createDetectionService(_deps: {
  store: Store;
  log: FastifyBaseLogger;
  now: () => Date;
}): DetectionService {
  const missing = (): never => {
    throw new PatchwardenError('NOT_IMPLEMENTED', 'detection is not built yet', 501);
  };
  return {
    evaluateHost: async () => missing(),
    reevaluatePackages: async () => missing(),
    refresh: async () => missing(),
  };
}
