import { describe, expect, it } from 'vitest';
// The lab's fixture builders (a test-only use; the agent itself does not depend on the lab).
import { missingTools } from '../../../../lab/src/packages/rpm.js';
import { createDnfRoot } from '../../../../lab/src/roots/dnf.js';
import { describeRpmDriver, skipReasonFor } from '../testing.js';
import { createDnfDriver, nevraOf, parseCheckUpdate, plannedChanges } from './index.js';

describeRpmDriver({
  manager: 'dnf',
  create: createDnfDriver,
  createRoot: createDnfRoot,
  skipReason: skipReasonFor(
    'dnf',
    await missingTools(['dnf', 'rpm', 'rpmbuild', 'createrepo_c']),
    'dnf refuses to run as non-root',
  ),
  installArg: 'pw-hello-1.0-1',
  cacheDir: 'var/cache/dnf',
  // exit_on_lock=True: exit 200 while the pid in rpmdb_lock.pid lives.
  lockFile: 'var/lib/dnf/rpmdb_lock.pid',
  exitCodes: { scriptFailed: 1, locked: 200 },
});

// Output captured from dnf 4.14.0 on Debian 12 (private root, non-tty); the wrapped row is how dnf
// prints a name longer than its column on a terminal.
describe('drivers/dnf output parsers', () => {
  it('reads check-update rows, joining wrapped ones and stopping at the obsoletes', () => {
    const text = [
      '',
      'pw-hello.noarch                         2.0-1                         patchwarden-lab',
      'a-really-long-package-name-for-wrapping.x86_64',
      '                                        1:3.0.7-27.el9                baseos',
      '',
      'Obsoleting Packages',
      'pw-new.noarch                           1.0-1                         patchwarden-lab',
      '',
    ].join('\n');

    expect(parseCheckUpdate(text)).toEqual([
      { name: 'pw-hello', architecture: 'noarch', version: '2.0-1' },
      { name: 'a-really-long-package-name-for-wrapping', architecture: 'x86_64', version: '1:3.0.7-27.el9' },
    ]);
  });

  it('reads the transaction table as changes against the installed packages', () => {
    const text = [
      'Dependencies resolved.',
      '================================================================================',
      ' Package             Architecture     Version         Repository           Size',
      '================================================================================',
      'Upgrading:',
      ' pms-hello           noarch           2.0-1           pms-local           6.1 k',
      'Installing dependencies:',
      ' pms-lib             noarch           1.0-1           pms-local           6.1 k',
      'Removing:',
      ' pms-old             noarch           0.5-1           @System              14  ',
      '',
      'Transaction Summary',
      '================================================================================',
      'Install  1 Package',
      'Upgrade  1 Package',
    ].join('\n');
    const installed = [
      {
        name: 'pms-hello',
        version: '1.0-1',
        architecture: 'noarch',
        source: null,
        ecosystem: 'rpm' as const,
      },
      { name: 'pms-old', version: '0.5-1', architecture: 'noarch', source: null, ecosystem: 'rpm' as const },
    ];

    expect(plannedChanges(text, installed)).toEqual([
      { name: 'pms-hello', architecture: 'noarch', from: '1.0-1', to: '2.0-1' },
      { name: 'pms-lib', architecture: 'noarch', from: null, to: '1.0-1' },
      { name: 'pms-old', architecture: 'noarch', from: '0.5-1', to: null },
    ]);
    expect(nevraOf({ name: 'pw-hello', version: '1:2.0-1', architecture: 'noarch' })).toBe(
      'pw-hello-1:2.0-1.noarch',
    );
  });
});
