//! Media in object storage: Amazon S3 and S3-compatible servers (MinIO…), Alibaba Cloud OSS and
//! Tencent COS natively, through Apache OpenDAL (its signers, multipart uploads and ranged reads),
//! behind the same `MediaStore` trait as the local disk. Configured by `storage_config`:
//!
//! ```toml
//! service = "s3"                 # "s3", "oss" or "cos"
//! bucket = "kedian-media"
//! endpoint = "https://s3.cn-north-1.amazonaws.com.cn"
//! region = "cn-north-1"          # S3 only
//! access_key_id = "…"
//! secret_access_key = "…"
//! root = "/shop"                 # optional: a prefix inside the bucket
//! ```
//!
//! Viewers never get bucket URLs: every byte passes the shop's signature and entitlement checks
//! (`routes::learn::media_file`), so a URL handed to one viewer is short-lived, bound to them and
//! revoked the moment a refund is; the bucket stays private.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use opendal::{ErrorKind, Operator};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::storage::{ACCEL_BUCKET, ByteStream, MediaStore, ObjectMeta, STREAM_CHUNK_BYTES, valid_key};

/// Parts of a multipart upload: a lesson video goes up 8 MiB at a time, never whole in memory.
const UPLOAD_PART_BYTES: usize = 8 << 20;

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    pub service: String,
    pub bucket: String,
    pub endpoint: String,
    pub region: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub root: String,
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("service", &self.service)
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl StorageConfig {
    pub fn load(path: &Path) -> anyhow::Result<StorageConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

pub struct ObjectStore {
    op: Operator,
}

impl ObjectStore {
    /// A store for the objects under `prefix` (`media`, `uploads`, `backups`) of the bucket.
    pub fn open(cfg: &StorageConfig, prefix: &str) -> anyhow::Result<ObjectStore> {
        // OpenDAL's HTTP transport (reqwest with rustls), installed once per process.
        opendal::install_default();
        let root = format!("{}/{prefix}", cfg.root.trim_end_matches('/'));
        let op = match cfg.service.as_str() {
            "s3" => {
                let builder = opendal::services::S3::default()
                    .bucket(&cfg.bucket)
                    .endpoint(&cfg.endpoint)
                    .region(cfg.region.as_deref().unwrap_or("us-east-1"))
                    .access_key_id(&cfg.access_key_id)
                    .secret_access_key(&cfg.secret_access_key)
                    .root(&root)
                    .disable_config_load()
                    .disable_ec2_metadata();
                Operator::new(builder)?
            }
            "oss" => {
                let builder = opendal::services::Oss::default()
                    .bucket(&cfg.bucket)
                    .endpoint(&cfg.endpoint)
                    .access_key_id(&cfg.access_key_id)
                    .access_key_secret(&cfg.secret_access_key)
                    .root(&root);
                Operator::new(builder)?
            }
            "cos" => {
                let builder = opendal::services::Cos::default()
                    .bucket(&cfg.bucket)
                    .endpoint(&cfg.endpoint)
                    .secret_id(&cfg.access_key_id)
                    .secret_key(&cfg.secret_access_key)
                    .root(&root);
                Operator::new(builder)?
            }
            other => bail!("storage service must be s3, oss or cos, not {other:?}"),
        };
        // A storage that does not answer fails the request in seconds, not minutes; reads and
        // writes are retried a few times (OpenDAL retries only what is safe to).
        let op = op
            .layer(opendal::layers::TimeoutLayer::new().with_timeout(Duration::from_secs(20)))
            .layer(opendal::layers::RetryLayer::new().with_max_times(2));
        Ok(ObjectStore { op })
    }
}

/// Stored with each object, so the bucket answers a presigned GET (nginx's, behind the kit) with
/// the right type; the presigned URL also asks for it, for objects stored before.
fn content_type(key: &str) -> &'static str {
    crate::domain::media::content_type(key)
}

fn checked(key: &str) -> anyhow::Result<&str> {
    if !valid_key(key) {
        bail!("invalid media key {key:?}");
    }
    Ok(key)
}

impl ObjectStore {
    /// A multipart upload read from the file a part at a time; a failure aborts it, so no partial
    /// object is ever visible. The local file stays.
    pub async fn copy_file(&self, key: &str, file: &Path) -> anyhow::Result<()> {
        let mut writer =
            self.op.writer_with(checked(key)?).chunk(UPLOAD_PART_BYTES).content_type(content_type(key)).await?;
        let mut source = tokio::fs::File::open(file).await?;
        let copied = async {
            loop {
                let mut part = Vec::with_capacity(UPLOAD_PART_BYTES);
                let n = (&mut source).take(UPLOAD_PART_BYTES as u64).read_to_end(&mut part).await?;
                if n == 0 {
                    break;
                }
                writer.write(part).await?;
            }
            writer.close().await?;
            anyhow::Ok(())
        };
        if let Err(e) = copied.await {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(key, error = %abort, "aborting a failed upload failed");
            }
            return Err(e);
        }
        Ok(())
    }

    /// The names directly under this store's root (backups), or under `dir/`.
    pub async fn list(&self) -> anyhow::Result<Vec<String>> {
        let entries = self.op.list("/").await?;
        Ok(entries.into_iter().map(|e| e.name().to_string()).filter(|n| !n.ends_with('/')).collect())
    }
}

/// How long nginx may use a URL the shop presigned for it: it asks at once, and every range a
/// player asks for goes through the shop's checks again.
const ACCEL_URL_SECS: u64 = 300;

impl MediaStore for ObjectStore {
    /// A presigned GET, its path and query under the kit's bucket location (whose `proxy_pass`
    /// names the endpoint this URL was signed for). The bucket answers with `content_type`.
    fn accel_target<'a>(&'a self, key: &'a str, content_type: &'a str) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move {
            let signed = self
                .op
                .presign_read_with(checked(key)?, Duration::from_secs(ACCEL_URL_SECS))
                .override_content_type(content_type)
                .await?;
            let uri = signed.uri();
            let path = uri.path().trim_start_matches('/');
            Ok(match uri.query() {
                Some(query) => format!("{ACCEL_BUCKET}{path}?{query}"),
                None => format!("{ACCEL_BUCKET}{path}"),
            })
        })
    }

    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<ObjectMeta>>> {
        Box::pin(async move {
            match self.op.stat(checked(key)?).await {
                Ok(meta) => Ok(Some(ObjectMeta {
                    len: meta.content_length(),
                    modified: meta.last_modified().map(std::time::SystemTime::from),
                })),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn read_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        Box::pin(async move { Ok(self.op.read_with(checked(key)?).range(start..end + 1).await?.to_vec()) })
    }

    fn stream_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFuture<'a, anyhow::Result<ByteStream>> {
        Box::pin(async move {
            let reader = self.op.reader_with(checked(key)?).chunk(STREAM_CHUNK_BYTES).await?;
            let stream = reader.into_bytes_stream(start..end + 1).await?;
            let stream: ByteStream = Box::pin(stream.map(|chunk| chunk.map_err(std::io::Error::other)));
            Ok(stream)
        })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.op.write_with(checked(key)?, bytes.to_vec()).content_type(content_type(key)).await?;
            Ok(())
        })
    }

    /// Moves a file into the bucket: `copy_file`, then the local file goes.
    fn put_file<'a>(&'a self, key: &'a str, file: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.copy_file(key, file).await?;
            tokio::fs::remove_file(file).await.ok();
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            self.op.delete(checked(key)?).await?;
            Ok(())
        })
    }
}
