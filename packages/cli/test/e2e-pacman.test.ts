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
  // The lab provisions pacman roots with `pacman -U <pool file>`, which leaves nothing in the
  // root's package cache, and its repository serves only the newest version: the agent cannot
  // keep 1.0-1 for the rollback archive when the install job replaces it.
  rollbackError:
    'the rollback archive has no pw-openssl 1.0-1, and the repository serves only the newest: "error: target not found: pw-openssl=1.0-1" -> failed, unknown (not-found)',
});
