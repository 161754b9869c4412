import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
/** PostgreSQL and Patroni refuse root; every process of the topology runs as this system user. */
export const TOPOLOGY_USER = 'ta-topology';

/** A Debian package, and the files that show it is installed. */
export interface DebianPackage {
  name: string;
  files: string[];
}

export const HAPROXY: DebianPackage = { name: 'haproxy', files: ['/usr/sbin/haproxy'] };

/** Debian's packages (bookworm: patroni 3.0, etcd 3.4, haproxy 2.6); python3-etcd is Patroni's etcd client. */
export const PATRONI_STACK: DebianPackage[] = [
  { name: 'patroni', files: ['/usr/bin/patroni', '/usr/bin/patronictl', `${PG_BIN}/postgres`] },
  { name: 'python3-etcd', files: ['/usr/lib/python3/dist-packages/etcd/__init__.py'] },
  { name: 'etcd-server', files: ['/usr/bin/etcd'] },
  HAPROXY,
];

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const missing = (packages: readonly DebianPackage[]) =>
  packages.filter((pkg) => !pkg.files.every((path) => existsSync(path)));

/** Installs the packages that are missing (needs root, as CI runs) and returns the unprivileged user. */
export function ensureTopologyTools(packages: readonly DebianPackage[]): SystemUser {
  if (process.getuid?.() !== 0) throw new Error('the topology suite installs packages and users: run it as root');
  const absent = missing(packages);
  if (absent.length > 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // Another suite on the machine may be installing too: wait for dpkg's lock instead of failing.
    const lock = ['-o', 'DPkg::Lock::Timeout=120'];
    execFileSync('apt-get', [...lock, 'update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
    execFileSync(
      'apt-get',
      [...lock, 'install', '-y', '-qq', '--no-install-recommends', ...absent.map((pkg) => pkg.name)],
      { stdio: 'inherit', env, timeout: 600_000 },
    );
    const still = missing(absent);
    if (still.length > 0)
      throw new Error(
        `installed ${absent.map((pkg) => pkg.name).join(', ')}, but ${still.flatMap((pkg) => pkg.files).join(', ')} missing`,
      );
  }
  const exists = () => {
    try {
      execFileSync('id', ['-u', TOPOLOGY_USER], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (!exists()) execFileSync('useradd', ['--system', '--create-home', '--shell', '/bin/false', TOPOLOGY_USER]);
  const id = (flag: string) => Number(execFileSync('id', [flag, TOPOLOGY_USER], { encoding: 'utf8' }).trim());
  const home = execFileSync('getent', ['passwd', TOPOLOGY_USER], { encoding: 'utf8' }).split(':')[5];
  return { name: TOPOLOGY_USER, uid: id('-u'), gid: id('-g'), home };
}
