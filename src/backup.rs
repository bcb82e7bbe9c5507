//! Backups. On SQLite, `VACUUM INTO` writes a consistent snapshot of the live database (never a
//! file copy, which can catch a half-written page) plus a tar of the uploaded files (refund
//! evidence, complaint pictures, covers, logo); old backups are pruned to 24 hourly and 14 daily.
//! On PostgreSQL, `pg_dump` writes a custom-format dump (restore it with `pg_restore`).
//! `verify` checks a backup's integrity and counts its rows; `restore` puts one in place and
//! refuses to overwrite a database without `--force`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sqlx::Connection;

use crate::config::Settings;
use crate::domain::retention::to_delete;
use crate::domain::time::shanghai_seconds;
use crate::media::object_store::{ObjectStore, StorageConfig};
use crate::media::storage::MediaStore;
use crate::store::{Backend, Db};

/// The tables whose rows `verify` counts: what must never be lost.
pub const COUNTED: [&str; 8] =
    ["users", "orders", "payments", "entitlements", "refund_requests", "complaints", "lesson_progress", "audit_log"];

pub struct Made {
    pub database: PathBuf,
    pub files: Option<PathBuf>,
}

fn stamp(now: i64) -> String {
    shanghai_seconds(now).replace(['-', ':'], "").replace(' ', "-")
}

/// Writes a backup of the database (and, on SQLite, the uploaded files) into `dir`.
pub async fn make(db: &Db, settings: &Settings, dir: &Path, now: i64) -> anyhow::Result<Made> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let stamp = stamp(now);
    match db.backend() {
        Backend::Sqlite => {
            let database = dir.join(format!("kedian-{stamp}.db"));
            if database.exists() {
                bail!("{} exists already", database.display());
            }
            let target = database.to_str().context("backup path is not UTF-8")?.to_string();
            // A read connection: the snapshot does not hold up the writer.
            sqlx::query("VACUUM INTO $1").bind(target).execute(db.read()).await.context("VACUUM INTO")?;
            let files = dir.join(format!("kedian-{stamp}.files.tar"));
            let roots = [("uploads", settings.uploads_dir()), ("public", settings.public_dir())];
            tokio::task::spawn_blocking({
                let files = files.clone();
                move || archive(&files, &roots)
            })
            .await??;
            Ok(Made { database, files: Some(files) })
        }
        Backend::Postgres => {
            let database = dir.join(format!("kedian-{stamp}.pgdump"));
            let status = tokio::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(&database)
                .arg(&settings.database_url)
                .status()
                .await
                .context("running pg_dump (Debian: postgresql-client)")?;
            if !status.success() {
                bail!("pg_dump failed ({status})");
            }
            Ok(Made { database, files: None })
        }
    }
}

fn archive(target: &Path, roots: &[(&str, PathBuf)]) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(std::fs::File::create(target)?);
    for (name, root) in roots {
        if root.is_dir() {
            tar.append_dir_all(name, root).with_context(|| format!("archiving {}", root.display()))?;
        }
    }
    tar.finish()?;
    Ok(())
}

/// Deletes backups in `dir` beyond 24 hourly and 14 daily ones; returns how many went.
pub fn prune(dir: &Path, now: i64) -> anyhow::Result<usize> {
    let mut backups: Vec<(PathBuf, i64)> = Vec::new();
    for entry in std::fs::read_dir(dir)?.filter_map(Result::ok) {
        let path = entry.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with("kedian-") && (name.ends_with(".db") || name.ends_with(".pgdump")) {
            let modified = entry.metadata()?.modified()?;
            let taken = modified.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
            backups.push((path, taken));
        }
    }
    let times: Vec<i64> = backups.iter().map(|(_, t)| *t).collect();
    let gone = to_delete(&times, now);
    for i in &gone {
        let path = &backups[*i].0;
        std::fs::remove_file(path)?;
        let files = path.with_extension("files.tar");
        if files.exists() {
            std::fs::remove_file(files)?;
        }
    }
    Ok(gone.len())
}

