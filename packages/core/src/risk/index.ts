export { DEFAULT_SLA_POLICY, dueDate } from './due-date.js';
export { CRITICALITY_WEIGHT, riskScore, SEVERITY_FLOOR } from './score.js';
export type { Criticality, DueDateInput, RiskInput, SlaPolicy } from './types.js';
