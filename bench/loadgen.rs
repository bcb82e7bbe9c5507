//! A native load generator that behaves like learners in browsers: each virtual learner has its
//! own cookie jar, logs in by SMS code (read from the shop's console-sender log), opens 我的课程,
//! its last lesson, fetches the media and reports progress. `bench/run.sh` drives it.
//!
//!   cargo run --release --example loadgen -- drill --base http://127.0.0.1:18080 --log shop.log
//!   cargo run --release --example loadgen -- buy --base … --log shop.log
//!   cargo run --release --example loadgen -- cookie --base … --log shop.log --phone 13900000001

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use reqwest::StatusCode;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(clap::Args, Clone)]
struct Common {
    #[arg(long)]
    base: String,
    /// The shop's log, where the console sender writes each text; once per instance when
    /// several serve the same shop.
    #[arg(long, required = true)]
    log: Vec<std::path::PathBuf>,
    /// Accept a self-signed certificate (the cluster drill's nginx on 127.0.0.1).
    #[arg(long)]
    insecure: bool,
}

/// Set once from `--insecure` before any learner is made.
static INSECURE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[derive(Subcommand)]
enum Mode {
    /// Takedown day: learners arrive, log in, open their last lesson, watch and report.
    Drill {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 2000)]
        learners: usize,
        #[arg(long, default_value_t = 300)]
        secs: u64,
        /// Imported phones are 139 followed by this many-th number and up.
        #[arg(long, default_value_t = 100_000)]
        phones: u64,
        /// How long each learner watches (fetching media and reporting every 10 s) before leaving.
        #[arg(long, default_value_t = 30)]
        watch_secs: u64,
    },
    /// Paid orders: each learner buys every course on the home page (buy, pay, confirm).
    Buy {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 64)]
        learners: usize,
        #[arg(long, default_value_t = 30)]
        secs: u64,
    },
    /// Back office pages on a big shop: signs in as staff (password, then a TOTP code, enrolling
    /// on the first sign-in) and times each page.
    Admin {
        #[arg(long)]
        base: String,
        #[arg(long)]
        phone: String,
        #[arg(long)]
        password: String,
        /// An order number to search for.
        #[arg(long)]
        order_no: String,
        /// Digits of a buyer's phone to search for.
        #[arg(long)]
        buyer: String,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// Logs one phone in and prints its cookie header (for wrk).
    Cookie {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        phone: String,
    },
}

/// Codes seen in the log so far, by phone.
#[derive(Clone, Default)]
struct Codes(Arc<Mutex<HashMap<String, String>>>);

impl Codes {
    /// Follows each log file, remembering the newest code texted to each phone.
    fn follow_all(&self, common: &Common) {
        INSECURE.store(common.insecure, Ordering::Relaxed);
        for path in &common.log {
            self.follow(path.clone());
        }
    }

