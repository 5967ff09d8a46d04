import { PatchwardenError } from '@patchwarden/core';
import { inventoryCommand } from './commands/inventory.js';
import { scanCommand } from './commands/scan.js';
import { vercmpCommand } from './commands/vercmp.js';
import { EXIT, UsageError } from './errors.js';
import type { Io } from './io.js';

type Command = (args: string[], io: Io) => Promise<number>;

const commands: Record<string, { run: Command; summary: string }> = {
  vercmp: { run: vercmpCommand, summary: 'compare two versions as the package manager does' },
  inventory: { run: inventoryCommand, summary: 'print the normalised inventory of a host' },
  scan: { run: scanCommand, summary: 'find the advisories that apply to one host, offline' },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`);
  return `usage: patchwarden <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`patchwarden <command> --help\` for a command's options.\n`;
}

/** Runs the CLI and returns the exit code; one line on stderr for any error. */
export async function main(argv: string[], io: Io = process): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? EXIT.badInput : EXIT.ok;
  }
  const command = commands[name];
  if (!command) {
    io.stderr.write(`patchwarden: unknown command ${JSON.stringify(name)}\n${usage()}`);
    return EXIT.badInput;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`patchwarden ${name}: ${err.message}\n`);
      return EXIT.badInput;
    }
    if (err instanceof PatchwardenError) {
      io.stderr.write(`patchwarden ${name}: ${err.code}: ${err.message}\n`);
      return err.status < 500 ? EXIT.badInput : EXIT.unavailable;
    }
    io.stderr.write(
      `patchwarden ${name}: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return EXIT.internal;
  }
}
