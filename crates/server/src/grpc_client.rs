//! Connections to another Lictor's API port (a center that records are shipped to or a directory is
//! followed from): plain HTTP/2 for `http://`, TLS for `https://` trusting the public roots and, when
//! given, the center's own CA certificate (the `certs/ca.crt` it generated).

use std::path::Path;
use std::time::Duration;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

/// A channel to `url`; `ca_cert` is a PEM CA certificate to trust besides the public roots.
pub async fn channel(url: &str, ca_cert: Option<&Path>) -> Result<Channel, String> {
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("center address {url:?}: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    if url.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_webpki_roots();
        if let Some(path) = ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| format!("CA certificate {}: {e}", path.display()))?;
            tls = tls.ca_certificate(Certificate::from_pem(pem));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("TLS to {url}: {e}"))?;
    } else if ca_cert.is_some() {
        return Err(format!(
            "a CA certificate is given for {url}, which is not https://"
        ));
    }
    endpoint
        .connect()
        .await
        .map_err(|e| format!("connecting to {url}: {}", crate::error::with_causes(&e)))
}
