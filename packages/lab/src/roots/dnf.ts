import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { rpmToolEnv, writeRpmMacros } from '../packages/rpm.js';

const execFileAsync = promisify(execFile);

/** A private dnf root, laid out as the agent's dnf driver expects (see its readme). */
export interface DnfRoot {
  root: string;
  /** The private HOME whose `.rpmmacros` pins `%_dbpath` (`<root>/root`). */
  home: string;
  /** `<root>/etc/dnf/dnf.conf`. */
  configFile: string;
  /** `<root>/etc/yum.repos.d`. */
  reposDir: string;
}

/** The repository id the lab roots use. */
export const LAB_REPO_ID = 'patchwarden-lab';

/**
 * Makes `dir` (created) an empty rpm root for dnf: `root/.rpmmacros` (rpm database at
 * `var/lib/rpm`), `etc/dnf/dnf.conf`, `etc/yum.repos.d/patchwarden-lab.repo` pointing at the
 * rpm-md repository in `repoDir` (unsigned, metadata always re-read), and an initialised empty rpm
 * database. Nothing is written outside `dir`.
 */
export async function createDnfRoot(dir: string, repoDir: string): Promise<DnfRoot> {
  const home = join(dir, 'root');
  const configFile = join(dir, 'etc', 'dnf', 'dnf.conf');
  const reposDir = join(dir, 'etc', 'yum.repos.d');
  await writeRpmMacros(home);
  await mkdir(join(dir, 'etc', 'dnf'), { recursive: true });
  await mkdir(reposDir, { recursive: true });
  await mkdir(join(dir, 'run'), { recursive: true });
  // Paths in [main] are relative to the installroot; reposdir is also passed by the driver.
  await writeFile(
    configFile,
    [
      '[main]',
      'gpgcheck=0',
      'installonly_limit=3',
      'clean_requirements_on_remove=True',
      'best=False',
      'skip_if_unavailable=False',
      'keepcache=True',
      'install_weak_deps=False',
      'cachedir=/var/cache/dnf',
      'logdir=/var/log',
      'persistdir=/var/lib/dnf',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(reposDir, `${LAB_REPO_ID}.repo`),
    [
      `[${LAB_REPO_ID}]`,
      'name=Patchwarden lab repository',
      `baseurl=file://${repoDir}`,
      'enabled=1',
      'gpgcheck=0',
      'metadata_expire=0',
      '',
    ].join('\n'),
  );
  await execFileAsync('rpm', ['--root', dir, '--initdb'], { env: rpmToolEnv(home) });
  return { root: dir, home, configFile, reposDir };
}
