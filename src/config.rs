//! Settings: an optional `kedian.toml`, then `KEDIAN_*` environment variables (environment wins).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// Every key, as written in `kedian.toml`; the environment variable is `KEDIAN_` + the key upper-cased.
pub const KEYS: &[&str] = &[
    "listen",
    "database_url",
    "data_dir",
    "demo",
    "public_url",
    "redis_url",
    "session_key",
    "cookie_secure",
    "session_idle_days",
    "session_lifetime_days",
    "sms_sender",
    "log_format",
    "metrics_token",
    "trust_forwarded",
    "order_ttl_minutes",
    "allow_sandbox",
    "job_interval_secs",
    "refund_auto_approve_fen",
    "complaint_reply_hours",
    "media_upload_mb",
    "media_streams_per_viewer",
    "media_streams_per_ip",
    "media_accel",
    "backup_every_hours",
    "membership_refund_current_period",
    "consultation_cancel_hours",
    "review_min_progress_pct",
    "review_photos",
    "membership_reminder_days",
    "reminder_lead_minutes",
    "wechatpay_config",
    "sms_config",
    "storage_config",
    "alipay_config",
    "config",
];

#[derive(Clone)]
pub struct Settings {
    pub listen: String,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub demo: bool,
    /// Scheme, host and port users reach the shop at, without a trailing slash.
    pub public_url: String,
    pub redis_url: Option<String>,
    /// Master key for the session cookie; `None` means "kept in the data directory".
    pub session_key: Option<String>,
    pub cookie_secure: bool,
    pub session_idle_days: i64,
    pub session_lifetime_days: i64,
    pub sms_sender: String,
    /// `text` (the default) or `json`: one JSON object per line, for log collectors.
    pub log_format: String,
    /// `GET /metrics` answers only `Authorization: Bearer <this>`; unset, it is not served.
    pub metrics_token: Option<String>,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted reverse proxy).
    pub trust_forwarded: bool,
    /// How long an unpaid order stays payable.
    pub order_ttl_minutes: i64,
    /// Offer the sandbox (模拟支付) even though the shop runs over HTTPS.
    pub allow_sandbox: bool,
    /// How often background jobs (order expiry, payment reconciliation) run.
    pub job_interval_secs: i64,
    /// Policy-eligible refund requests up to this amount (fen) are approved without staff; 0 turns
    /// automatic approval off. Exceptions always wait for staff.
    pub refund_auto_approve_fen: i64,
    /// The first reply to a complaint is due within this many hours.
    pub complaint_reply_hours: i64,
    /// The largest lesson video or audio the back office accepts, in MiB.
    pub media_upload_mb: i64,
    /// Lesson media responses one viewer (an account, or an address when anonymous) may have
    /// streaming at once, and one address for all its viewers (a school or carrier NAT).
    pub media_streams_per_viewer: i64,
    pub media_streams_per_ip: i64,
    /// Behind the kit's nginx: after its checks the shop answers lesson bytes with an
    /// X-Accel-Redirect and nginx sends them (from the media directory, or from the bucket by a
    /// presigned URL). Off, the shop streams them itself.
    pub media_accel: bool,
    /// Hours between automatic SQLite backups into `<data_dir>/backups` (0: none).
    pub backup_every_hours: i64,
    /// Refund the current membership period pro rata (by default it is kept).
    pub membership_refund_current_period: bool,
    /// Consultations are refunded in full up to this many hours before the slot.
    pub consultation_cancel_hours: i64,
    /// A buyer may review a course once they have studied this share of it.
    pub review_min_progress_pct: i64,
    /// How many photos a review may carry (0: none).
    pub review_photos: i64,
    /// Members are reminded this many days before their membership ends.
    pub membership_reminder_days: i64,
    /// Live sessions and consultations are announced this many minutes before they start.
    pub reminder_lead_minutes: i64,
    /// The WeChat Pay merchant file (see README); WeChat Pay is offered when it is complete.
    pub wechatpay_config: Option<PathBuf>,
    /// The SMS providers' TOML file (`sms::config`); without it texts go to the console.
    pub sms_config: Option<PathBuf>,
    /// Object storage for media and uploads (`media::object_store`); without it, the data dir.
    pub storage_config: Option<PathBuf>,
    /// The Alipay merchant file (see README); Alipay is offered when it is complete.
    pub alipay_config: Option<PathBuf>,
}

