//! What an uploaded file is, judged by its first bytes (never by its name or the browser's
//! word), and the name it may be shown and downloaded under.

pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Jpeg,
    Png,
    Gif,
    Webp,
    Pdf,
    /// MP4 video (ISO base media with a video brand).
    Mp4,
    /// AAC audio in an MP4 container.
    M4a,
    Mp3,
    /// UTF-8 text (import files: CSV, JSON Lines).
    Text,
}

/// What a form accepts: which kinds, and how large each file may be.
#[derive(Debug, Clone, Copy)]
pub struct Accept {
    pub kinds: &'static [FileKind],
    pub max_bytes: u64,
}

/// Refund evidence and complaint pictures.
pub const EVIDENCE: Accept = Accept {
    kinds: &[FileKind::Jpeg, FileKind::Png, FileKind::Gif, FileKind::Webp, FileKind::Pdf],
    max_bytes: MAX_FILE_BYTES,
};
/// An issued 发票, attached by staff: PDF only.
pub const INVOICE_PDF: Accept = Accept { kinds: &[FileKind::Pdf], max_bytes: MAX_FILE_BYTES };
/// Covers and logos (resized before use).
pub const PICTURES: Accept =
    Accept { kinds: &[FileKind::Jpeg, FileKind::Png, FileKind::Webp], max_bytes: MAX_FILE_BYTES };
/// The back office's import upload: text files.
pub const EXPORT_FILES: Accept = Accept { kinds: &[FileKind::Text], max_bytes: 20 * 1024 * 1024 };
/// Files attached to a lesson for its buyers: PDFs (slides exported too), audio and pictures.
pub const LESSON_FILES: Accept = Accept {
    kinds: &[FileKind::Pdf, FileKind::Mp3, FileKind::M4a, FileKind::Jpeg, FileKind::Png],
    max_bytes: 50 * 1024 * 1024,
};
/// Lesson video and audio; the size limit comes from the settings.
pub const LESSON_MEDIA: &[FileKind] = &[FileKind::Mp4, FileKind::M4a, FileKind::Mp3];

impl FileKind {
    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Gif => "image/gif",
            FileKind::Webp => "image/webp",
            FileKind::Pdf => "application/pdf",
            FileKind::Mp4 => "video/mp4",
            FileKind::M4a => "audio/mp4",
            FileKind::Mp3 => "audio/mpeg",
            FileKind::Text => "text/plain; charset=utf-8",
        }
    }

    pub fn is_video(self) -> bool {
        self == FileKind::Mp4
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Jpeg => "jpg",
            FileKind::Png => "png",
            FileKind::Gif => "gif",
            FileKind::Webp => "webp",
            FileKind::Pdf => "pdf",
            FileKind::Mp4 => "mp4",
            FileKind::M4a => "m4a",
            FileKind::Mp3 => "mp3",
            FileKind::Text => "txt",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, FileKind::Jpeg | FileKind::Png | FileKind::Gif | FileKind::Webp)
    }
}

/// The kind of file these leading bytes start, if it is one we accept.
pub fn sniff(head: &[u8]) -> Option<FileKind> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(FileKind::Jpeg)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(FileKind::Png)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(FileKind::Gif)
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(FileKind::Webp)
    } else if head.starts_with(b"%PDF-") {
        Some(FileKind::Pdf)
    } else if head.len() >= 12 && &head[4..8] == b"ftyp" {
        Some(if &head[8..12] == b"M4A " { FileKind::M4a } else { FileKind::Mp4 })
    } else if head.starts_with(b"ID3") || (head.len() >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0) {
        Some(FileKind::Mp3)
    } else if is_text(head) {
        Some(FileKind::Text)
    } else {
        None
    }
}

/// UTF-8 without NUL or other control bytes than tab and line breaks (a multi-byte character may be
/// cut at the end of the sample).
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
        Err(_) => return false,
    };
    !head.is_empty() && valid.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
}