pub struct Verified {
    pub integrity: String,
    pub counts: Vec<(&'static str, i64)>,
}

/// Opens a SQLite backup read-only, runs the integrity check and counts the rows that matter.
pub async fn verify(file: &Path) -> anyhow::Result<Verified> {
    if !file.is_file() {
        bail!("{} is not a file", file.display());
    }
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", file.display());
    let mut conn =
        sqlx::AnyConnection::connect(&url).await.with_context(|| format!("cannot open {}", file.display()))?;
    let integrity: String =
        sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.context("not a database")?;
    let mut counts = Vec::new();
    for table in COUNTED {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut conn).await?;
        counts.push((table, n));
    }
    conn.close().await?;
    Ok(Verified { integrity, counts })
}

/// The SQLite file a `sqlite://` URL names.
fn sqlite_file(url: &str) -> anyhow::Result<PathBuf> {
    let path = url.strip_prefix("sqlite://").context("not a SQLite database URL")?;
    Ok(PathBuf::from(path.split('?').next().unwrap_or(path)))
}

/// Puts a verified backup in place of the database. An existing database is moved aside
/// (`…before-restore-<time>`) only with `force`; the shop must be stopped meanwhile.
pub async fn restore(settings: &Settings, file: &Path, force: bool, now: i64) -> anyhow::Result<PathBuf> {
    if settings.database_url.starts_with("postgres") {
        bail!("on PostgreSQL, restore a dump with pg_restore (see README, Backups)");
    }
    let verified = verify(file).await?;
    if verified.integrity != "ok" {
        bail!("{} fails the integrity check: {}", file.display(), verified.integrity);
    }
    let target = sqlite_file(&settings.database_url)?;
    if target.exists() {
        if !force {
            bail!("{} exists; stop the shop and add --force to replace it (it is kept aside)", target.display());
        }
        let aside = PathBuf::from(format!("{}.before-restore-{}", target.display(), stamp(now)));
        std::fs::rename(&target, &aside)?;
        for suffix in ["-wal", "-shm"] {
            let extra = PathBuf::from(format!("{}{suffix}", target.display()));
            if extra.exists() {
                std::fs::rename(&extra, format!("{}{suffix}", aside.display()))?;
            }
        }
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(file, &target).with_context(|| format!("copying to {}", target.display()))?;
    Ok(target)
}

/// The bucket's `backups/` when object storage is configured: backups go off-site too.
pub fn offsite(settings: &Settings) -> anyhow::Result<Option<ObjectStore>> {
    match &settings.storage_config {
        Some(path) => Ok(Some(ObjectStore::open(&StorageConfig::load(path)?, "backups")?)),
        None => Ok(None),
    }
}

/// When a backup was taken, from its name (`kedian-20261130-102233.db`, Shanghai time).
fn taken_at(name: &str) -> Option<i64> {
    let rest = name.strip_prefix("kedian-")?;
    let stamp = rest.strip_suffix(".db").or_else(|| rest.strip_suffix(".pgdump"))?;
    let (date, time) = stamp.split_once('-')?;
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    let value = format!("{}-{}-{} {}:{}:{}", &date[..4], &date[4..6], &date[6..], &time[..2], &time[2..4], &time[4..]);
    crate::domain::time::parse_shanghai_seconds(&value)
}

/// Copies a backup (and its files) to the bucket, then prunes the bucket to the same 24 hourly
/// and 14 daily. Returns how many older backups went.
pub async fn ship(store: &ObjectStore, made: &Made, now: i64) -> anyhow::Result<usize> {
    for file in std::iter::once(&made.database).chain(made.files.iter()) {
        let name = file.file_name().and_then(|n| n.to_str()).context("backup name")?;
        store.copy_file(name, file).await.with_context(|| format!("copying {name} off-site"))?;
    }
    let names: Vec<String> = store.list().await?.into_iter().filter(|n| taken_at(n).is_some()).collect();
    let times: Vec<i64> = names.iter().filter_map(|n| taken_at(n)).collect();
    let gone = to_delete(&times, now);
    for i in &gone {
        store.delete(&names[*i]).await?;
        let files = names[*i].replace(".db", ".files.tar");
        if files != names[*i] {
            store.delete(&files).await?;
        }
    }
    Ok(gone.len())
}

/// Downloads the named backup (and its files) from the bucket into `dir`; returns the database.
pub async fn fetch(settings: &Settings, name: &str, dir: &Path) -> anyhow::Result<PathBuf> {
    let store = offsite(settings)?.context("no storage_config: backups are only on this machine")?;
    if taken_at(name).is_none() {
        bail!("{name} is not a backup's name (kedian-YYYYMMDD-HHMMSS.db)");
    }
    std::fs::create_dir_all(dir)?;
    let database = dir.join(name);
    crate::media::storage::download(&store, name, &database).await?;
    let files = name.replace(".db", ".files.tar");
    if files != name && store.stat(&files).await?.is_some() {
        crate::media::storage::download(&store, &files, &dir.join(&files)).await?;
    }
    Ok(database)
}

/// Makes a backup, prunes, and copies it off-site when object storage is configured.
pub async fn make_and_ship(db: &Db, settings: &Settings, now: i64) -> anyhow::Result<(Made, usize)> {
    let dir = settings.backups_dir();
    let made = make(db, settings, &dir, now).await?;
    let mut pruned = prune(&dir, now)?;
    if let Some(store) = offsite(settings)? {
        pruned += ship(&store, &made, now).await?;
    }
    Ok((made, pruned))
}

/// Hourly backups (when `backup_every_hours` is set) into `<data_dir>/backups` and the bucket,
/// pruned each time. On PostgreSQL they need `pg_dump`, and one instance makes them: the holder of
/// the `backups` lease.
pub fn spawn_scheduled(db: Db, settings: Settings) {
    if settings.backup_every_hours <= 0 {
        return;
    }
    if db.backend() == Backend::Postgres && !pg_dump_installed() {
        tracing::warn!(
            "scheduled backups need pg_dump (Debian: postgresql-client); run `kedian backup` from cron instead"
        );
        return;
    }
    let every = std::time::Duration::from_secs(settings.backup_every_hours.unsigned_abs() * 3600);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match scheduled_once(&db, &settings, every, crate::domain::time::now()).await {
                Ok(Some((made, pruned))) => {
                    tracing::info!(file = %made.database.display(), pruned, "backup made");
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = format!("{e:#}"), "backup failed"),
            }
        }
    });
}

/// One scheduled backup, if this instance holds the `backups` lease (always on SQLite).
pub async fn scheduled_once(
    db: &Db,
    settings: &Settings,
    every: std::time::Duration,
    now: i64,
) -> anyhow::Result<Option<(Made, usize)>> {
    if !crate::jobs::hold(db, "backups", every).await {
        return Ok(None);
    }
    crate::telemetry::job_ran("backups");
    make_and_ship(db, settings, now).await.map(Some)
}

fn pg_dump_installed() -> bool {
    std::process::Command::new("pg_dump")
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_say_when_they_were_taken() {
        let at = 1_795_276_805; // 2026-11-22 00:00:05 in Shanghai
        assert_eq!(taken_at(&format!("kedian-{}.db", stamp(at))), Some(at));
        assert_eq!(taken_at(&format!("kedian-{}.pgdump", stamp(at))), Some(at));
        assert_eq!(taken_at(&format!("kedian-{}.files.tar", stamp(at))), None, "files go with their database");
        assert_eq!(taken_at("kedian-2026.db"), None);
        assert_eq!(taken_at("notes.txt"), None);
    }
}
