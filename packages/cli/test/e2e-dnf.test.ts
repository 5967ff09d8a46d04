import { describeLabE2e } from './e2e-lab.js';

describeLabE2e({
  manager: 'dnf',
  hasFindings: true,
  broken: {
    title: 'the failing %pre leaves 1.0-1 installed',
    // rpm's failing %pre aborts that package's installation.
    state: { version: '1.0-1', isFullyInstalled: true },
    openFindings: ['pw-broken 1.0-1 PWLAB-2026-0006'],
  },
  crash: {
    // The manager writes its output to files, not to the agent's pipes, in its own process group:
    // it outlives the killed agent and completes the install, and the recovery reports that.
    state: { version: '2.0-1', isFullyInstalled: true },
    why: 'dnf completes the install without the agent',
  },
  isChange: (argv) => argv.some((a) => /(^|\/)dnf$/.test(a)) && argv.includes('install'),
});
