import { type Compilable, CompiledQuery, type Kysely, PostgresAdapter } from 'kysely';
import type { Database } from './schema.js';

// The statements of a check-in are the same few shapes thousands of times a second; building and
// compiling them with Kysely's builder each time costs about as much as SQLite running them. A
// statement built with `reusable` is built and compiled once per database flavour and shape, with a
// placeholder value in each slot, and afterwards only its parameters change.

/** A slot of a reusable statement: stands where the builder would take the `index`th value. */
export type Slot = (index: number) => never;

interface Template {
  sql: string;
  /** Per compiled parameter: the slot whose value goes there, or a constant the builder put there. */
  parameters: ReadonlyArray<{ slot: number } | { value: unknown }>;
}

/** Most shapes kept; past it the cache starts over (shapes are few unless lists of every length come). */
const MAX_TEMPLATES = 2000;
const templates = new Map<string, Template>();
const SLOT_MARK = '\u0000pw-slot:';

// PostgreSQL parses and plans an unnamed statement every time it runs; a named (prepared) one once per
// connection. The reusable statements of a check-in are prepared under a name (`createPostgresDialect`
// asks `preparedStatementName`): a few dozen short texts, so each connection holds few plans.
const MAX_NAMED_STATEMENTS = 200;
const MAX_NAMED_SQL_LENGTH = 2000;
const statementNames = new Map<string, string>();
let namedCount = 0;

function nameStatement(text: string): void {
  if (statementNames.has(text) || statementNames.size >= MAX_NAMED_STATEMENTS) return;
  // Never reused for another text: a connection refuses a known name with a different statement.
  namedCount += 1;
  statementNames.set(text, `pw_reusable_${namedCount}`);
}

/** The name a reusable statement's SQL text is prepared under on PostgreSQL, if it has one. */
export function preparedStatementName(text: string): string | undefined {
  return statementNames.get(text);
}

function slotValue(index: number): never {
  return `${SLOT_MARK}${index}` as never;
}

/** Which database `db` runs on, from its dialect (a transaction has no store to ask). */
export function flavourOf(db: Kysely<Database>): 'postgres' | 'sqlite' {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
}

/**
 * Runs the statement `build` makes, with `values` in its slots. `shape` names everything that changes
 * the SQL text (which columns are set, how many values a list holds): statements with the same shape
 * must differ only in their slots' values. `build` gets the slot function and must pass every value
 * through it (a value written directly is compiled in as a constant, the same on every run).
 */
export async function reusable<R>(
  db: Kysely<Database>,
  shape: string,
  build: (slot: Slot) => Compilable<R>,
  values: readonly unknown[],
): Promise<R[]> {
  const key = `${flavourOf(db)}\u0000${shape}`;
  let template = templates.get(key);
  if (template === undefined) {
    const compiled = build(slotValue).compile();
    template = {
      sql: compiled.sql,
      parameters: compiled.parameters.map((value) =>
        typeof value === 'string' && value.startsWith(SLOT_MARK)
          ? { slot: Number(value.slice(SLOT_MARK.length)) }
          : { value },
      ),
    };
    if (templates.size >= MAX_TEMPLATES) templates.clear();
    templates.set(key, template);
    if (key.startsWith('postgres') && template.sql.length <= MAX_NAMED_SQL_LENGTH)
      nameStatement(template.sql);
  }
  const parameters = template.parameters.map((p) => ('slot' in p ? values[p.slot] : p.value));
  const result = await db.executeQuery<R>(CompiledQuery.raw(template.sql, parameters));
  return result.rows;
}

/**
 * Inserts `rows` (all with the same columns, as the first row has them) into `table` as one reusable
 * statement per row count.
 */
export async function insertRows(
  db: Kysely<Database>,
  table: keyof Database & string,
  rows: readonly object[],
): Promise<void> {
  const first = rows[0];
  if (first === undefined) return;
  const columns = Object.keys(first);
  await reusable(
    db,
    `insert:${table}:${columns.join(',')}:${rows.length}`,
    (slot) =>
      db
        .insertInto(table)
        .values(
          rows.map((_, r) =>
            Object.fromEntries(columns.map((column, c) => [column, slot(r * columns.length + c)])),
          ) as never,
        ),
    rows.flatMap((row) => columns.map((column) => (row as Record<string, unknown>)[column])),
  );
}
