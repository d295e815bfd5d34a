//! A client of the OCI distribution API (`/v2/…`), as every registry serves it: manifests and blobs
//! pulled (each checked against its digest) and pushed (monolithic uploads, blobs the registry has
//! skipped), over HTTPS or plain HTTP, with Basic or Bearer-token authentication answered from the
//! registry's `WWW-Authenticate` challenge.

use crate::error::ImageError;
use crate::image::{Descriptor, ImageManifest, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::layout::ImageStore;
use crate::reference::Reference;
use base64::Engine as _;
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use std::path::PathBuf;
use std::time::Duration;

/// Largest manifest read.
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Largest blob read: a bundle far past this is not a policy image.
const MAX_BLOB_BYTES: u64 = 512 * 1024 * 1024;

/// A user name and password (or token) for a registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Speak plain HTTP instead of HTTPS.
    pub plain_http: bool,
    /// A PEM CA certificate to trust besides the usual roots.
    pub ca_cert: Option<PathBuf>,
    /// Credentials, when the registry asks for them.
    pub credentials: Option<Credentials>,
    /// Bound on each request; 60 s when none.
    pub timeout: Option<Duration>,
}

/// Told as blobs move: the blob's digest, bytes moved so far, its size.
pub type Progress<'p> = &'p mut (dyn FnMut(&str, u64, u64) + Send);

/// One registry.
pub struct Registry {
    host: String,
    base: String,
    http: reqwest::Client,
    credentials: Option<Credentials>,
    /// The `Authorization` value the last challenge earned, reused until refused.
    authorization: tokio::sync::Mutex<Option<HeaderValue>>,
}

/// A request to send, rebuilt for a retry after a challenge.
struct Call<'a> {
    method: Method,
    url: String,
    accept: Option<&'a str>,
    body: Option<(&'a [u8], &'a str)>,
    /// `repository:NAME:pull` or `…:pull,push`, for a token service.
    scope: String,
    /// Says what is asked, for errors.
    operation: String,
}

