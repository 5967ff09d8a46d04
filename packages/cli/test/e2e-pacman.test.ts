import { describeLabE2e } from './e2e-lab.js';

describeLabE2e({
  manager: 'pacman',
  // OSV has no Arch Linux ecosystem: the lab feed scopes nothing to Arch, so no findings.
  hasFindings: false,
  broken: {
    title: 'the agent puts 1.0-1 back from its rollback archive',
    // pacman 6 exits 0 with 1.1-1 installed although post_install failed; the driver reads the
    // scriptlet error and the agent reinstalls the archived 1.0-1.
    state: { version: '1.0-1', isFullyInstalled: true },
    openFindings: [],
  },
  crash: {
    // The manager writes its output to files, not to the agent's pipes, in its own process group:
    // it outlives the killed agent and completes the install, and the recovery reports that.
    state: { version: '2.0-1', isFullyInstalled: true },
    why: 'pacman completes the install without the agent',
  },
  isChange: (argv) => /(^|\/)pacman$/.test(argv[0] ?? '') && (argv.includes('-S') || argv.includes('-U')),
  // The lab keeps the provisioned package files in the root's pacman cache, as a real host keeps
  // what it installed, so the agent archives 1.0-1 before the install job replaces it.
});