/// A display name from what the browser sent: the last path segment, without control, quote,
/// slash or backslash characters, at most 60 characters, with the extension the content has.
pub fn display_name(sent: &str, kind: FileKind) -> String {
    // Browsers escape three characters of a multipart file name (HTML: `"`, LF, CR as %22, %0A,
    // %0D); unescaped, they are dropped below like any other quote or control character, so the
    // download header does not escape the escape again.
    let sent = sent.replace("%22", "\"").replace("%0A", "\n").replace("%0D", "\r");
    let last = sent.rsplit(['/', '\\']).next().unwrap_or("");
    let stem = last.rsplit_once('.').map_or(last, |(stem, _)| stem);
    let clean: String = stem
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | '/' | '\\' | '<' | '>' | ':' | '*' | '?' | '|' | ';'))
        .take(60)
        .collect();
    let clean = clean.trim().trim_start_matches('.');
    let stem = if clean.is_empty() { "file" } else { clean };
    // Text keeps a data extension the importer reads by.
    let sent_ext = last.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
    let ext = if kind == FileKind::Text && matches!(sent_ext.as_str(), "csv" | "jsonl" | "ndjson" | "json") {
        sent_ext.as_str()
    } else {
        kind.extension()
    };
    format!("{stem}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_content() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF"), Some(FileKind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(FileKind::Png));
        assert_eq!(sniff(b"GIF89a...."), Some(FileKind::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Some(FileKind::Webp));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        // Markup is text: only the import upload takes text, never evidence or pictures.
        assert_eq!(sniff(b"<html><script>alert(1)</script>"), Some(FileKind::Text));
        assert!(!EVIDENCE.kinds.contains(&FileKind::Text) && !PICTURES.kinds.contains(&FileKind::Text));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"MZ\x90\0"), None);
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"), Some(FileKind::Mp4));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A \0\0\0\0"), Some(FileKind::M4a));
        assert_eq!(sniff(b"ID3\x04\0\0\0\0"), Some(FileKind::Mp3));
        assert_eq!(sniff(b"\xFF\xFB\x90\x64"), Some(FileKind::Mp3));
        assert!(!EVIDENCE.kinds.contains(&FileKind::Mp4), "evidence stays pictures and PDFs");
        assert_eq!(sniff("phone,nickname\n139".as_bytes()), Some(FileKind::Text));
        assert_eq!(sniff(&"手机号,昵".as_bytes()[..13]), Some(FileKind::Text), "a character cut at the end is fine");
        assert_eq!(sniff(b"ab\0cd"), None);
        assert_eq!(display_name("users.CSV", FileKind::Text), "users.csv");
        assert_eq!(display_name("users.exe", FileKind::Text), "users.txt");
    }

    #[test]
    fn hostile_names_are_tamed() {
        assert_eq!(display_name("../../etc/passwd", FileKind::Png), "passwd.png");
        assert_eq!(display_name("C:\\Users\\a\\收据.exe", FileKind::Pdf), "收据.pdf");
        assert_eq!(display_name("\"><script>.jpg", FileKind::Jpeg), "script.jpg");
        assert_eq!(display_name("", FileKind::Gif), "file.gif");
        assert_eq!(display_name("evil%22.pdf", FileKind::Pdf), "evil.pdf", "the browser's %22 is a quote");
        assert_eq!(display_name("a%0D%0Ab.png", FileKind::Png), "ab.png");
        assert_eq!(display_name("50%25off.png", FileKind::Png), "50%25off.png", "other escapes are the name's own");
        assert_eq!(display_name(".htaccess", FileKind::Png), "file.png");
        assert_eq!(display_name("a\r\nSet-Cookie: x.png", FileKind::Png), "aSet-Cookie x.png");
        assert_eq!(display_name(&"长".repeat(100), FileKind::Png).chars().count(), 64);
    }
}
