import { describeLabE2e } from './e2e-lab.js';

describeLabE2e({
  manager: 'zypper',
  hasFindings: true,
  broken: {
    title: 'the failing %pre leaves 1.0-1 installed',
    // rpm's failing %pre aborts that package's installation.
    state: { version: '1.0-1', isFullyInstalled: true },
    openFindings: ['pw-broken 1.0-1 PWLAB-2026-0006'],
  },
  crash: {
    // zypper survives losing its output pipe and completes the install on its own.
    state: { version: '2.0-1', isFullyInstalled: true },
    why: 'zypper completes the install without the agent',
  },
  isChange: (argv) => /(^|\/)zypper$/.test(argv[0] ?? '') && argv.includes('install'),
});
