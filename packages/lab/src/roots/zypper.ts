import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { rpmToolEnv, writeRpmMacros } from '../packages/rpm.js';
import { LAB_REPO_ID } from './dnf.js';

const execFileAsync = promisify(execFile);

/** A private zypper root, laid out as the agent's zypper driver expects (see its readme). */
export interface ZypperRoot {
  root: string;
  /** The private HOME whose `.rpmmacros` pins `%_dbpath` (`<root>/root`). */
  home: string;
  /** `<root>/etc/zypp/zypp.conf`, passed as `ZYPP_CONF`. */
  configFile: string;
  /** `<root>/etc/zypp/repos.d`. */
  reposDir: string;
}

/**
 * Makes `dir` (created) an empty rpm root for zypper: `root/.rpmmacros` (rpm database at
 * `var/lib/rpm`), `etc/zypp/zypp.conf`, and `etc/zypp/repos.d/patchwarden-lab.repo` pointing at the
 * rpm-md repository in `repoDir` (unsigned, refreshed on every use, downloaded packages kept in
 * `var/cache/zypp/packages`), and an initialised empty rpm database. The repo file is written as
 * `zypper addrepo --no-gpgcheck --refresh --keep-packages` writes it. Nothing is written outside `dir`.
 */
export async function createZypperRoot(dir: string, repoDir: string): Promise<ZypperRoot> {
  const home = join(dir, 'root');
  const configFile = join(dir, 'etc', 'zypp', 'zypp.conf');
  const reposDir = join(dir, 'etc', 'zypp', 'repos.d');
  await writeRpmMacros(home);
  await mkdir(reposDir, { recursive: true });
  await mkdir(join(dir, 'run'), { recursive: true });
  await mkdir(join(dir, 'var', 'log'), { recursive: true });
  await writeFile(configFile, ['[main]', 'solver.onlyRequires = true', ''].join('\n'));
  await writeFile(
    join(reposDir, `${LAB_REPO_ID}.repo`),
    [
      `[${LAB_REPO_ID}]`,
      'name=Patchwarden lab repository',
      'enabled=1',
      'autorefresh=1',
      `baseurl=file:${repoDir}`,
      'type=rpm-md',
      'gpgcheck=0',
      'keeppackages=1',
      '',
    ].join('\n'),
  );
  await execFileAsync('rpm', ['--root', dir, '--initdb'], { env: rpmToolEnv(home) });
  return { root: dir, home, configFile, reposDir };
}
