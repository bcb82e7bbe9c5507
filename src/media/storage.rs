//! Media storage behind a trait. `LocalStore` keeps files in a directory under the data dir
//! (never mounted as static files); `object_store::ObjectStore` keeps them in a bucket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use actix_web::web::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes of an object, read a bounded chunk at a time as the client takes them.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// How much of a file one read takes: memory per download is about this, whatever the file size.
pub const STREAM_CHUNK_BYTES: usize = 256 * 1024;

/// What a store knows of an object without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectMeta {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

pub trait MediaStore: Send + Sync + 'static {
    /// The object's size and time, or None when there is none.
    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<ObjectMeta>>>;
    /// The size of the object, or None when there is none.
    fn len<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<u64>>> {
        Box::pin(async move { Ok(self.stat(key).await?.map(|m| m.len)) })
    }
    /// Bytes `start..=end` of the object, whole in memory: only for small objects (playlists).
    fn read_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFuture<'a, anyhow::Result<Vec<u8>>>;
    /// Bytes `start..=end` of the object as a stream of bounded chunks.
    fn stream_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFuture<'a, anyhow::Result<ByteStream>>;
    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Moves a finished local file into the store under `key`.
    fn put_file<'a>(&'a self, key: &'a str, file: &'a Path) -> BoxFuture<'a, anyhow::Result<()>>;
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>>;
    /// The object as a file on this machine, when it is one (for ffmpeg).
    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }
    /// Where the kit's nginx fetches the object when the shop hands a GET over to it
    /// (X-Accel-Redirect): an internal location of `deploy/nginx.conf` and the object under it.
    /// Sent as `content_type` whatever the store says.
    fn accel_target<'a>(&'a self, key: &'a str, content_type: &'a str) -> BoxFuture<'a, anyhow::Result<String>>;
}

/// The kit's internal location for the media directory (an `alias` of it).
pub const ACCEL_LOCAL: &str = "/_kedian_media/";
/// The kit's internal location for the bucket (a `proxy_pass` to its endpoint).
pub const ACCEL_BUCKET: &str = "/_kedian_bucket/";

/// Copies an object to a local file, a chunk at a time (never whole in memory).
pub async fn download(store: &dyn MediaStore, key: &str, to: &Path) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let len = store.len(key).await?.ok_or_else(|| anyhow::anyhow!("{key} is not in storage"))?;
    let mut file = tokio::fs::File::create(to).await?;
    let mut stream = store.stream_range(key, 0, len.saturating_sub(1)).await?;
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk?).await?;
    }
    file.flush().await?;
    Ok(())
}

/// The store for `media` or `uploads`: the bucket in `storage_config`, else the data directory.
pub fn open_store(settings: &crate::config::Settings, prefix: &str) -> anyhow::Result<Arc<dyn MediaStore>> {
    match &settings.storage_config {
        Some(path) => {
            let cfg = super::object_store::StorageConfig::load(path)?;
            Ok(Arc::new(super::object_store::ObjectStore::open(&cfg, prefix)?))
        }
        None => Ok(Arc::new(LocalStore::new(settings.data_dir.join(prefix)))),
    }
}

/// Reads `start..=end` of an open file a chunk at a time, each read on the blocking pool straight
/// into the buffer that is sent (positioned reads: no seek, no second copy).
fn read_chunks(file: Arc<std::fs::File>, start: u64, end: u64, reads: Arc<tokio::sync::Semaphore>) -> ByteStream {
    let stream = futures_util::stream::unfold(start, move |at| {
        let (file, reads) = (file.clone(), reads.clone());
        async move {
            if at > end {
                return None;
            }
            let permit = reads.acquire_owned().await;
            let len = usize::try_from((end - at + 1).min(STREAM_CHUNK_BYTES as u64)).unwrap_or(STREAM_CHUNK_BYTES);
            let read = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::FileExt;
                let mut buf = vec![0u8; len];
                file.read_exact_at(&mut buf, at).map(|()| Bytes::from(buf))
            })
            .await;
            drop(permit);
            let chunk = match read {
                Ok(Ok(bytes)) => Ok(bytes),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(std::io::Error::other(e)),
            };
            // An error ends the stream after it is passed on.
            let next = if chunk.is_ok() { at + len as u64 } else { end + 1 };
            Some((chunk, next))
        }
    });
    Box::pin(stream)
}

/// A key is a relative path of plain segments: letters, digits, `_`, `-` and `.`, no `..`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 255
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
        })
}

pub struct LocalStore {
    root: PathBuf,
    /// Reads in flight at once, whatever the number of viewers: each takes a thread of the
    /// blocking pool, and a thread is memory (its stack and its allocator arena).
    reads: Arc<tokio::sync::Semaphore>,
}

/// Reads of lesson files in flight at once. Reads come from the page cache in microseconds, so a
/// few threads keep up with many viewers.
const READS_AT_ONCE: usize = 8;

