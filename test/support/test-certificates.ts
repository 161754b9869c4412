import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  /** A CA made for this run, and a leaf it signed for webhook.test, localhost, 127.0.0.1 and ::1. */
  caCert: string;
  leafCert: string;
  leafKey: string;
  /** A leaf for the same names signed by itself. */
  selfSignedCert: string;
  selfSignedKey: string;
}

export const CERTIFICATE_NAMES = 'DNS:webhook.test,DNS:localhost,IP:127.0.0.1,IP:::1';

const EC_KEY = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';

/** Made with openssl (Node can verify certificates but not issue them), in a directory removed at once. */
export function createTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'threat-assessment-webhook-tls-'));
  // Arguments without spaces, files relative to `dir`.
  const openssl = (args: string) => execFileSync('openssl', args.split(' '), { cwd: dir, stdio: 'ignore' });
  try {
    openssl(
      `req -x509 ${EC_KEY} -days 1 -subj /CN=webhook-test-ca -keyout ca.key -out ca.pem ` +
        '-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign',
    );
    openssl(`req ${EC_KEY} -subj /CN=webhook.test -keyout leaf.key -out leaf.csr`);
    writeFileSync(
      join(dir, 'leaf.ext'),
      `subjectAltName=${CERTIFICATE_NAMES}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
    );
    openssl('x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -set_serial 2 -days 1 -extfile leaf.ext -out leaf.pem');
    openssl(
      `req -x509 ${EC_KEY} -days 1 -subj /CN=webhook.test -keyout self.key -out self.pem ` +
        `-addext subjectAltName=${CERTIFICATE_NAMES}`,
    );
    const read = (name: string) => readFileSync(join(dir, name), 'utf8');
    return {
      caCert: read('ca.pem'),
      leafCert: read('leaf.pem'),
      leafKey: read('leaf.key'),
      selfSignedCert: read('self.pem'),
      selfSignedKey: read('self.key'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