/// What `kedian.toml` may hold; all optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<String>,
    demo: Option<bool>,
    public_url: Option<String>,
    redis_url: Option<String>,
    session_key: Option<String>,
    cookie_secure: Option<bool>,
    session_idle_days: Option<i64>,
    session_lifetime_days: Option<i64>,
    sms_sender: Option<String>,
    log_format: Option<String>,
    metrics_token: Option<String>,
    trust_forwarded: Option<bool>,
    order_ttl_minutes: Option<i64>,
    allow_sandbox: Option<bool>,
    job_interval_secs: Option<i64>,
    refund_auto_approve_fen: Option<i64>,
    complaint_reply_hours: Option<i64>,
    media_upload_mb: Option<i64>,
    media_streams_per_viewer: Option<i64>,
    media_streams_per_ip: Option<i64>,
    media_accel: Option<bool>,
    backup_every_hours: Option<i64>,
    membership_refund_current_period: Option<bool>,
    consultation_cancel_hours: Option<i64>,
    review_min_progress_pct: Option<i64>,
    review_photos: Option<i64>,
    membership_reminder_days: Option<i64>,
    reminder_lead_minutes: Option<i64>,
    wechatpay_config: Option<String>,
    sms_config: Option<String>,
    storage_config: Option<String>,
    alipay_config: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("demo", &self.demo)
            .field("public_url", &self.public_url)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("session_key", &self.session_key.as_ref().map(|_| "<set>"))
            .field("cookie_secure", &self.cookie_secure)
            .field("session_idle_days", &self.session_idle_days)
            .field("session_lifetime_days", &self.session_lifetime_days)
            .field("sms_sender", &self.sms_sender)
            .field("log_format", &self.log_format)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "<set>"))
            .field("trust_forwarded", &self.trust_forwarded)
            .field("order_ttl_minutes", &self.order_ttl_minutes)
            .field("allow_sandbox", &self.allow_sandbox)
            .field("job_interval_secs", &self.job_interval_secs)
            .field("refund_auto_approve_fen", &self.refund_auto_approve_fen)
            .field("complaint_reply_hours", &self.complaint_reply_hours)
            .field("media_upload_mb", &self.media_upload_mb)
            .field("media_streams_per_viewer", &self.media_streams_per_viewer)
            .field("media_streams_per_ip", &self.media_streams_per_ip)
            .field("media_accel", &self.media_accel)
            .field("backup_every_hours", &self.backup_every_hours)
            .field("membership_refund_current_period", &self.membership_refund_current_period)
            .field("consultation_cancel_hours", &self.consultation_cancel_hours)
            .field("review_min_progress_pct", &self.review_min_progress_pct)
            .field("review_photos", &self.review_photos)
            .field("membership_reminder_days", &self.membership_reminder_days)
            .field("reminder_lead_minutes", &self.reminder_lead_minutes)
            .field("wechatpay_config", &self.wechatpay_config)
            .field("sms_config", &self.sms_config)
            .field("storage_config", &self.storage_config)
            .field("alipay_config", &self.alipay_config)
            .finish()
    }
}

/// Hides the password part of `scheme://user:password@host/...`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((creds, host)) => {
            let user = creds.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_string(),
    }
}

