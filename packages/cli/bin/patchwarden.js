#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';

// The agent idles between short bursts of work: V8's optimising compiler would cost it more resident
// memory (its code and compiler zones) than it saves time, so it runs without (docs/agent.md,
// "Footprint"). Set before anything is loaded, so that nothing is optimised.
if (process.argv[2] === 'agent') setFlagsFromString('--no-opt');

const { main } = await import('../dist/main.js');
process.exitCode = await main(process.argv.slice(2));