impl Registry {
    /// A client of the registry at `host` (`localhost:5000`, `ghcr.io`).
    pub fn new(host: &str, options: &RegistryOptions) -> Result<Registry, ImageError> {
        let unreachable = |message: String| ImageError::Unreachable {
            registry: host.to_string(),
            message,
        };
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout.unwrap_or(Duration::from_secs(60)))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("lictor/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &options.ca_cert {
            let pem = std::fs::read(path).map_err(ImageError::io(path))?;
            let certificate = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                unreachable(format!("{}: not a PEM certificate: {e}", path.display()))
            })?;
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder.build().map_err(|e| unreachable(e.to_string()))?;
        let scheme = if options.plain_http { "http" } else { "https" };
        Ok(Registry {
            host: host.to_string(),
            base: format!("{scheme}://{host}"),
            http,
            credentials: options.credentials.clone(),
            authorization: tokio::sync::Mutex::new(None),
        })
    }

    /// Checks that the registry answers and takes the credentials (`GET /v2/`).
    pub async fn login(&self) -> Result<(), ImageError> {
        self.send(Call {
            method: Method::GET,
            url: format!("{}/v2/", self.base),
            accept: None,
            body: None,
            scope: String::new(),
            operation: "GET /v2/".to_string(),
        })
        .await
        .map(drop)
    }

    /// The digest a reference names now, without downloading the image (`HEAD` of its manifest).
    pub async fn digest(&self, reference: &Reference) -> Result<String, ImageError> {
        let response = self
            .send(self.manifest_call(Method::HEAD, reference))
            .await?;
        match header(&response, "docker-content-digest") {
            Some(digest) if crate::is_digest(&digest) => Ok(digest),
            // Registries need not send the header on HEAD: read the manifest instead.
            _ => Ok(self.manifest(reference).await?.0),
        }
    }

    /// The manifest a reference names: its digest and bytes, checked against a pinned digest and
    /// against the digest the registry says it has.
    pub async fn manifest(&self, reference: &Reference) -> Result<(String, Vec<u8>), ImageError> {
        let response = self
            .send(self.manifest_call(Method::GET, reference))
            .await?;
        let said = header(&response, "docker-content-digest");
        let media_type = header(&response, "content-type").unwrap_or_default();
        let bytes = read_limited(response, MAX_MANIFEST_BYTES as u64, &self.host).await?;
        let digest = crate::digest(&bytes);
        let name = reference.to_string();
        for expected in [reference.digest.as_deref(), said.as_deref()]
            .into_iter()
            .flatten()
        {
            crate::verify(&bytes, expected, &format!("manifest of {name}"))?;
        }
        if media_type.starts_with(INDEX_MEDIA_TYPE)
            || media_type.starts_with("application/vnd.docker.distribution.manifest.list")
        {
            return Err(ImageError::Format {
                reference: name,
                message: "an image index, not a policy image".to_string(),
            });
        }
        Ok((digest, bytes))
    }

    /// Pulls an image into the store (blobs it already has are not downloaded); answers the
    /// manifest's descriptor. The image is not named in the store: the caller tags it.
    pub async fn pull(
        &self,
        reference: &Reference,
        store: &ImageStore,
        progress: Progress<'_>,
    ) -> Result<Descriptor, ImageError> {
        let (digest, bytes) = self.manifest(reference).await?;
        let manifest = ImageManifest::parse(&bytes, &reference.to_string())?;
        manifest.bundle_layer(&reference.to_string())?;
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            if store.has_blob(&blob.digest) {
                progress(&blob.digest, blob.size, blob.size);
                continue;
            }
            let content = self.blob(reference, blob).await?;
            store.put_blob(&content)?;
            progress(&blob.digest, blob.size, blob.size);
        }
        store.put_blob(&bytes)?;
        Ok(Descriptor {
            media_type: manifest
                .media_type
                .unwrap_or_else(|| MANIFEST_MEDIA_TYPE.to_string()),
            digest,
            size: bytes.len() as u64,
            annotations: None,
        })
    }

    async fn blob(&self, reference: &Reference, blob: &Descriptor) -> Result<Vec<u8>, ImageError> {
        if blob.size > MAX_BLOB_BYTES {
            return Err(ImageError::Format {
                reference: reference.to_string(),
                message: format!(
                    "blob {} is {} bytes, more than {MAX_BLOB_BYTES}",
                    blob.digest, blob.size
                ),
            });
        }
        let response = self
            .send(Call {
                method: Method::GET,
                url: format!(
                    "{}/v2/{}/blobs/{}",
                    self.base, reference.repository, blob.digest
                ),
                accept: None,
                body: None,
                scope: format!("repository:{}:pull", reference.repository),
                operation: format!("GET blob {}", blob.digest),
            })
            .await?;
        let bytes = read_limited(response, blob.size, &self.host).await?;
        crate::verify(
            &bytes,
            &blob.digest,
            &format!("blob {} of {reference}", blob.digest),
        )?;
        Ok(bytes)
    }

    /// Pushes a stored image under the reference's tag (blobs the registry has are not sent);
    /// answers the manifest digest.
    pub async fn push(
        &self,
        reference: &Reference,
        store: &ImageStore,
        image: &Descriptor,
        progress: Progress<'_>,
    ) -> Result<String, ImageError> {
        let manifest = store.manifest(image)?;
        let repository = &reference.repository;
        let scope = format!("repository:{repository}:pull,push");
        for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
            let exists = self
                .send(Call {
                    method: Method::HEAD,
                    url: format!("{}/v2/{repository}/blobs/{}", self.base, blob.digest),
                    accept: None,
                    body: None,
                    scope: scope.clone(),
                    operation: format!("HEAD blob {}", blob.digest),
                })
                .await;
            match exists {
                Ok(_) => {
                    progress(&blob.digest, blob.size, blob.size);
                    continue;
                }
                Err(ImageError::Registry { status: 404, .. }) => {}
                Err(error) => return Err(error),
            }
            let content = store.blob(&blob.digest)?;
            progress(&blob.digest, 0, blob.size);
            let started = self
                .send(Call {
                    method: Method::POST,
                    url: format!("{}/v2/{repository}/blobs/uploads/", self.base),
                    accept: None,
                    body: Some((&[], "application/octet-stream")),
                    scope: scope.clone(),
                    operation: "POST blob upload".to_string(),
                })
                .await?;
            let location =
                header(&started, LOCATION.as_str()).ok_or_else(|| ImageError::Registry {
                    registry: self.host.clone(),
                    operation: "POST blob upload".to_string(),
                    status: started.status().as_u16(),
                    message: "no Location for the upload".to_string(),
                })?;
            let location = if location.starts_with('/') {
                format!("{}{location}", self.base)
            } else {
                location
            };
            let separator = if location.contains('?') { '&' } else { '?' };
            self.send(Call {
                method: Method::PUT,
                url: format!("{location}{separator}digest={}", blob.digest),
                accept: None,
                body: Some((&content, "application/octet-stream")),
                scope: scope.clone(),
                operation: format!("PUT blob {}", blob.digest),
            })
            .await?;
            progress(&blob.digest, blob.size, blob.size);
        }
        let bytes = store.blob(&image.digest)?;
        let tag = reference.tag.as_deref().unwrap_or("latest");
        let media_type = manifest
            .media_type
            .clone()
            .unwrap_or_else(|| MANIFEST_MEDIA_TYPE.to_string());
        self.send(Call {
            method: Method::PUT,
            url: format!("{}/v2/{repository}/manifests/{tag}", self.base),
            accept: None,
            body: Some((&bytes, &media_type)),
            scope,
            operation: format!("PUT manifest {repository}:{tag}"),
        })
        .await?;
        Ok(image.digest.clone())
    }

    fn manifest_call(&self, method: Method, reference: &Reference) -> Call<'static> {
        Call {
            operation: format!("{method} manifest {reference}"),
            method,
            url: format!(
                "{}/v2/{}/manifests/{}",
                self.base,
                reference.repository,
                reference.manifest_key()
            ),
            accept: Some(ACCEPTED_MANIFESTS),
            body: None,
            scope: format!("repository:{}:pull", reference.repository),
        }
    }

    /// Sends a call; on a 401 answers the registry's challenge once and sends it again.
    async fn send(&self, call: Call<'_>) -> Result<reqwest::Response, ImageError> {
        let cached = self.authorization.lock().await.clone();
        let response = self.attempt(&call, cached.as_ref()).await?;
        let response = if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = header(&response, WWW_AUTHENTICATE.as_str()).unwrap_or_default();
            let authorization = self.answer(&challenge, &call.scope).await?;
            *self.authorization.lock().await = Some(authorization.clone());
            let again = self.attempt(&call, Some(&authorization)).await?;
            if again.status() == StatusCode::UNAUTHORIZED {
                let message = error_message(again).await;
                return Err(ImageError::Unauthorized {
                    registry: self.host.clone(),
                    message: format!("credentials refused: {message}"),
                });
            }
            again
        } else {
            response
        };
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = error_message(response).await;
        if status == StatusCode::FORBIDDEN {
            return Err(ImageError::Unauthorized {
                registry: self.host.clone(),
                message: format!("{} forbidden: {message}", call.operation),
            });
        }
        Err(ImageError::Registry {
            registry: self.host.clone(),
            operation: call.operation,
            status: status.as_u16(),
            message,
        })
    }

    async fn attempt(
        &self,
        call: &Call<'_>,
        authorization: Option<&HeaderValue>,
    ) -> Result<reqwest::Response, ImageError> {
        let mut request = self.http.request(call.method.clone(), &call.url);
        if let Some(accept) = call.accept {
            request = request.header(ACCEPT, accept);
        }
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        if let Some((body, media_type)) = call.body {
            request = request.header(CONTENT_TYPE, media_type).body(body.to_vec());
        }
        request.send().await.map_err(|e| self.unreachable(&e))
    }

    fn unreachable(&self, error: &reqwest::Error) -> ImageError {
        // The chain says why (refused, certificate, timeout); the top alone often does not.
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ImageError::Unreachable {
            registry: self.host.clone(),
            message,
        }
    }

    /// The `Authorization` value a challenge asks for: Basic with the credentials, or a Bearer
    /// token fetched from the challenge's realm (with the credentials, when there are any).
    async fn answer(&self, challenge: &str, scope: &str) -> Result<HeaderValue, ImageError> {
        let unauthorized = |message: String| ImageError::Unauthorized {
            registry: self.host.clone(),
            message,
        };
        let (scheme, parameters) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let basic = self.credentials.as_ref().map(|c| {
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", c.username, c.password))
        });
        let value = if scheme.eq_ignore_ascii_case("basic") {
            let basic = basic.ok_or_else(|| {
                unauthorized(
                    "the registry asks for credentials and none are given (lictor policy login)"
                        .to_string(),
                )
            })?;
            format!("Basic {basic}")
        } else if scheme.eq_ignore_ascii_case("bearer") {
            let parameters = challenge_parameters(parameters);
            let realm = parameters
                .iter()
                .find(|(k, _)| k == "realm")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    unauthorized(format!("a Bearer challenge without a realm: {challenge}"))
                })?;
            let mut query: Vec<(String, String)> = parameters
                .into_iter()
                .filter(|(k, _)| k == "service" || k == "scope")
                .collect();
            if !scope.is_empty() && !query.iter().any(|(k, _)| k == "scope") {
                query.push(("scope".to_string(), scope.to_string()));
            }
            let mut request = self.http.get(&realm).query(&query);
            if let Some(basic) = &basic {
                request = request.header(AUTHORIZATION, format!("Basic {basic}"));
            }
            let response = request.send().await.map_err(|e| self.unreachable(&e))?;
            if !response.status().is_success() {
                let status = response.status();
                let message = error_message(response).await;
                return Err(unauthorized(format!(
                    "the token service {realm} answered {status}: {message}"
                )));
            }
            let token: serde_json::Value = response.json().await.map_err(|e| {
                unauthorized(format!("the token service {realm} answered no JSON: {e}"))
            })?;
            let token = token
                .get("token")
                .or_else(|| token.get("access_token"))
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| {
                    unauthorized(format!("the token service {realm} answered no token"))
                })?;
            format!("Bearer {token}")
        } else {
            return Err(unauthorized(format!(
                "an unknown authentication challenge: {challenge:?}"
            )));
        };
        HeaderValue::from_str(&value)
            .map_err(|_| unauthorized("credentials that cannot be sent in a header".to_string()))
    }
}

