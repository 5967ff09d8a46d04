import { parseCommandArgs } from '../args.js';
import { EXIT, UsageError } from '../errors.js';
import { INVENTORY_OPTIONS, type InventoryFlags, readInventory } from '../inventory-source.js';
import { type Io, write } from '../io.js';

const USAGE = `usage: patchwarden inventory (--local | --dpkg-status F | --rpm-qa F | --pacman-db DIR | --apk-db F | --inventory JSON)
                             [--os-release F] [--format json|table]
Prints the normalised inventory: the OS identity and every installed package.`;

export async function inventoryCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    args,
    { ...INVENTORY_OPTIONS, format: { type: 'string' } },
    USAGE,
  );
  if (values.help) {
    await write(io.stdout, `${USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}\n${USAGE}`);
  const format = (values.format as string | undefined) ?? 'json';
  if (format !== 'json' && format !== 'table')
    throw new UsageError(`--format must be json or table, not ${JSON.stringify(format)}`);

  const inventory = await readInventory(values as InventoryFlags);

  if (format === 'json') {
    await write(io.stdout, `${JSON.stringify(inventory, null, 2)}\n`);
    return EXIT.ok;
  }
  const os = inventory.os
    ? `${inventory.os.prettyName} (${inventory.os.distro} ${inventory.os.version ?? 'rolling'})`
    : 'unknown OS';
  const rows = inventory.packages.map(
    (p) =>
      `${p.name.padEnd(40)} ${p.version.padEnd(36)} ${(p.architecture ?? '-').padEnd(8)} ${p.source?.name ?? '-'}`,
  );
  await write(io.stdout, `${os}: ${inventory.packages.length} packages\n${rows.join('\n')}\n`);
  return EXIT.ok;
}