impl Settings {
    /// Reads `kedian.toml` (or the file named by `KEDIAN_CONFIG`) and the process environment.
    pub fn load() -> anyhow::Result<Self> {
        let env: HashMap<String, String> = std::env::vars().collect();
        let path = env.get("KEDIAN_CONFIG").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("kedian.toml"));
        let file = if path.exists() {
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            Some(text)
        } else {
            None
        };
        Self::from_sources(file.as_deref(), &env)
    }

    /// Builds settings from the text of a config file and an environment map.
    pub fn from_sources(file: Option<&str>, env: &HashMap<String, String>) -> anyhow::Result<Self> {
        let file: FileSettings = match file {
            Some(text) => toml::from_str(text).context("kedian.toml is not valid")?,
            None => FileSettings::default(),
        };
        for name in env.keys().filter(|k| k.starts_with("KEDIAN_")) {
            let key = name["KEDIAN_".len()..].to_ascii_lowercase();
            if !KEYS.contains(&key.as_str()) {
                tracing::warn!(variable = %name, "unknown KEDIAN_ variable ignored");
            }
        }
        let var = |key: &str| env.get(&format!("KEDIAN_{}", key.to_ascii_uppercase())).cloned();
        let flag = |key: &str, from_file: Option<bool>, default: bool| -> anyhow::Result<bool> {
            match var(key) {
                Some(v) => parse_bool(&v).with_context(|| format!("KEDIAN_{}", key.to_uppercase())),
                None => Ok(from_file.unwrap_or(default)),
            }
        };
        let number = |key: &str, from_file: Option<i64>, default: i64| -> anyhow::Result<i64> {
            match var(key) {
                Some(v) => {
                    v.trim().parse().with_context(|| format!("KEDIAN_{} must be a whole number", key.to_uppercase()))
                }
                None => Ok(from_file.unwrap_or(default)),
            }
        };

        let listen = var("listen").or(file.listen).unwrap_or_else(|| "127.0.0.1:8080".into());
        let data_dir = PathBuf::from(var("data_dir").or(file.data_dir).unwrap_or_else(|| "data".into()));
        let database_url = var("database_url")
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("kedian.db").display()));
        let public_url = var("public_url")
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_string();
        let settings = Settings {
            demo: flag("demo", file.demo, true)?,
            // Secure by default when the shop is served over HTTPS; plain HTTP is the dev default.
            cookie_secure: flag("cookie_secure", file.cookie_secure, public_url.starts_with("https://"))?,
            trust_forwarded: flag("trust_forwarded", file.trust_forwarded, false)?,
            session_idle_days: number("session_idle_days", file.session_idle_days, 7)?,
            session_lifetime_days: number("session_lifetime_days", file.session_lifetime_days, 30)?,
            order_ttl_minutes: number("order_ttl_minutes", file.order_ttl_minutes, 30)?,
            allow_sandbox: flag("allow_sandbox", file.allow_sandbox, false)?,
            job_interval_secs: number("job_interval_secs", file.job_interval_secs, 30)?,
            refund_auto_approve_fen: number("refund_auto_approve_fen", file.refund_auto_approve_fen, 10_000)?,
            complaint_reply_hours: number("complaint_reply_hours", file.complaint_reply_hours, 24)?,
            media_upload_mb: number("media_upload_mb", file.media_upload_mb, 2048)?,
            media_streams_per_viewer: number("media_streams_per_viewer", file.media_streams_per_viewer, 6)?,
            media_streams_per_ip: number("media_streams_per_ip", file.media_streams_per_ip, 64)?,
            media_accel: flag("media_accel", file.media_accel, false)?,
            backup_every_hours: number("backup_every_hours", file.backup_every_hours, 1)?,
            membership_refund_current_period: flag(
                "membership_refund_current_period",
                file.membership_refund_current_period,
                false,
            )?,
            consultation_cancel_hours: number("consultation_cancel_hours", file.consultation_cancel_hours, 24)?,
            review_min_progress_pct: number("review_min_progress_pct", file.review_min_progress_pct, 20)?,
            review_photos: number("review_photos", file.review_photos, 3)?,
            membership_reminder_days: number("membership_reminder_days", file.membership_reminder_days, 7)?,
            reminder_lead_minutes: number("reminder_lead_minutes", file.reminder_lead_minutes, 60)?,
            wechatpay_config: var("wechatpay_config")
                .or(file.wechatpay_config)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            alipay_config: var("alipay_config").or(file.alipay_config).filter(|s| !s.is_empty()).map(PathBuf::from),
            sms_config: var("sms_config").or(file.sms_config).filter(|s| !s.is_empty()).map(PathBuf::from),
            storage_config: var("storage_config").or(file.storage_config).filter(|s| !s.is_empty()).map(PathBuf::from),
            redis_url: var("redis_url").or(file.redis_url).filter(|s| !s.trim().is_empty()),
            session_key: var("session_key").or(file.session_key).filter(|s| !s.trim().is_empty()),
            sms_sender: var("sms_sender").or(file.sms_sender).unwrap_or_default(),
            log_format: var("log_format").or(file.log_format).unwrap_or_default(),
            metrics_token: var("metrics_token").or(file.metrics_token).filter(|s| !s.trim().is_empty()),
            listen,
            data_dir,
            database_url,
            public_url,
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.session_idle_days < 1 || self.session_lifetime_days < self.session_idle_days {
            bail!("session_idle_days must be at least 1 and not above session_lifetime_days");
        }
        if !(1..=24 * 60).contains(&self.order_ttl_minutes) {
            bail!("order_ttl_minutes must be between 1 and 1440");
        }
        if !(1..=3600).contains(&self.job_interval_secs) {
            bail!("job_interval_secs must be between 1 and 3600");
        }
        if self.refund_auto_approve_fen < 0 {
            bail!("refund_auto_approve_fen must not be negative");
        }
        if !(1..=24 * 14).contains(&self.complaint_reply_hours) {
            bail!("complaint_reply_hours must be between 1 and 336");
        }
        if !(0..=24 * 7).contains(&self.backup_every_hours) {
            bail!("backup_every_hours must be between 0 and 168");
        }
        if !(1..=20 * 1024).contains(&self.media_upload_mb) {
            bail!("media_upload_mb must be between 1 and 20480");
        }
        if !(1..=1000).contains(&self.media_streams_per_viewer) || !(1..=100_000).contains(&self.media_streams_per_ip) {
            bail!("media_streams_per_viewer must be 1 to 1000 and media_streams_per_ip 1 to 100000");
        }
        if !(0..=24 * 30).contains(&self.consultation_cancel_hours) {
            bail!("consultation_cancel_hours must be between 0 and 720");
        }
        if !(0..=100).contains(&self.review_min_progress_pct) {
            bail!("review_min_progress_pct must be between 0 and 100");
        }
        if !(0..=9).contains(&self.review_photos) {
            bail!("review_photos must be between 0 and 9");
        }
        if !(1..=90).contains(&self.membership_reminder_days) {
            bail!("membership_reminder_days must be between 1 and 90");
        }
        if !(5..=24 * 60 * 7).contains(&self.reminder_lead_minutes) {
            bail!("reminder_lead_minutes must be between 5 and 10080");
        }
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres")) {
            bail!("database_url must start with sqlite:// or postgres://");
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            bail!("public_url must start with http:// or https://");
        }
        if let Some(key) = &self.session_key
            && key.len() < 32
        {
            bail!("session_key must be at least 32 characters");
        }
        if !matches!(self.log_format.as_str(), "" | "text" | "json") {
            bail!("log_format must be \"text\" or \"json\"");
        }
        match (self.sms_sender.as_str(), &self.sms_config) {
            ("" | "console", _) | ("providers", Some(_)) => {}
            ("providers", None) => bail!("sms_sender = \"providers\" needs sms_config (the providers' TOML file)"),
            _ => bail!("sms_sender must be \"console\" or \"providers\""),
        }
        Ok(())
    }

    /// Texts reach phones through the providers in `sms_config` unless `sms_sender = "console"`.
    pub fn sms_to_console(&self) -> bool {
        self.sms_config.is_none() || self.sms_sender == "console"
    }

    pub fn is_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }

    /// A shop served over HTTPS is taken to be in production: no sandbox payments there unless
    /// `allow_sandbox` says so.
    pub fn is_production(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// `__Host-` when the cookie is Secure: browsers then refuse it unless it came over HTTPS from
    /// this very host with `Path=/` (no subdomain or plain-HTTP page can plant or shadow it).
    pub fn session_cookie_name(&self) -> &'static str {
        if self.cookie_secure { "__Host-kedian_session" } else { "kedian_session" }
    }

    pub fn session_key_path(&self) -> PathBuf {
        self.data_dir.join("session.key")
    }

    /// Where lesson media is kept (never served as static files).
    pub fn media_dir(&self) -> PathBuf {
        self.data_dir.join("media")
    }

    /// Evidence and complaint files (never served as static files).
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// The shop-wide part of the refund policy.
    pub fn policy(&self) -> crate::domain::refund_policy::PolicySettings {
        crate::domain::refund_policy::PolicySettings {
            membership_refund_current_period: self.membership_refund_current_period,
            consultation_cancel_hours: self.consultation_cancel_hours,
        }
    }

    /// Public pictures staff uploaded (covers, logo), served under `/files/`.
    pub fn public_dir(&self) -> PathBuf {
        self.data_dir.join("public")
    }

    pub fn backups_dir(&self) -> PathBuf {
        self.data_dir.join("backups")
    }

    pub fn pages_dir(&self) -> PathBuf {
        self.data_dir.join("pages")
    }
}