    fn follow(&self, path: std::path::PathBuf) {
        let codes = self.clone();
        // Only texts sent from now on: an older code for the same phone is not this login's.
        let start = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        std::thread::spawn(move || {
            let mut offset = start;
            let mut rest = String::new();
            loop {
                if let Ok(mut file) = std::fs::File::open(&path)
                    && file.seek(SeekFrom::Start(offset)).is_ok()
                {
                    let mut buf = String::new();
                    if let Ok(n) = file.read_to_string(&mut buf) {
                        offset += n as u64;
                        rest.push_str(&buf);
                        let (done, tail) = match rest.rfind('\n') {
                            Some(i) => (rest[..i].to_string(), rest[i + 1..].to_string()),
                            None => (String::new(), rest.clone()),
                        };
                        rest = tail;
                        let mut map = codes.0.lock().unwrap_or_else(|p| p.into_inner());
                        for line in done.lines().filter(|l| l.contains("console sender")) {
                            if let Some((phone, code)) = parse_text(line) {
                                map.insert(phone, code);
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    }

    async fn wait(&self, phone: &str) -> Option<String> {
        for _ in 0..500 {
            if let Some(code) = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(phone) {
                return Some(code);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

/// `… phone="139…" text="…123456…"` → (phone, the first six digits in a row of the text).
fn parse_text(line: &str) -> Option<(String, String)> {
    let line = &strip_ansi(line);
    let phone = line.split("phone=").nth(1)?.trim_start_matches('"').get(..11)?.to_string();
    let text = line.split("text=").nth(1)?;
    let digits: Vec<char> = text.chars().collect();
    let code = digits.windows(6).find(|w| w.iter().all(char::is_ascii_digit))?.iter().collect();
    Some((phone, code))
}

/// The log without terminal colours.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Latencies (µs) per step, and errors.
#[derive(Default)]
struct Stats {
    steps: Mutex<HashMap<&'static str, Vec<u32>>>,
    errors: Mutex<HashMap<String, u64>>,
    logins: AtomicU64,
    orders: AtomicU64,
}

impl Stats {
    fn record(&self, step: &'static str, since: Instant) {
        let us = u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX);
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).entry(step).or_default().push(us);
    }

    fn error(&self, what: String) {
        *self.errors.lock().unwrap_or_else(|p| p.into_inner()).entry(what).or_default() += 1;
    }

    fn report(&self, secs: f64) {
        let mut steps: Vec<_> = self.steps.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
        steps.sort_by_key(|(name, _)| *name);
        println!("| step | count | per s | p50 ms | p99 ms | max ms |");
        println!("|---|---|---|---|---|---|");
        for (name, mut v) in steps {
            v.sort_unstable();
            let pct = |p: f64| v[((v.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
            println!(
                "| {name} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                v.len(),
                v.len() as f64 / secs,
                pct(0.5),
                pct(0.99),
                pct(1.0)
            );
        }
        let errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        let total: u64 = errors.values().sum();
        println!();
        println!(
            "logins: {} ({:.1}/s)",
            self.logins.load(Ordering::Relaxed),
            self.logins.load(Ordering::Relaxed) as f64 / secs
        );
        println!(
            "paid orders: {} ({:.1}/s)",
            self.orders.load(Ordering::Relaxed),
            self.orders.load(Ordering::Relaxed) as f64 / secs
        );
        println!("errors: {total}");
        for (what, n) in errors.iter() {
            println!("  {n} × {what}");
        }
    }
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = html.find(start)? + start.len();
    html[from..].split(end).next()
}

fn unescape(s: &str) -> String {
    s.replace("&#38;", "&").replace("&amp;", "&")
}

struct Learner {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    base: String,
    /// A distinct client address for the shop's per-IP limits (it trusts X-Forwarded-For in
    /// the benchmark); never an address anything is sent to.
    ip: String,
}

impl Learner {
    fn new(base: &str, n: u64) -> Learner {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(1)
            .danger_accept_invalid_certs(INSECURE.load(Ordering::Relaxed))
            .build()
            .unwrap_or_default();
        let ip = format!("127.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, (n & 255).max(1));
        Learner { client, jar, base: base.to_string(), ip }
    }

    async fn get(&self, path: &str) -> Result<(StatusCode, String), String> {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("X-Forwarded-For", &self.ip)
            .send()
            .await
            .map_err(|e| format!("GET {}: {e}", path.split('?').next().unwrap_or(path)))?;
        let status = r.status();
        Ok((status, r.text().await.map_err(|e| format!("body: {e}"))?))
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Result<reqwest::Response, String> {
        self.client
            .post(format!("{}{path}", self.base))
            .header("X-Forwarded-For", &self.ip)
            .form(form)
            .send()
            .await
            .map_err(|e| format!("POST {path}: {e}"))
    }

    async fn login(&self, stats: &Stats, codes: &Codes, phone: &str) -> Result<(), String> {
        let t = Instant::now();
        let (_, html) = self.get("/login").await?;
        let token = between(&html, "name=\"csrf_token\" value=\"", "\"").ok_or("login page without token")?.to_string();
        let sent = self
            .post_form(
                "/login",
                &[("csrf_token", &token), ("method", "sms"), ("action", "send_code"), ("phone", phone)],
            )
            .await?;
        if sent.status() != StatusCode::OK {
            return Err(format!("send code: {}", sent.status()));
        }
        stats.record("1 send code", t);
        let code = codes.wait(phone).await.ok_or("no code in the log")?;
        let t = Instant::now();
        let done = self
            .post_form(
                "/login",
                &[("csrf_token", &token), ("method", "sms"), ("action", "login"), ("phone", phone), ("code", &code)],
            )
            .await?;
        if done.status() != StatusCode::SEE_OTHER {
            let status = done.status();
            let page = done.text().await.unwrap_or_default();
            let why = between(&page, "id=\"code-error\"", "</")
                .or_else(|| between(&page, "id=\"phone-error\"", "</"))
                .map(|s| s.rsplit('>').next().unwrap_or(s).trim().to_string())
                .unwrap_or_default();
            return Err(format!("login: {status} {why}"));
        }
        stats.record("2 log in", t);
        stats.logins.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn timed_get(&self, stats: &Stats, step: &'static str, path: &str) -> Result<String, String> {
        let t = Instant::now();
        let (status, body) = self.get(path).await?;
        if status != StatusCode::OK {
            return Err(format!("{step}: {status}"));
        }
        stats.record(step, t);
        Ok(body)
    }

    /// Fetches 1 MB of the media from `offset`, as a player does; returns the file's size.
    async fn fetch_media(&self, stats: &Stats, url: &str, offset: u64) -> Result<u64, String> {
        let t = Instant::now();
        let r = self
            .client
            .get(format!("{}{url}", self.base))
            .header("Range", format!("bytes={offset}-{}", offset + 1_048_575))
            .header("X-Forwarded-For", &self.ip)
            .send()
            .await
            .map_err(|e| format!("media: {e}"))?;
        if r.status() != StatusCode::PARTIAL_CONTENT && r.status() != StatusCode::OK {
            return Err(format!("media: {}", r.status()));
        }
        let size = r
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit('/').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        r.bytes().await.map_err(|e| format!("media body: {e}"))?;
        stats.record("5 media 1 MB", t);
        Ok(size)
    }

    async fn report(&self, stats: &Stats, url: &str, csrf: &str, position: u64) -> Result<(), String> {
        let t = Instant::now();
        let r = self
            .client
            .post(format!("{}{url}", self.base))
            .header("X-CSRF-Token", csrf)
            .header("X-Forwarded-For", &self.ip)
            .header("Content-Type", "application/json")
            .body(format!("{{\"position\":{position},\"duration\":600}}"))
            .send()
            .await
            .map_err(|e| format!("progress: {e}"))?;
        if r.status() != StatusCode::NO_CONTENT {
            return Err(format!("progress: {}", r.status()));
        }
        stats.record("6 progress", t);
        Ok(())
    }

    /// One learner's visit: log in, 我的课程, the last lesson, its media and progress, then watch.
    async fn visit(&self, stats: &Stats, codes: &Codes, phone: &str, watch: Duration) -> Result<(), String> {
        self.login(stats, codes, phone).await?;
        let mine = self.timed_get(stats, "3 my courses", "/me/courses").await?;
        let lesson =
            between(&mine, "class=\"button primary\" href=\"", "\"").ok_or("no lesson to continue")?.to_string();
        let page = self.timed_get(stats, "4 lesson page", &lesson).await?;
        let media = unescape(
            between(
                &page,
                "id=\"media\" controls playsinline preload=\"metadata\" controlslist=\"nodownload\" src=\"",
                "\"",
            )
            .or_else(|| between(&page, "data-mp4=\"", "\""))
            .ok_or("no media on the lesson page")?,
        );
        let progress_url = between(&page, "data-progress-url=\"", "\"").ok_or("no progress URL")?.to_string();
        let csrf = between(&page, "data-csrf=\"", "\"").ok_or("no csrf")?.to_string();
        let resume: u64 = between(&page, "data-resume=\"", "\"").and_then(|s| s.parse().ok()).unwrap_or(0);
        let until = Instant::now() + watch;
        let mut position = resume.min(590);
        let mut offset = 0;
        loop {
            if !media.is_empty() {
                let size = self.fetch_media(stats, &media, offset).await?;
                // The next second of the film, starting over at the end.
                offset = if size > 0 { (offset + 1_048_576) % size } else { 0 };
            }
            self.report(stats, &progress_url, &csrf, position).await?;
            if Instant::now() + Duration::from_secs(10) > until {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
            position = (position + 10).min(600);
        }
    }

    /// Buys every course shown on the home page, paying in the sandbox.
    async fn buy_all(&self, stats: &Stats, slugs: &[String], stop: Instant) -> Result<(), String> {
        for slug in slugs {
            if Instant::now() >= stop {
                return Ok(());
            }
            let t = Instant::now();
            let (_, page) = self.get(&format!("/courses/{slug}")).await?;
            let Some(token) = between(&page, "name=\"csrf_token\" value=\"", "\"").map(String::from) else { continue };
            if !page.contains(&format!("action=\"/courses/{slug}/buy\"")) {
                continue;
            }
            let bought = self.post_form(&format!("/courses/{slug}/buy"), &[("csrf_token", &token)]).await?;
            let to = bought.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
            if bought.status() == StatusCode::SEE_OTHER && to.starts_with("/orders/") && !to.ends_with("/pay") {
                continue; // free: claimed, not paid
            }
            let Some(order_no) = to.strip_prefix("/orders/").and_then(|s| s.strip_suffix("/pay")) else {
                return Err(format!("buy {slug}: {}", bought.status()));
            };
            let pay = format!("/orders/{order_no}/pay");
            let chosen = self.post_form(&pay, &[("csrf_token", &token), ("channel", "sandbox")]).await?;
            if chosen.status() != StatusCode::SEE_OTHER {
                return Err(format!("pay: {}", chosen.status()));
            }
            let cashier = format!("/pay/sandbox/{order_no}");
            let confirmed = self.post_form(&cashier, &[("csrf_token", &token), ("action", "confirm")]).await?;
            if confirmed.status() != StatusCode::SEE_OTHER {
                return Err(format!("confirm: {}", confirmed.status()));
            }
            let (status, order) = self.get(&format!("/orders/{order_no}")).await?;
            if status != StatusCode::OK || !order.contains("status status-paid") {
                return Err("paid order without access".into());
            }
            stats.record("order: buy, pay, fulfil", t);
            stats.orders.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The code an authenticator shows now for a base32 secret.
fn totp_now(secret: &str) -> Option<String> {
    let bytes = totp_rs::Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes).ok()?.generate_current().ok()
}

async fn admin(
    base: &str,
    phone: &str,
    password: &str,
    pages: &[(&'static str, String)],
    rounds: usize,
) -> Result<(), String> {
    let staff = Learner::new(base, 1);
    let (_, html) = staff.get("/admin/login").await?;
    let token = between(&html, "name=\"csrf_token\" value=\"", "\"").ok_or("no token")?.to_string();
    let sent =
        staff.post_form("/admin/login", &[("csrf_token", &token), ("phone", phone), ("password", password)]).await?;
    if sent.status() != StatusCode::SEE_OTHER {
        return Err(format!("password refused: {}", sent.status()));
    }
    let (_, html) = staff.get("/admin/login/verify").await?;
    let secret = between(&html, "id=\"totp-secret\">", "<").ok_or("no authenticator secret (already enrolled?)")?;
    let code = totp_now(secret).ok_or("bad secret")?;
    let token = between(&html, "name=\"csrf_token\" value=\"", "\"").ok_or("no token")?.to_string();
    let done = staff.post_form("/admin/login/verify", &[("csrf_token", &token), ("code", &code)]).await?;
    if !(done.status().is_success() || done.status().is_redirection()) {
        return Err(format!("code refused: {}", done.status()));
    }
    println!("| page | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|");
    for (label, path) in pages {
        let mut times = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let t = Instant::now();
            let (status, _) = staff.get(path).await?;
            if status != StatusCode::OK {
                return Err(format!("{path}: {status}"));
            }
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
        println!("| {label} | {:.1} | {:.1} | {:.1} |", pct(0.5), pct(0.99), pct(1.0));
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let stats = Arc::new(Stats::default());
    let codes = Codes::default();
    match cli.mode {
        Mode::Admin { base, phone, password, order_no, buyer, rounds } => {
            let pages = [
                ("dashboard `/admin`", "/admin".to_string()),
                ("statistics, last 30 days", "/admin/stats".to_string()),
                (
                    "statistics, a year (first view counts the days)",
                    "/admin/stats?from=2023-11-13&to=2024-11-12".to_string(),
                ),
                ("order search by number", format!("/admin/orders?q={order_no}")),
                ("order search by phone digits", format!("/admin/orders?q={buyer}")),
                ("orders, newest first", "/admin/orders".to_string()),
            ];
            if let Err(e) = admin(&base, &phone, &password, &pages, rounds).await {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        Mode::Cookie { common, phone } => {
            codes.follow_all(&common);
            let learner = Learner::new(&common.base, 1);
            if let Err(e) = learner.login(&stats, &codes, &phone).await {
                eprintln!("{e}");
                std::process::exit(1);
            }
            use reqwest::cookie::CookieStore;
            let cookie = common
                .base
                .parse()
                .ok()
                .and_then(|url| learner.jar.cookies(&url))
                .and_then(|v| v.to_str().ok().map(String::from))
                .unwrap_or_default();
            // Line 1: the cookie header; line 2: the lesson to continue.
            let (_, me) = learner.get("/me/courses").await.unwrap_or_default();
            println!("{cookie}");
            println!("{}", between(&me, "class=\"button primary\" href=\"", "\"").unwrap_or(""));
        }
        Mode::Drill { common, learners, secs, phones, watch_secs } => {
            codes.follow_all(&common);
            let next_phone = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let stop = start + Duration::from_secs(secs);
            let mut tasks = Vec::new();
            for n in 0..learners {
                let (stats, codes, next_phone, base) =
                    (stats.clone(), codes.clone(), next_phone.clone(), common.base.clone());
                tasks.push(tokio::spawn(async move {
                    // Arrivals spread over the first 20 s, as a broadcast lands on phones.
                    tokio::time::sleep(Duration::from_millis((n as u64 * 20_000) / learners.max(1) as u64)).await;
                    while Instant::now() < stop {
                        let i = next_phone.fetch_add(1, Ordering::Relaxed) % phones;
                        let learner = Learner::new(&base, i);
                        let phone = format!("139{i:08}");
                        if let Err(e) = learner.visit(&stats, &codes, &phone, Duration::from_secs(watch_secs)).await {
                            stats.error(e);
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            stats.report(start.elapsed().as_secs_f64());
        }
        Mode::Buy { common, learners, secs } => {
            codes.follow_all(&common);
            let probe = Learner::new(&common.base, 0);
            let (_, home) = probe.get("/courses").await.unwrap_or_default();
            let mut slugs: Vec<String> = home
                .split("href=\"/courses/")
                .skip(1)
                .filter_map(|s| s.split('"').next())
                .filter(|s| !s.contains('/') && !s.contains('?'))
                .map(String::from)
                .collect();
            slugs.sort();
            slugs.dedup();
            let next = Arc::new(AtomicU64::new(0));
            let start = Instant::now();
            let stop = start + Duration::from_secs(secs);
            let mut tasks = Vec::new();
            for _ in 0..learners {
                let (stats, codes, next, base, slugs) =
                    (stats.clone(), codes.clone(), next.clone(), common.base.clone(), slugs.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < stop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let learner = Learner::new(&base, 70_000 + i);
                        let phone = format!("137{i:08}");
                        let done = async {
                            learner.login(&stats, &codes, &phone).await?;
                            learner.buy_all(&stats, &slugs, stop).await
                        };
                        if let Err(e) = done.await {
                            stats.error(e);
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            stats.report(start.elapsed().as_secs_f64());
        }
    }
}
