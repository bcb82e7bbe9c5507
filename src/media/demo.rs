//! The demo shop's media: small playable files, so the player works at once.

use super::storage::MediaStore;
use crate::store::{Db, demo};

const VIDEO: &[u8] = include_bytes!("demo_media/video.mp4");
const AUDIO: &[u8] = include_bytes!("demo_media/audio.m4a");

/// Every video lesson plays the same few seconds of video, every audio lesson the same tone,
/// articles have text.
pub async fn seed(db: &Db, store: &dyn MediaStore) -> anyhow::Result<()> {
    let (video, audio) = ("demo/video.mp4", "demo/audio.m4a");
    store.put(video, VIDEO).await?;
    store.put(audio, AUDIO).await?;
    demo::use_demo_media(db, video, audio).await?;
    Ok(())
}