fn parse_bool(value: &str) -> anyhow::Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        other => bail!("expected true or false, got {other:?}"),
    }
}

/// Reads the session master key from the data directory, creating it on first start.
pub fn load_or_create_session_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let key = hex::decode(text.trim()).context("session.key is not hex")?;
        if key.len() < 64 {
            bail!("{} holds fewer than 64 bytes", path.display());
        }
        return Ok(key);
    }
    use rand::RngCore;
    let mut key = vec![0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut key);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_private(path, hex::encode(&key).as_bytes())?;
    Ok(key)
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_sources(None, &env(&[])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database_url, "sqlite://data/kedian.db");
        assert_eq!(s.public_url, "http://127.0.0.1:8080");
        assert!(s.demo && !s.cookie_secure);
        assert_eq!((s.session_idle_days, s.session_lifetime_days), (7, 30));
    }

    #[test]
    fn environment_wins_over_file() {
        let file = "listen = \"0.0.0.0:9000\"\ndemo = true\n";
        let s = Settings::from_sources(Some(file), &env(&[("KEDIAN_DEMO", "false")])).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert!(!s.demo);
    }

    #[test]
    fn cookie_is_secure_by_default_behind_https() {
        let s = Settings::from_sources(None, &env(&[("KEDIAN_PUBLIC_URL", "https://shop.example/")])).unwrap();
        assert!(s.cookie_secure);
        assert_eq!(s.public_url, "https://shop.example");
        let s = Settings::from_sources(
            None,
            &env(&[("KEDIAN_PUBLIC_URL", "https://shop.example"), ("KEDIAN_COOKIE_SECURE", "false")]),
        )
        .unwrap();
        assert!(!s.cookie_secure);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(Settings::from_sources(None, &env(&[("KEDIAN_DEMO", "maybe")])).is_err());
        assert!(Settings::from_sources(Some("colour = 1"), &env(&[])).is_err());
        assert!(Settings::from_sources(None, &env(&[("KEDIAN_SESSION_KEY", "short")])).is_err());
        assert!(Settings::from_sources(None, &env(&[("KEDIAN_DATABASE_URL", "mysql://x")])).is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = Settings::from_sources(
            None,
            &env(&[
                ("KEDIAN_DATABASE_URL", "postgres://kd:hunter2@db/kedian"),
                ("KEDIAN_SESSION_KEY", "0123456789abcdef0123456789abcdef-secret"),
            ]),
        )
        .unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("secret"), "{printed}");
    }
}