/// Manifest media types a pull accepts.
const ACCEPTED_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json";

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The body, refusing one longer than `limit`.
async fn read_limited(
    mut response: reqwest::Response,
    limit: u64,
    registry: &str,
) -> Result<Vec<u8>, ImageError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ImageError::Unreachable {
            registry: registry.to_string(),
            message: e.to_string(),
        })?
    {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limit {
            return Err(ImageError::Format {
                reference: registry.to_string(),
                message: format!("an answer longer than the {limit} bytes expected"),
            });
        }
    }
    Ok(bytes)
}

/// The registry's error list (`{"errors": [{"code", "message"}]}`) on one line, or its body.
async fn error_message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(value) => match value.get("errors").and_then(serde_json::Value::as_array) {
            Some(errors) => errors
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e.get("code")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or(""),
                        e.get("message")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("")
                    )
                    .trim()
                    .to_string()
                })
                .collect::<Vec<_>>()
                .join("; "),
            None => text,
        },
        Err(_) => text.trim().chars().take(500).collect(),
    }
}

/// `realm="https://auth",service="registry",scope="repository:x:pull"` as pairs.
fn challenge_parameters(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((value, remaining)) => (value.to_string(), remaining),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.split_once(',') {
                Some((value, remaining)) => (value.trim().to_string(), remaining),
                None => (after.trim().to_string(), ""),
            }
        };
        pairs.push((key, value));
        rest = remaining.trim_start_matches([',', ' ']);
    }
    pairs
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_read_with_quoted_commas() {
        let pairs = challenge_parameters(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            pairs,
            [
                (
                    "realm".to_string(),
                    "https://auth.example/token".to_string()
                ),
                ("service".to_string(), "registry.example".to_string()),
                ("scope".to_string(), "repository:a/b:pull,push".to_string()),
            ]
        );
    }
}
