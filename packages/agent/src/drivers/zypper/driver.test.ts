import { describe, expect, it } from 'vitest';
// The lab's fixture builders (a test-only use; the agent itself does not depend on the lab).
import { missingTools } from '../../../../lab/src/packages/rpm.js';
import { createZypperRoot } from '../../../../lab/src/roots/zypper.js';
import { describeRpmDriver, skipReasonFor } from '../testing.js';
import { capabilityOf, createZypperDriver, parseInstallSummary, parseListUpdates } from './index.js';

describeRpmDriver({
  manager: 'zypper',
  create: createZypperDriver,
  createRoot: createZypperRoot,
  skipReason: skipReasonFor('zypper', await missingTools(['zypper', 'rpm', 'rpmbuild', 'createrepo_c'])),
  installArg: 'pw-hello=1.0-1',
  cacheDir: 'var/cache/zypp',
  lockFile: 'run/zypp.pid',
  // ZYPPER_EXIT.commit and ZYPPER_EXIT.locked.
  exitCodes: { scriptFailed: 8, locked: 7 },
  // zypper's own flag for packages that provide installhint(reboot-needed).
  rebootFlag: 'run/reboot-needed',
});

// Output captured from zypper 1.14.42 --xmlout on Debian 12 (private root); names shortened.
describe('drivers/zypper output parsers', () => {
  it('reads list-updates and the dry-run install summary', () => {
    const updates = [
      "<?xml version='1.0'?>",
      '<stream>',
      '<update-status version="0.6">',
      '<update-list>',
      '<update kind="package" name="pms-hello" edition="2.0-1" arch="noarch" edition-old="1.0-1"><summary>t &amp; u</summary><source url="file:/tmp/r" alias="pms-local"/></update>',
      '<update kind="patch" name="SUSE-2026-1" edition="1" arch="noarch"><summary>p</summary></update>',
      '</update-list>',
      '</update-status>',
      '</stream>',
    ].join('\n');
    const summary = [
      '<install-summary download-size="12435" space-usage-diff="12" packages-to-change="3">',
      '<to-upgrade>',
      '<solvable type="package" name="pms-hello" edition="2.0-1" arch="noarch" edition-old="1.0-1" arch-old="noarch" summary="t">',
      '<description>t</description></solvable>',
      '</to-upgrade>',
      '<to-install>',
      '<solvable type="package" name="pms-lib" edition="1:1.0-1" arch="noarch" summary="a &quot;lib&quot;"/>',
      '</to-install>',
      '<to-remove>',
      '<solvable type="package" name="pms-old" edition="0.5-1" arch="noarch"/>',
      '</to-remove>',
      '</install-summary>',
      '<message type="info">&apos;pms-x&apos; is already installed.</message>',
    ].join('\n');

    expect(parseListUpdates(updates)).toEqual([
      { name: 'pms-hello', architecture: 'noarch', installedVersion: '1.0-1', candidateVersion: '2.0-1' },
    ]);
    expect(parseInstallSummary(summary)).toEqual([
      { name: 'pms-hello', architecture: 'noarch', from: '1.0-1', to: '2.0-1' },
      { name: 'pms-lib', architecture: 'noarch', from: null, to: '1:1.0-1' },
      { name: 'pms-old', architecture: 'noarch', from: '0.5-1', to: null },
    ]);
    expect(capabilityOf({ name: 'pw-hello', version: '1.0-1', architecture: 'x86_64' })).toBe(
      'pw-hello.x86_64=1.0-1',
    );
  });
});
