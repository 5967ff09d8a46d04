import { randomUUID } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstalledPackage } from '@patchwarden/core/host';
import { PatchwardenError } from '@patchwarden/core/host';

/** What enrolment gave this agent: kept in `<state>/identity.json`, mode 0600 (the node key is a secret). */
export interface AgentIdentity {
  serverUrl: string;
  hostId: string;
  nodeKey: string;
  enrolledAt: string;
}

/** The inventory the server last acknowledged, the base of the next delta (`<state>/inventory.json`). */
export interface SentInventory {
  /** The `seq` the server stored with it. */
  seq: number;
  packages: InstalledPackage[];
  /** A cheap fingerprint of the package database when it was read (null: always re-read). */
  fingerprint: string | null;
}

export const IDENTITY_FILE = 'identity.json';
export const INVENTORY_FILE = 'inventory.json';
export const MACHINE_ID_FILE = 'machine-id';

/**
 * The agent's state directory (created 0700): identity, last inventory sent, the job journal and
 * the rollback archive. Files are replaced atomically (write, fsync, rename).
 */
export interface AgentState {
  readonly dir: string;
  readIdentity(): Promise<AgentIdentity | null>;
  writeIdentity(identity: AgentIdentity): Promise<void>;
  readSentInventory(): Promise<SentInventory | null>;
  writeSentInventory(inventory: SentInventory): Promise<void>;
  /** Forgets the sent inventory: the next check-in sends a full one. */
  clearSentInventory(): Promise<void>;
  /** A machine id made up once and kept here, for hosts (and lab roots) without /etc/machine-id. */
  machineId(): Promise<string>;
}

export async function openState(dir: string): Promise<AgentState> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return {
    dir,
    async readIdentity() {
      const value = await readJsonFile(join(dir, IDENTITY_FILE));
      if (value === null) return null;
      if (!isIdentity(value)) {
        throw new PatchwardenError(
          'AGENT_STATE_CORRUPT',
          `${join(dir, IDENTITY_FILE)} is not an agent identity`,
          500,
        );
      }
      return value;
    },
    writeIdentity: (identity) => writeFileAtomic(join(dir, IDENTITY_FILE), JSON.stringify(identity), 0o600),
    async readSentInventory() {
      const value = (await readJsonFile(join(dir, INVENTORY_FILE))) as SentInventory | null;
      if (value === null || typeof value.seq !== 'number' || !Array.isArray(value.packages)) return null;
      return value;
    },
    writeSentInventory: (inventory) =>
      writeFileAtomic(join(dir, INVENTORY_FILE), JSON.stringify(inventory), 0o600),
    clearSentInventory: () => writeFileAtomic(join(dir, INVENTORY_FILE), 'null', 0o600),
    async machineId() {
      const path = join(dir, MACHINE_ID_FILE);
      try {
        const text = (await readFile(path, 'utf8')).trim();
        if (text !== '') return text;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const id = randomUUID().replace(/-/g, '');
      await writeFileAtomic(path, `${id}\n`, 0o600);
      return id;
    },
  };
}

function isIdentity(value: unknown): value is AgentIdentity {
  const v = value as Partial<AgentIdentity>;
  return typeof v.serverUrl === 'string' && typeof v.hostId === 'string' && typeof v.nodeKey === 'string';
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new PatchwardenError('AGENT_STATE_CORRUPT', `${path} is not JSON`, 500, { cause: err });
  }
}

/** Writes `path` through a temporary file, fsynced and renamed over it, with `mode`. */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  // The mode given to open() is masked by the umask; the identity must be 0600 whatever it is.
  await chmod(tmp, mode);
  await rename(tmp, path);
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}