impl LocalStore {
    pub fn new(root: PathBuf) -> LocalStore {
        LocalStore { root, reads: Arc::new(tokio::sync::Semaphore::new(READS_AT_ONCE)) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, key: &str) -> anyhow::Result<PathBuf> {
        if !valid_key(key) {
            anyhow::bail!("invalid media key {key:?}");
        }
        Ok(self.root.join(key))
    }
}

impl MediaStore for LocalStore {
    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path(key).ok()
    }

    /// nginx picks the type by the file's extension there (`types` in the kit's location).
    fn accel_target<'a>(&'a self, key: &'a str, _content_type: &'a str) -> BoxFuture<'a, anyhow::Result<String>> {
        Box::pin(async move {
            self.path(key)?;
            Ok(format!("{ACCEL_LOCAL}{key}"))
        })
    }

    fn stat<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<ObjectMeta>>> {
        Box::pin(async move {
            match tokio::fs::metadata(self.path(key)?).await {
                Ok(meta) if meta.is_file() => Ok(Some(ObjectMeta { len: meta.len(), modified: meta.modified().ok() })),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn stream_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFuture<'a, anyhow::Result<ByteStream>> {
        Box::pin(async move {
            let path = self.path(key)?;
            let file = tokio::task::spawn_blocking(move || std::fs::File::open(path)).await??;
            Ok(read_chunks(Arc::new(file), start, end, self.reads.clone()))
        })
    }

    fn read_range<'a>(&'a self, key: &'a str, start: u64, end: u64) -> BoxFuture<'a, anyhow::Result<Vec<u8>>> {
        Box::pin(async move {
            let mut file = tokio::fs::File::open(self.path(key)?).await?;
            file.seek(std::io::SeekFrom::Start(start)).await?;
            let len = end.saturating_sub(start).saturating_add(1);
            let mut buf = Vec::with_capacity(usize::try_from(len.min(8 << 20)).unwrap_or(0));
            file.take(len).read_to_end(&mut buf).await?;
            Ok(buf)
        })
    }

    fn put<'a>(&'a self, key: &'a str, bytes: &'a [u8]) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            let tmp = path.with_extension("part");
            tokio::fs::write(&tmp, bytes).await?;
            tokio::fs::rename(&tmp, &path).await?;
            Ok(())
        })
    }

    fn put_file<'a>(&'a self, key: &'a str, file: &'a Path) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            let path = self.path(key)?;
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            if tokio::fs::rename(file, &path).await.is_err() {
                // Another filesystem: copy, then let the caller's temp file go.
                let tmp = path.with_extension("part");
                tokio::fs::copy(file, &tmp).await?;
                tokio::fs::rename(&tmp, &path).await?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            match tokio::fs::remove_file(self.path(key)?).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
                _ => Ok(()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_root() {
        for ok in ["demo/video.mp4", "lessons/12/hls/seg000.ts", "a.b-c_d"] {
            assert!(valid_key(ok), "{ok}");
        }
        for bad in
            ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a\\b", "a/b/", "%2e%2e/x", "a b", "..", "ä"]
        {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn nginx_is_handed_keys_inside_the_media_location_only() {
        let store = LocalStore::new(PathBuf::from("/nonexistent"));
        let target = store.accel_target("lessons/12/hls/seg000.ts", "video/mp2t").await.unwrap();
        assert_eq!(target, "/_kedian_media/lessons/12/hls/seg000.ts");
        assert!(store.accel_target("../secret", "video/mp4").await.is_err());
        assert!(store.accel_target("a/../../x", "video/mp4").await.is_err());
    }

    #[tokio::test]
    async fn put_len_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        store.put("x/y.bin", b"0123456789").await.unwrap();
        assert_eq!(store.len("x/y.bin").await.unwrap(), Some(10));
        assert_eq!(store.len("x/none").await.unwrap(), None);
        assert_eq!(store.len("x").await.unwrap(), None, "a directory is not an object");
        assert_eq!(store.read_range("x/y.bin", 2, 4).await.unwrap(), b"234");
        assert_eq!(store.read_range("x/y.bin", 8, 100).await.unwrap(), b"89");
        assert!(store.len("../etc/passwd").await.is_err());
    }

    #[tokio::test]
    async fn streams_come_in_bounded_chunks_and_add_up() {
        use futures_util::StreamExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf());
        let data: Vec<u8> = (0..(STREAM_CHUNK_BYTES * 3 + 17)).map(|i| (i % 251) as u8).collect();
        store.put("big.bin", &data).await.unwrap();
        let (start, end) = (5u64, data.len() as u64 - 3);
        let mut stream = store.stream_range("big.bin", start, end).await.unwrap();
        let mut got = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.unwrap();
            assert!(chunk.len() <= STREAM_CHUNK_BYTES);
            got.extend_from_slice(&chunk);
        }
        assert_eq!(got, data[5..=(data.len() - 3)]);
        assert_eq!(store.stat("big.bin").await.unwrap().map(|m| m.len), Some(data.len() as u64));
    }
}
