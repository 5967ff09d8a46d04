import { describeLabE2e } from './e2e-lab.js';

describeLabE2e({
  manager: 'pacman',
  // OSV has no Arch Linux ecosystem: the lab feed scopes nothing to Arch, so no findings.
  hasFindings: false,
  broken: {
    title: 'pacman keeps 1.1-1 installed (post_install runs after the files are in place)',
    // pacman 6 exits 0 with the package installed; the driver reads the scriptlet error.
    state: { version: '1.1-1', isFullyInstalled: true },
    openFindings: [],
    inventoryError: null,
    laterJobError: null,
  },
  crash: {
    // pacman, frozen before its transaction, dies writing to the dead agent's stdout pipe
    // (SIGPIPE) when it resumes: nothing changed, and the recovery says so. It leaves its lock.
    state: { version: '1.0-1', isFullyInstalled: true },
    why: 'pacman dies of SIGPIPE once the agent that reads its output is gone, before its transaction',
    retryError:
      'the killed pacman left <root>/var/lib/pacman/db.lck: "error: failed to init transaction (unable to lock database)" -> failed, lock-held, until someone removes the lock',
  },
  isChange: (argv) => /(^|\/)pacman$/.test(argv[0] ?? '') && (argv.includes('-S') || argv.includes('-U')),
  // The lab keeps the provisioned package files in the root's pacman cache, as a real host keeps
  // what it installed, so the agent archives 1.0-1 before the install job replaces it.
  rollbackError: null,
});
