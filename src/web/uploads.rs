//! Uploaded files. Forms with files (multipart/form-data): text fields are kept in memory
//! (small); files stream to temporary files in the uploads directory, each cut off at its size
//! limit and judged by its first bytes. The CSRF token and Origin are checked exactly as
//! `CsrfForm` does; temporary files vanish unless kept. Kept files live under random keys and go
//! back out only as downloads with nosniff, through handlers that check who is asking.

use std::path::Path;

use actix_multipart::Multipart;
use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
    X_CONTENT_TYPE_OPTIONS,
};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use rand::Rng;
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::csrf;
use crate::domain::UserId;
use crate::domain::upload::{Accept, FileKind, display_name, sniff};
use crate::error::AppError;
use crate::media::storage::MediaStore;
use crate::store::attachments::{Attachment, NewAttachment};

const MAX_TEXT_BYTES: usize = 64 * 1024;

pub struct Upload {
    /// The name to show and download under (from what the browser sent, tamed).
    pub file_name: String,
    pub kind: FileKind,
    pub size: u64,
    pub temp: TempPath,
}

/// Why a file was left out; the form page shows it next to the file field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    TooLarge,
    NotAllowed,
    TooMany,
}

pub struct UploadForm {
    fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
    pub rejected: Option<Rejected>,
}

impl UploadForm {
    pub fn text(&self, name: &str) -> &str {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }
}

/// Reads the whole form. `max_files` beyond the first are rejected, not stored.
pub async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    tmp_dir: &Path,
    max_files: usize,
    accept: &Accept,
) -> Result<UploadForm, AppError> {
    let body_cap = max_files as u64 * (accept.max_bytes + 64 * 1024) + MAX_TEXT_BYTES as u64;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > body_cap) {
        return Err(AppError::TooLarge);
    }
    tokio::fs::create_dir_all(tmp_dir).await.map_err(|e| AppError::Internal(e.into()))?;
    let mut multipart = Multipart::new(req.headers(), payload);
    let mut form = UploadForm { fields: Vec::new(), files: Vec::new(), rejected: None };
    let (mut text_bytes, mut total) = (0usize, 0u64);
    // The shop's forms send the token first; no file is written before it checks out.
    let mut token_checked = false;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|_| AppError::BadRequest)?;
        let name = field.name().unwrap_or_default().to_string();
        let sent_name = field.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_string);
        match sent_name {
            None => {
                let mut value = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|_| AppError::BadRequest)?;
                    text_bytes += chunk.len();
                    if text_bytes > MAX_TEXT_BYTES {
                        return Err(AppError::TooLarge);
                    }
                    value.extend_from_slice(&chunk);
                }
                let text = String::from_utf8(value).map_err(|_| AppError::BadRequest)?;
                // As in every form: control characters are refused, and nothing is kept.
                if crate::domain::text::has_forbidden_control(&text)
                    || crate::domain::text::has_forbidden_control(&name)
                {
                    return Err(AppError::ControlCharacters);
                }
                if name == "csrf_token" && !token_checked {
                    csrf::check_token(req, &text)?;
                    token_checked = true;
                }
                form.fields.push((name, text));
            }
            Some(_) if !token_checked => return Err(AppError::Csrf),
            Some(sent_name) => {
                let stored = store_file(&mut field, tmp_dir, &mut total, body_cap, accept).await?;
                match stored {
                    // No file chosen: browsers still send an empty part.
                    Err(None) => {}
                    Err(Some(why)) => form.rejected = form.rejected.or(Some(why)),
                    Ok(_) if form.files.len() >= max_files => form.rejected = Some(Rejected::TooMany),
                    Ok((kind, size, temp)) => {
                        form.files.push(Upload { file_name: display_name(&sent_name, kind), kind, size, temp })
                    }
                }
            }
        }
    }
    if !token_checked {
        csrf::check_token(req, form.text("csrf_token"))?;
    }
    Ok(form)
}

