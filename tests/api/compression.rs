//! Pages go out gzip-compressed when the browser asks, whole and with their length (never a
//! chunked trickle); cached visitor pages too; media is never recompressed.

use std::io::Read;

use reqwest::StatusCode;

use crate::helpers::{TestApp, unescape};
use crate::on_both_backends;

on_both_backends!(pages_are_compressed_whole_and_media_is_not, error_pages_decode_as_sent);

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).expect("valid gzip");
    text
}

async fn fetch(app: &TestApp, path: &str, gzip: bool) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.client.get(app.url(path));
    if gzip {
        request = request.header("Accept-Encoding", "gzip, deflate, br");
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    (headers, response.bytes().await.unwrap().to_vec())
}

async fn pages_are_compressed_whole_and_media_is_not(app: TestApp) {
    for path in ["/courses/excel-data-analysis", "/courses/excel-data-analysis", "/login"] {
        let (plain_headers, plain) = fetch(&app, path, false).await;
        assert!(plain_headers.get("content-encoding").is_none(), "{path}: plain when not asked");
        let (headers, zipped) = fetch(&app, path, true).await;
        assert_eq!(headers.get("content-encoding").unwrap(), "gzip", "{path}");
        assert_eq!(headers.get("content-length").unwrap().to_str().unwrap(), zipped.len().to_string(), "{path}");
        assert!(headers.get("transfer-encoding").is_none(), "{path}: not chunked");
        assert!(headers.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("Accept-Encoding")));
        let text = gunzip(&zipped);
        assert!(
            text.contains("</html>") && zipped.len() < plain.len() * 2 / 3,
            "{path}: {} of {}",
            zipped.len(),
            plain.len()
        );
        if path != "/login" {
            assert_eq!(text.as_bytes(), plain.as_slice(), "{path}: the same page");
        }
    }
    app.login_by_code("13800138711").await;
    let (headers, zipped) = fetch(&app, "/me/courses", true).await;
    assert_eq!(headers.get("content-encoding").unwrap(), "gzip");
    assert!(gunzip(&zipped).contains("我的课程"));

    let catalog = app.catalog.snapshot();
    let free = catalog.course("excel-data-analysis").unwrap().lessons().find(|l| l.free_preview).unwrap().id;
    let (_, page) = fetch(&app, &format!("/courses/excel-data-analysis/lessons/{free}"), false).await;
    let page = unescape(&String::from_utf8(page).unwrap());
    let media = format!("/media/{}", page.split("src=\"/media/").nth(1).unwrap().split('"').next().unwrap());
    let (headers, video) = fetch(&app, &media, true).await;
    assert!(headers.get("content-encoding").is_none(), "video is sent as stored");
    assert_eq!(video.len(), std::fs::metadata(app.data_dir.join("media/demo/video.mp4")).unwrap().len() as usize);
}

/// Every error page, under every prefix, is what its headers say: a gzip body when they say gzip,
/// a plain one otherwise (a 400 from /static once said gzip over plain text).
async fn error_pages_decode_as_sent(app: TestApp) {
    let prefixes = ["", "/static", "/files", "/media", "/courses", "/orders", "/admin", "/pay/notify", "/human-check"];
    let tails = ["/..%2f..%2fx", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/a%2fb.css", "/nope", "/x%00y", "/%ff%fe"];
    for prefix in prefixes {
        for tail in tails {
            let path = format!("{prefix}{tail}");
            let response =
                app.client.get(app.url(&path)).header("Accept-Encoding", "gzip, deflate, br").send().await.unwrap();
            let status = response.status();
            assert!(status.is_client_error(), "{path}: {status}");
            let headers = response.headers().clone();
            let bytes = response.bytes().await.unwrap();
            let text = match headers.get("content-encoding").map(|v| v.to_str().unwrap().to_string()) {
                Some(encoding) => {
                    assert_eq!(encoding, "gzip", "{path}");
                    let mut text = String::new();
                    let decoded = flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text);
                    assert!(decoded.is_ok(), "{path}: says gzip, is not ({status})");
                    text
                }
                None => String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| panic!("{path}: not text")),
            };
            assert!(text.contains("</html>"), "{path} ({status}): a page that says what it is: {text:.200}");
        }
    }
}
