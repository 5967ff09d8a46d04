import { describeLabE2e } from './e2e-lab.js';

describeLabE2e({
  manager: 'dnf',
  hasFindings: true,
  broken: {
    title: 'the failing %pre leaves 1.0-1 installed',
    // rpm's failing %pre aborts that package's installation.
    state: { version: '1.0-1', isFullyInstalled: true },
    openFindings: ['pw-broken 1.0-1 PWLAB-2026-0006'],
    inventoryError: null,
    laterJobError: null,
  },
  crash: {
    // dnf, frozen before its transaction, fails writing to the dead agent's stdout pipe when it
    // resumes (EPIPE): nothing changed, and the recovery says so.
    state: { version: '1.0-1', isFullyInstalled: true },
    why: 'dnf exits on EPIPE once the agent that reads its output is gone, before its transaction',
    retryError: null,
  },
  isChange: (argv) => argv.some((a) => /(^|\/)dnf$/.test(a)) && argv.includes('install'),
  rollbackError: null,
});
