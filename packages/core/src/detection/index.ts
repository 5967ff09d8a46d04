export {
  type AdvisoryIndex,
  type AdvisoryIndexDelta,
  type AdvisoryIndexInput,
  type AdvisoryIndexStats,
  advisoriesFor,
  buildAdvisoryIndex,
  type MatchKind,
  packagesTouchedBy,
  recordKey,
  updateAdvisoryIndex,
} from './advisory-index.js';
export {
  createDetectionMemo,
  type DetectionContext,
  type DetectionMemo,
  type DetectionResult,
  type DetectionStats,
  detect,
  detectFindings,
  detectPackages,
  emptyDetectionStats,
  packageRefsOf,
} from './detect.js';
export { type PackageRef, packageKey, scopeKey, scopeOf } from './scope.js';
