//! Certificates: generated on first start (a local CA and a server certificate for localhost), or
//! loaded from configured files; and the rustls server configuration built from them.

use crate::ServerError;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// File names inside the certificate directory.
pub const CA_CERT: &str = "ca.crt";
/// The server certificate, signed by [`CA_CERT`].
pub const SERVER_CERT: &str = "server.crt";
/// The server certificate's private key.
pub const SERVER_KEY: &str = "server.key";

/// The paths of a generated certificate set.
#[derive(Debug, Clone)]
pub struct CertPaths {
    /// The CA clients may trust.
    pub ca: PathBuf,
    /// The server certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
}

impl CertPaths {
    /// The set inside `dir`.
    pub fn in_dir(dir: &Path) -> CertPaths {
        CertPaths {
            ca: dir.join(CA_CERT),
            cert: dir.join(SERVER_CERT),
            key: dir.join(SERVER_KEY),
        }
    }
}

fn tls_error(what: &str) -> impl Fn(rcgen::Error) -> ServerError + '_ {
    move |error| ServerError::Tls(format!("{what}: {error}"))
}

/// Writes a new CA and a server certificate for `localhost`, `127.0.0.1` and `::1` into `dir`,
/// replacing any there when `force`; otherwise keeps an existing set. Returns the paths.
pub fn generate(dir: &Path, force: bool) -> Result<CertPaths, ServerError> {
    let paths = CertPaths::in_dir(dir);
    if !force && paths.ca.exists() && paths.cert.exists() && paths.key.exists() {
        return Ok(paths);
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ServerError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;

    let ca_key = KeyPair::generate().map_err(tls_error("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error("CA"))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Lictor local CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls_error("CA"))?;

    let key = KeyPair::generate().map_err(tls_error("server key"))?;
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    let mut params = CertificateParams::new(names).map_err(tls_error("server certificate"))?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params
        .signed_by(&key, &ca)
        .map_err(tls_error("server certificate"))?;

    write_private(&paths.key, key.serialize_pem().as_bytes())?;
    std::fs::write(&paths.cert, cert.pem()).map_err(io(&paths.cert))?;
    std::fs::write(&paths.ca, ca.pem()).map_err(io(&paths.ca))?;
    Ok(paths)
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let io = |source| ServerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(path).map_err(io)?;
    file.write_all(bytes).map_err(io)
}

/// A rustls server configuration offering HTTP/2 and HTTP/1.1 with the given certificate and key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServerError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| ServerError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(ServerError::Tls(format!(
            "{}: no certificate in the file",
            cert.display()
        )));
    }
    let private = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| {
            ServerError::Tls(format!("{}: no private key in the file", key.display()))
        })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", cert.display())))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
