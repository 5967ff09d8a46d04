import { isCveId, isIsoDate, isObject } from '../common.js';

/**
 * One entry of the CISA KEV catalogue (JSON `vulnerabilities[]`, or a row of the CSV with the same
 * column names). CISA's JSON Schema: known_exploited_vulnerabilities_schema.json. Only the fields
 * Patchwarden keeps are read; only `parse.ts` uses this.
 */
export interface KevRow {
  cveID: string;
  vendorProject: string;
  product: string;
  vulnerabilityName: string;
  dateAdded: string;
  dueDate: string;
  knownRansomwareCampaignUse: string;
}

const TEXT_FIELDS = ['vendorProject', 'product', 'vulnerabilityName', 'knownRansomwareCampaignUse'] as const;
const DATE_FIELDS = ['dateAdded', 'dueDate'] as const;

/** The row, or the list of problems with it (each naming the field). */
export function readKevRow(value: unknown): KevRow | string[] {
  if (!isObject(value)) return ['the entry must be an object'];
  const problems: string[] = [];
  const { cveID } = value;
  if (typeof cveID !== 'string' || !isCveId(cveID.trim())) problems.push('cveID must be a CVE id');
  for (const field of TEXT_FIELDS) {
    if (typeof value[field] !== 'string') problems.push(`${field} must be a string`);
  }
  for (const field of DATE_FIELDS) {
    const date = value[field];
    if (typeof date !== 'string' || !isIsoDate(date.trim()))
      problems.push(`${field} must be a YYYY-MM-DD date`);
  }
  if (problems.length > 0) return problems;
  const text = (field: keyof KevRow) => String(value[field]).trim();
  return {
    cveID: text('cveID'),
    vendorProject: text('vendorProject'),
    product: text('product'),
    vulnerabilityName: text('vulnerabilityName'),
    dateAdded: text('dateAdded'),
    dueDate: text('dueDate'),
    knownRansomwareCampaignUse: text('knownRansomwareCampaignUse'),
  };
}
