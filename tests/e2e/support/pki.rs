//! A throwaway certificate authority for one test: CA, server, wrong-name, expired and client
//! certificates, generated at test time with rcgen (ring backend) and written as PEM files.
//!
//! It reproduces what an on-prem registry operator sets up: a private CA that nodes must be told
//! about (Docker's `certs.d`, containerd's `hosts.toml`,
//! <https://distribution.github.io/distribution/about/deploying/>), a server certificate whose
//! SANs name the address the node dials, and the usual mistakes — a certificate for another name
//! and one past its `notAfter`. Nothing is stored in the repository, so nothing can expire there.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PublicKeyData, SignatureAlgorithm, date_time_ymd,
};
use tempfile::TempDir;

/// The names every valid server certificate carries: what the tests dial.
pub const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];
/// The only name on the wrong-name certificate (`.test` is reserved: never resolvable).
pub const WRONG_NAME: &str = "registry.wrong.test";

/// A certificate and its private key, as PEM text and as files in the Pki's directory.
#[derive(Clone, Debug)]
pub struct CertPair {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A CA plus the leaf certificates the registry modes need, all under `dir`.
pub struct Pki {
    /// Holds every PEM file; removed on drop.
    pub dir: TempDir,
    /// The CA certificate (PEM), what a node would put in its `ca.crt`.
    pub ca_pem: String,
    /// `dir/ca.crt`.
    pub ca_file: PathBuf,
    /// SANs `127.0.0.1` and `localhost`, valid 1975–4096, serverAuth.
    pub server: CertPair,
    /// SAN `registry.wrong.test` only, otherwise like `server`.
    pub wrong_name: CertPair,
    /// SANs like `server`, but valid only during 2020 (expired).
    pub expired: CertPair,
    /// clientAuth certificate (CN `pulldoctor-test-client`) for mutual TLS.
    pub client: CertPair,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    /// Generates a fresh CA and all leaf certificates in a new temporary directory.
    pub fn generate() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("pulldoctor-pki-")
            .tempdir()
            .expect("create pki temp dir");
        let mut ca_params = CertificateParams::default();
        ca_params.distinguished_name = rcgen::DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "pulldoctor test CA");
        ca_params
            .distinguished_name
            .push(DnType::OrganizationName, "pulldoctor tests");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("generate CA key");
        let issuer = CertifiedIssuer::self_signed(ca_params, ca_key).expect("self-sign CA");
        let ca_pem = issuer.pem();
        let ca_file = dir.path().join("ca.crt");
        fs::write(&ca_file, &ca_pem).expect("write ca.crt");

        let d = dir.path();
        let (current, expired) = (Validity::Current, Validity::Expired);
        Pki {
            server: issue(d, &issuer, "server", &SERVER_NAMES, current, Usage::Server),
            wrong_name: issue(
                d,
                &issuer,
                "wrong-name",
                &[WRONG_NAME],
                current,
                Usage::Server,
            ),
            expired: issue(d, &issuer, "expired", &SERVER_NAMES, expired, Usage::Server),
            client: issue(d, &issuer, "client", &[], current, Usage::Client),
            ca_pem,
            ca_file,
            issuer,
            dir,
        }
    }

    /// Issues one more leaf certificate signed by this CA, written as `dir/<stem>.crt|.key`.
    pub fn issue(&self, stem: &str, names: &[&str], validity: Validity, usage: Usage) -> CertPair {
        issue(self.dir.path(), &self.issuer, stem, names, validity, usage)
    }

    /// Issues a server certificate whose SANs are all DNS names, even those that read as IP
    /// addresses (`DNS:127.0.0.1`, a common mistake in hand-made certificates).
    pub fn issue_dns_only(&self, stem: &str, names: &[&str]) -> CertPair {
        let dns = names
            .iter()
            .map(|n| rcgen::SanType::DnsName(n.to_string().try_into().expect("DNS SAN")))
            .collect();
        issue_sans(
            self.dir.path(),
            &self.issuer,
            stem,
            names,
            Some(dns),
            Validity::Current,
            Usage::Server,
        )
    }

    /// Certifies an RSA public key held elsewhere (the token server's), given as PKCS#1
    /// `RSAPublicKey` DER; returns the certificate's DER.
    ///
    /// The registry's token auth checks the JWT's `x5c` chain against its `rootcertbundle`, so
    /// the signer's certificate must chain to a root the registry is given: this CA.
    pub fn certify_rsa_public_key(&self, common_name: &str, pkcs1_der: &[u8]) -> Vec<u8> {
        let spki = RsaPublicKey(pkcs1_der.to_vec());
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&spki, &self.issuer).expect("sign key");
        cert.der().to_vec()
    }

    /// The CA as a rustls root store, for test clients.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.issuer.der().clone())
            .expect("CA is a valid trust anchor");
        roots
    }
}

/// Whether a leaf certificate is currently valid or long expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// 1975-01-01 to 4096-01-01.
    Current,
    /// 2020-01-01 to 2021-01-01.
    Expired,
}

/// The extended key usage a leaf certificate is issued for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
}

/// Signs a leaf certificate for `names` with `issuer` and writes it under `dir`.
fn issue(
    dir: &Path,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    stem: &str,
    names: &[&str],
    validity: Validity,
    usage: Usage,
) -> CertPair {
    issue_sans(dir, issuer, stem, names, None, validity, usage)
}

/// [`issue`], with `sans` (when given) in place of the SANs rcgen infers from `names`.
fn issue_sans(
    dir: &Path,
    issuer: &CertifiedIssuer<'static, KeyPair>,
    stem: &str,
    names: &[&str],
    sans: Option<Vec<rcgen::SanType>>,
    validity: Validity,
    usage: Usage,
) -> CertPair {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let mut params = CertificateParams::new(names).expect("valid SANs");
    if let Some(sans) = sans {
        params.subject_alt_names = sans;
    }
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cn = match usage {
        Usage::Server => format!("pulldoctor test {stem}"),
        Usage::Client => "pulldoctor-test-client".to_string(),
    };
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![match usage {
        Usage::Server => ExtendedKeyUsagePurpose::ServerAuth,
        Usage::Client => ExtendedKeyUsagePurpose::ClientAuth,
    }];
    params.use_authority_key_identifier_extension = true;
    if let Validity::Expired = validity {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().expect("generate leaf key");
    let cert = params.signed_by(&key, issuer).expect("sign leaf");
    write_pair(dir, stem, cert.pem(), key.serialize_pem())
}

fn write_pair(dir: &Path, stem: &str, cert_pem: String, key_pem: String) -> CertPair {
    let cert_file = dir.join(format!("{stem}.crt"));
    let key_file = dir.join(format!("{stem}.key"));
    fs::write(&cert_file, &cert_pem).expect("write certificate");
    fs::write(&key_file, &key_pem).expect("write key");
    CertPair {
        cert_pem,
        key_pem,
        cert_file,
        key_file,
    }
}

/// An RSA public key as rcgen needs it to be certified: PKCS#1 bytes plus the algorithm.
struct RsaPublicKey(Vec<u8>);

impl PublicKeyData for RsaPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}
