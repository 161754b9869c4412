import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Debian's packages (bookworm: patroni 3.0, etcd 3.4, haproxy 2.6); python3-etcd is Patroni's etcd client. */
const PACKAGES = ['patroni', 'python3-etcd', 'etcd-server', 'haproxy'];
const BINARIES = ['/usr/bin/patroni', '/usr/bin/patronictl', '/usr/bin/etcd', '/usr/sbin/haproxy'];
export const PG_BIN = '/usr/lib/postgresql/15/bin';
/** PostgreSQL and Patroni refuse root; every process of the topology runs as this system user. */
export const TOPOLOGY_USER = 'ta-topology';

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function installed(): boolean {
  const python = '/usr/lib/python3/dist-packages';
  return (
    BINARIES.every((path) => existsSync(path)) &&
    existsSync(`${PG_BIN}/postgres`) &&
    existsSync(`${python}/etcd/__init__.py`)
  );
}

/** Installs the packages when one is missing (needs root, as CI runs) and returns the unprivileged user. */
export function ensureTopologyTools(): SystemUser {
  if (process.getuid?.() !== 0) throw new Error('the topology suite installs packages and users: run it as root');
  if (!installed()) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env, timeout: 300_000 });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...PACKAGES], {
      stdio: 'inherit',
      env,
      timeout: 600_000,
    });
    if (!installed())
      throw new Error(`${PACKAGES.join(', ')} installed, but ${BINARIES.join(', ')} or ${PG_BIN} missing`);
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
