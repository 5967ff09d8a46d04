import { describeLabE2e } from './e2e-lab.js';

describeLabE2e({
  manager: 'apt',
  hasFindings: true,
  broken: {
    title: 'the agent puts 1.0-1 back from its rollback archive',
    // dpkg unpacks 1.1-1, then its postinst fails and leaves it half-configured (iF), which every
    // later apt run would try to configure again; the agent reinstalls the archived 1.0-1.
    state: { version: '1.0-1', isFullyInstalled: true },
    openFindings: ['pw-broken 1.0-1 PWLAB-2026-0006'],
  },
  crash: {
    // The manager writes its output to files, not to the agent's pipes, in its own process group:
    // it outlives the killed agent and completes the install, and the recovery reports that.
    state: { version: '2.0-1', isFullyInstalled: true },
    why: 'apt-get completes the install without the agent',
  },
  isChange: (argv) =>
    /(^|\/)apt-get$/.test(argv[0] ?? '') && argv.includes('install') && !argv.includes('-s'),
});
