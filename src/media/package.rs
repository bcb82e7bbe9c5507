//! `kedian media package <lesson>`: AES-128 encrypted HLS with ffmpeg. A fresh key per lesson is
//! kept only in the database (served by the key endpoint to entitled viewers); the key file ffmpeg
//! needs lives in a temporary directory that is removed afterwards. Sources taller than 480 lines
//! get an HD and an SD rendition under a master playlist (`domain::renditions`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use rand::RngCore;

use super::storage::MediaStore;
use crate::domain::time::now;
use crate::domain::{LessonId, renditions};
use crate::store::{Db, lessons};

pub struct Packaged {
    pub segments: usize,
    pub dir: String,
}

pub fn ffmpeg_available() -> bool {
    Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success())
}

/// Packages `input` (or the lesson's current media file) for `lesson_id`.
pub async fn package(
    db: &Db,
    store: &dyn MediaStore,
    lesson_id: LessonId,
    input: Option<PathBuf>,
) -> anyhow::Result<Packaged> {
    if !ffmpeg_available() {
        bail!("ffmpeg is not installed (Debian: apt-get install ffmpeg)");
    }
    let content = lessons::content(db, lesson_id).await?.with_context(|| format!("no lesson {lesson_id}"))?;
    let work = tempfile::tempdir().context("temporary directory")?;
    let input = match input {
        Some(path) => path,
        None => {
            let key = content.media_key.as_deref().context("the lesson has no media file; pass --input")?;
            match store.local_path(key) {
                Some(path) => path,
                // In a bucket: ffmpeg reads a copy in the work directory, fetched a chunk at a time.
                None => {
                    let source = work.path().join("source");
                    super::storage::download(store, key, &source).await?;
                    source
                }
            }
        }
    };
    let mut key = [0u8; 16];
    let mut iv = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut key);
    rand::rngs::OsRng.fill_bytes(&mut iv);
    let key_file = work.path().join("enc.key");
    std::fs::write(&key_file, key)?;
    let key_info = work.path().join("enc.keyinfo");
    // Line 1 is the key's URI as written in the playlist; the shop signs it per viewer.
    std::fs::write(&key_info, format!("key\n{}\n{}\n", key_file.display(), hex::encode(iv)))?;
    let out = work.path().join("out");
    std::fs::create_dir_all(&out)?;
    let (width, height) = probe_size(&input).await.unwrap_or((0, 0));
    let ladder = renditions::ladder(width, height);
    if ladder.is_empty() {
        encode(&input, &key_info, None, &out.join("seg%03d.ts"), &out.join("index.m3u8")).await?;
    } else {
        let mut variants = Vec::new();
        for r in &ladder {
            let playlist = out.join(format!("{}.m3u8", r.name));
            encode(&input, &key_info, Some(r), &out.join(format!("{}%03d.ts", r.name)), &playlist).await?;
            let text = std::fs::read_to_string(&playlist)?;
            let bandwidth =
                renditions::peak_bandwidth(&text, |name| std::fs::metadata(out.join(name)).ok().map(|m| m.len()));
            variants.push((*r, bandwidth));
        }
        std::fs::write(out.join("index.m3u8"), renditions::master_playlist(&variants))?;
    }
    let dir = format!("lessons/{lesson_id}/hls");
    let segments = copy_rendition(&out, store, &dir).await?;
    lessons::set_hls(db, lesson_id, &dir, &hex::encode(key), now()).await?;
    Ok(Packaged { segments, dir })
}

/// One HLS rendition, encrypted with the lesson's key: at the rendition's height, or as it is.
async fn encode(
    input: &Path,
    key_info: &Path,
    rendition: Option<&renditions::Rendition>,
    segments: &Path,
    playlist: &Path,
) -> anyhow::Result<()> {
    // tokio's Command: a long encode must not hold a server thread.
    let mut ffmpeg = tokio::process::Command::new("ffmpeg");
    ffmpeg.args(["-hide_banner", "-loglevel", "error", "-y", "-i"]).arg(input);
    ffmpeg.args(["-map", "0:v:0", "-map", "0:a:0?", "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac"]);
    if let Some(r) = rendition {
        let (crf, audio) = if r.name == "sd" { ("26", "64k") } else { ("23", "128k") };
        ffmpeg.args(["-vf", &format!("scale=-2:{}", r.height), "-crf", crf, "-b:a", audio]);
    }
    ffmpeg.args(["-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod", "-hls_key_info_file"]).arg(key_info);
    let status =
        ffmpeg.arg("-hls_segment_filename").arg(segments).arg(playlist).status().await.context("running ffmpeg")?;
    if !status.success() {
        bail!("ffmpeg failed ({status}) on {}", input.display());
    }
    Ok(())
}

/// How many whole seconds the media plays, from ffprobe (installed with ffmpeg); None without it
/// or for a file it cannot read.
pub async fn probe_duration(input: &Path) -> Option<i64> {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"])
        .arg(input)
        .output()
        .await
        .ok()?;
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    (secs.is_finite() && secs >= 1.0).then(|| secs.floor() as i64)
}

/// The video's width and height, from ffprobe (installed with ffmpeg).
async fn probe_size(input: &Path) -> Option<(u32, u32)> {
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0"])
        .arg(input)
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (w, h) = text.trim().split_once(',')?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

async fn copy_rendition(from: &Path, store: &dyn MediaStore, dir: &str) -> anyhow::Result<usize> {
    let mut segments = 0;
    let mut names: Vec<String> =
        std::fs::read_dir(from)?.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    // Segments first, then the renditions' playlists, the one served first last: a viewer never
    // sees a playlist naming missing files.
    names.sort_by_key(|n| (n == "index.m3u8", n.ends_with(".m3u8")));
    for name in names {
        if !crate::domain::media::is_media_file(&name) {
            continue;
        }
        let bytes = std::fs::read(from.join(&name))?;
        store.put(&format!("{dir}/{name}"), &bytes).await?;
        segments += usize::from(name.ends_with(".ts"));
    }
    Ok(segments)
}