type Stored = Result<(FileKind, u64, TempPath), Option<Rejected>>;

/// Streams one file part to a temporary file, stopping at the size limit (the rest is read and
/// dropped, so the page can still answer).
async fn store_file(
    field: &mut actix_multipart::Field,
    tmp_dir: &Path,
    total: &mut u64,
    body_cap: u64,
    accept: &Accept,
) -> Result<Stored, AppError> {
    let temp =
        tempfile::Builder::new().prefix("upload-").tempfile_in(tmp_dir).map_err(|e| AppError::Internal(e.into()))?;
    let (file, path) = temp.into_parts();
    let mut file = tokio::fs::File::from_std(file);
    let (mut size, mut head, mut too_large) = (0u64, Vec::with_capacity(16), false);
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| AppError::BadRequest)?;
        *total += chunk.len() as u64;
        if *total > body_cap {
            return Err(AppError::TooLarge);
        }
        size += chunk.len() as u64;
        if size > accept.max_bytes {
            too_large = true;
            continue;
        }
        if head.len() < 16 {
            head.extend(chunk.iter().take(16 - head.len()));
        }
        file.write_all(&chunk).await.map_err(|e| AppError::Internal(e.into()))?;
    }
    file.flush().await.map_err(|e| AppError::Internal(e.into()))?;
    if size == 0 {
        return Ok(Err(None));
    }
    if too_large {
        return Ok(Err(Some(Rejected::TooLarge)));
    }
    match sniff(&head) {
        Some(kind) if accept.kinds.contains(&kind) => Ok(Ok((kind, size, path))),
        _ => Ok(Err(Some(Rejected::NotAllowed))),
    }
}

/// A file moved into the uploads store.
pub struct Kept {
    pub key: String,
    pub file_name: String,
    pub content_type: &'static str,
    pub size: i64,
}

impl Kept {
    pub fn as_new(&self, user_id: UserId) -> NewAttachment<'_> {
        NewAttachment {
            user_id,
            storage_key: &self.key,
            content_type: self.content_type,
            size_bytes: self.size,
            file_name: &self.file_name,
        }
    }
}

/// Moves the form's files into the store under random keys (`evidence/3f…9a.png`).
pub async fn keep(store: &dyn MediaStore, folder: &str, files: &[Upload]) -> anyhow::Result<Vec<Kept>> {
    let mut kept = Vec::with_capacity(files.len());
    for file in files {
        let random: [u8; 16] = rand::thread_rng().r#gen();
        let key = format!("{folder}/{}.{}", hex::encode(random), file.kind.extension());
        store.put_file(&key, &file.temp).await?;
        kept.push(Kept {
            key,
            file_name: file.file_name.clone(),
            content_type: file.kind.content_type(),
            size: i64::try_from(file.size).unwrap_or(i64::MAX),
        });
    }
    Ok(kept)
}

/// Removes kept files that ended up unused (a double submit).
pub async fn discard(store: &dyn MediaStore, kept: &[Kept]) {
    for file in kept {
        if let Err(e) = store.delete(&file.key).await {
            tracing::warn!(key = file.key, error = format!("{e:#}"), "unused upload not deleted");
        }
    }
}

/// An attachment as a download: its own type, never sniffed, never cached by others.
pub async fn download(req: &HttpRequest, store: &dyn MediaStore, a: &Attachment) -> Result<HttpResponse, AppError> {
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::FilenameExt(ExtendedValue {
            charset: Charset::Ext("UTF-8".into()),
            language_tag: None,
            value: a.file_name.clone().into_bytes(),
        })],
    };
    super::stream::object_response(req, store, &a.storage_key, |b| {
        b.insert_header((CONTENT_TYPE, a.content_type.as_str()))
            .insert_header(disposition.clone())
            .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .insert_header((CACHE_CONTROL, "private, no-store"))
            .insert_header(("Content-Security-Policy", "default-src 'none'; sandbox"));
    })
    .await
}
