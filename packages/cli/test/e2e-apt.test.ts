import { describeLabE2e } from './e2e-lab.js';

describeLabE2e({
  manager: 'apt',
  hasFindings: true,
  broken: {
    title: 'dpkg keeps 1.1-1 unpacked, half-configured',
    // dpkg unpacks 1.1-1, then its postinst fails: 1.1-1 stays, status 'iF' (half-configured).
    state: { version: '1.1-1', isFullyInstalled: false },
    openFindings: ['pw-broken 1.0-1 PWLAB-2026-0006'],
    inventoryError:
      "the server's inventory has no pw-broken at all (the agent leaves out packages dpkg does not call installed), and PWLAB-2026-0006 on pw-broken 1.0-1 is marked fixed, although dpkg shows 1.1-1 half-configured (iF)",
    laterJobError:
      'every later apt-get run configures the half-configured pw-broken again: "dpkg: error processing package pw-broken (--configure)", "E: Sub-process /usr/bin/dpkg returned an error code (1)" -> failed, maintainer-script',
  },
  crash: {
    // The manager writes its output to files, not to the agent's pipes, in its own process group:
    // it outlives the killed agent and completes the install, and the recovery reports that.
    state: { version: '2.0-1', isFullyInstalled: true },
    why: 'apt-get completes the install without the agent',
    retryError: null,
  },
  isChange: (argv) =>
    /(^|\/)apt-get$/.test(argv[0] ?? '') && argv.includes('install') && !argv.includes('-s'),
  rollbackError: null,
});
