'use strict';
// Test certificates made with the openssl CLI, for the TLS tests (both sides of keywarden):
//
//   ca             the CA every server and client trusts
//   server         CN=localhost, SAN DNS:localhost IP:127.0.0.1, serverAuth + clientAuth (a
//                  redis-server also presents its certificate when it connects out, e.g. to
//                  its master)
//   client         CN=auth-service, SAN DNS:auth-service URI:spiffe://keywarden.test/auth-service
//   client2        CN=billing-service, SAN DNS:billing-service URI:spiffe://keywarden.test/billing-service
//   expiredServer  as `server`, valid 2020-01-01..2020-01-02 only
//   expiredClient  as `client`, same dates
//   untrustedCa    a second CA nobody trusts
//   untrusted      signed by untrustedCa, usable either way (CN=auth-service, SAN as `server`
//                  plus DNS:auth-service), so a test can present it as a server or as a client
//
// Debian 12's OpenSSL 3.0 has no `x509 -not_before`, so every certificate is issued with
// `openssl ca`, whose -startdate/-enddate put the expired ones in the past. Each one is checked
// after it is made (chain verifies, expiry is what it should be): a broken certificate here
// would make a TLS test fail for the wrong reason.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const EXPIRED_START = '20200101000000Z';
const EXPIRED_END = '20200102000000Z';
const VALID_DAYS = 30;

// The config names the certificate's CN in its SANs through KW_CERT_NAME; OpenSSL refuses a
// config that refers to an unset variable, hence a value on every call.
function openssl(args, certName = 'unused') {
  const env = { ...process.env, KW_CERT_NAME: certName };
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30000, env });
  if (r.error) {
    throw new Error(`cannot run openssl (${r.error.message}); install it with tools/setup-deps.sh`);
  }
  if (r.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

// Extensions by certificate kind; `[ca_ext]` is the CA's own.
const EXTENSIONS = `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = DNS:\${ENV::KW_CERT_NAME}, URI:spiffe://keywarden.test/\${ENV::KW_CERT_NAME}
[ both_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, DNS:auth-service
`;

class CertAuthority {
  constructor(dir, name) {
    this.dir = path.join(dir, name);
    fs.mkdirSync(path.join(this.dir, 'issued'), { recursive: true });
    fs.writeFileSync(path.join(this.dir, 'index.txt'), '');
    fs.writeFileSync(path.join(this.dir, 'serial'), '1000\n');
    this.config = path.join(this.dir, 'openssl.cnf');
    fs.writeFileSync(this.config, `[ ca ]
default_ca = ca_default
[ ca_default ]
database = ${this.dir}/index.txt
new_certs_dir = ${this.dir}/issued
serial = ${this.dir}/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
${EXTENSIONS}`);
    this.key = path.join(dir, `${name}.key`);
    this.cert = path.join(dir, `${name}.crt`);
    openssl(['req', '-x509', '-config', this.config, '-extensions', 'ca_ext', '-newkey', 'ec',
      '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', this.key, '-out', this.cert,
      '-days', '3650', '-subj', `/CN=keywarden test ${name}`]);
  }

  // A key and a certificate <dir>/<file>.{key,crt} signed by this CA.
  issue(dir, file, { cn, ext, expired = false }) {
    const key = path.join(dir, `${file}.key`);
    const csr = path.join(dir, `${file}.csr`);
    const cert = path.join(dir, `${file}.crt`);
    openssl(['req', '-new', '-config', this.config, '-newkey', 'ec', '-pkeyopt',
      'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    const dates = expired ? ['-startdate', EXPIRED_START, '-enddate', EXPIRED_END] : ['-days', String(VALID_DAYS)];
    openssl(['ca', '-batch', '-notext', '-config', this.config, '-cert', this.cert, '-keyfile', this.key,
      '-extensions', ext, '-in', csr, '-out', cert, ...dates], cn);
    fs.rmSync(csr);
    this.check(cert, expired);
    return { cert, key, cn };
  }

  check(cert, expired) {
    const live = spawnSync('openssl', ['x509', '-in', cert, '-noout', '-checkend', '0'], { encoding: 'utf8' });
    if ((live.status === 0) === expired) {
      throw new Error(`${cert}: expected ${expired ? 'an expired' : 'a valid'} certificate, openssl x509 -checkend 0 says "${live.stdout.trim()}"`);
    }
    const v = spawnSync('openssl', ['verify', '-CAfile', this.cert, cert], { encoding: 'utf8' });
    const verified = v.status === 0;
    if (expired ? !/certificate has expired/.test(v.stdout + v.stderr) : !verified) {
      throw new Error(`${cert}: openssl verify against ${this.cert} gave:\n${v.stdout}${v.stderr}`);
    }
  }
}

// Makes every certificate listed at the top of this file in `dir` (created if missing) and returns
// their paths: { dir, ca: {cert, key}, server: {cert, key, cn}, client, client2, expiredServer,
// expiredClient, untrustedCa: {cert, key}, untrusted }.
function makeCerts(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const ca = new CertAuthority(dir, 'ca');
  const rogue = new CertAuthority(dir, 'untrusted-ca');
  return {
    dir,
    ca: { cert: ca.cert, key: ca.key },
    server: ca.issue(dir, 'server', { cn: 'localhost', ext: 'server_ext' }),
    client: ca.issue(dir, 'client', { cn: 'auth-service', ext: 'client_ext' }),
    client2: ca.issue(dir, 'client2', { cn: 'billing-service', ext: 'client_ext' }),
    expiredServer: ca.issue(dir, 'server-expired', { cn: 'localhost', ext: 'server_ext', expired: true }),
    expiredClient: ca.issue(dir, 'client-expired', { cn: 'auth-service', ext: 'client_ext', expired: true }),
    untrustedCa: { cert: rogue.cert, key: rogue.key },
    untrusted: rogue.issue(dir, 'untrusted', { cn: 'auth-service', ext: 'both_ext' }),
  };
}

module.exports = { makeCerts };
