/**
 * RFC 4180 CSV: fields separated by commas, optionally double-quoted, `""` inside quotes for a
 * quote, line breaks allowed inside quotes. Returns each record with the 1-based line it starts
 * on; blank lines give no record. An unterminated quote is reported as an error of its line.
 */
export function readCsv(text: string): {
  records: Array<{ line: number; fields: string[] }>;
  error: string | null;
} {
  const records: Array<{ line: number; fields: string[] }> = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let isQuoted = false;
  let isFieldStarted = false;
  const endRecord = () => {
    if (isFieldStarted || fields.length > 0 || field !== '') {
      fields.push(field);
      records.push({ line: recordLine, fields });
    }
    fields = [];
    field = '';
    isFieldStarted = false;
  };
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i]!;
    if (isQuoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 1;
        } else {
          isQuoted = false;
        }
      } else {
        if (ch === '\n') line += 1;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') {
      isQuoted = true;
      isFieldStarted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      isFieldStarted = true;
    } else if (ch === '\n') {
      endRecord();
      line += 1;
      recordLine = line;
    } else if (ch !== '\r' || text[i + 1] !== '\n') {
      field += ch;
    }
  }
  if (isQuoted) return { records, error: `line ${recordLine}: a quoted field is not closed` };
  endRecord();
  return { records, error: null };
}
