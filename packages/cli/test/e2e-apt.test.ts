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
    // apt-get, frozen before it started dpkg, dies writing to the dead agent's stdout pipe
    // (SIGPIPE) when it resumes: nothing changed, and the recovery says so.
    state: { version: '1.0-1', isFullyInstalled: true },
    why: 'apt-get dies of SIGPIPE once the agent that reads its output is gone',
    retryError: null,
  },
  isChange: (argv) =>
    /(^|\/)apt-get$/.test(argv[0] ?? '') && argv.includes('install') && !argv.includes('-s'),
  rollbackError: null,
});
