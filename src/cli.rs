//! The `kedian` command: `serve` (default), `migrate`, `user create-admin`, `user reset-totp`,
//! `media package`.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::auth::password;
use crate::config::Settings;
use crate::domain::Phone;
use crate::domain::text::check_password;
use crate::domain::time::now;
use crate::startup::{Application, prepare_database};
use crate::store::Db;
use crate::store::users::{self, Role};

#[derive(Parser)]
#[command(name = "kedian", version, about = "课店 Kedian: a self-hosted H5 course shop")]
pub struct Cli {
    /// Do not load the demo catalog into a new database (same as KEDIAN_DEMO=false).
    #[arg(long, global = true)]
    no_demo: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop (the default).
    Serve,
    /// Create or update the database schema, then exit.
    Migrate,
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import the mini program's export (docs/import-format.md): a directory of users, courses,
    /// orders, entitlements and progress files (.csv or .jsonl). Running it again updates what
    /// changed and adds nothing twice. Exits with 2 when rows were rejected.
    Import {
        path: std::path::PathBuf,
        /// Check everything and print the report without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Takedown mode: a notice on every page that the mini program is paused and this shop is
    /// where learners' courses are (a running shop picks the change up within a job interval).
    Takedown {
        #[command(subcommand)]
        command: TakedownCommand,
    },
    /// Back up the database now (SQLite: VACUUM INTO plus the uploaded files; PostgreSQL:
    /// pg_dump) into <data_dir>/backups, pruned to 24 hourly and 14 daily; or check a backup.
    Backup {
        #[command(subcommand)]
        command: Option<BackupCommand>,
    },
    /// Put a SQLite backup in place of the database (the shop must be stopped). An existing
    /// database is replaced only with --force, and kept aside.
    Restore {
        /// A backup file, or with --from-bucket the name of one in the bucket's backups/.
        file: std::path::PathBuf,
        #[arg(long)]
        force: bool,
        /// Take the backup from object storage (storage_config) instead of this machine.
        #[arg(long)]
        from_bucket: bool,
    },
    /// Lesson media.
    Media {
        #[command(subcommand)]
        command: MediaCommand,
    },
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Package a lesson as AES-128 encrypted HLS with ffmpeg (a new key for the lesson).
    Package {
        /// The lesson's id (shown in its URL: /courses/<slug>/lessons/<id>).
        lesson: crate::domain::LessonId,
        /// A video file to package instead of the lesson's current one.
        #[arg(long)]
        input: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Integrity check and row counts of a SQLite backup.
    Verify { file: std::path::PathBuf },
}

#[derive(Subcommand)]
enum TakedownCommand {
    /// Turn it on, with the message to show (the default one when omitted).
    On {
        #[arg(long, default_value = "")]
        message: String,
    },
    Off,
    /// Say whether it is on.
    Status,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an admin (or make an existing account admin) and set its password, read from a
    /// prompt, or from the first line of standard input when it is not a terminal.
    CreateAdmin {
        #[arg(long)]
        phone: String,
    },
    /// Clear a staff member's authenticator and recovery codes (the next sign-in enrols again)
    /// and end their sessions: for a lost phone when no other admin can do it in the back office.
    ResetTotp {
        #[arg(long)]
        phone: String,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load()?;
    if cli.no_demo {
        settings.demo = false;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = Db::connect(&settings.database_url).await?;
            let is_new = db.migrate().await?;
            println!("{}", if is_new { "schema created" } else { "schema up to date" });
            Ok(())
        }
        Command::User { command: UserCommand::CreateAdmin { phone } } => create_admin(settings, &phone).await,
        Command::User { command: UserCommand::ResetTotp { phone } } => reset_totp(settings, &phone).await,
        Command::Import { path, dry_run } => import(settings, &path, dry_run).await,
        Command::Takedown { command } => takedown(settings, command).await,
        Command::Backup { command: None } => backup(settings).await,
        Command::Backup { command: Some(BackupCommand::Verify { file }) } => {
            let verified = crate::backup::verify(&file).await?;
            println!("integrity: {}", verified.integrity);
            for (table, n) in &verified.counts {
                println!("{table:<16} {n}");
            }
            if verified.integrity != "ok" {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Restore { file, force, from_bucket } => {
            let file = if from_bucket {
                let name = file.to_str().context("backup name")?;
                crate::backup::fetch(&settings, name, &settings.backups_dir()).await?
            } else {
                file
            };
            let target = crate::backup::restore(&settings, &file, force, now()).await?;
            println!("restored {} to {}", file.display(), target.display());
            Ok(())
        }
        Command::Media { command: MediaCommand::Package { lesson, input } } => {
            settings.demo = false;
            let db = prepare_database(&settings).await?;
            let store = crate::media::storage::open_store(&settings, "media")?;
            let done = crate::media::package::package(&db, store.as_ref(), lesson, input).await?;
            println!("lesson {lesson}: {} encrypted segments in {}", done.segments, done.dir);
            db.close().await;
            Ok(())
        }
    }
}

async fn backup(mut settings: Settings) -> anyhow::Result<()> {
    settings.demo = false;
    let db = prepare_database(&settings).await?;
    let (made, pruned) = crate::backup::make_and_ship(&db, &settings, now()).await?;
    db.close().await;
    println!("database: {}", made.database.display());
    if let Some(files) = made.files {
        println!("files: {}", files.display());
    }
    if settings.storage_config.is_some() {
        println!("copied to the bucket's backups/");
    }
    if pruned > 0 {
        println!("{pruned} older backups removed (kept: 24 hourly, 14 daily)");
    }
    Ok(())
}

async fn takedown(mut settings: Settings, command: TakedownCommand) -> anyhow::Result<()> {
    use crate::domain::shop::ShopSettings;
    use crate::store::shop_settings;
    settings.demo = false;
    let db = prepare_database(&settings).await?;
    let pairs = match &command {
        TakedownCommand::On { message } => {
            if message.chars().count() > 200 {
                bail!("the message is longer than 200 characters");
            }
            Some(crate::routes::admin::takedown::takedown_pairs(true, message))
        }
        TakedownCommand::Off => Some(crate::routes::admin::takedown::takedown_pairs(false, "")),
        TakedownCommand::Status => None,
    };
    if let Some(pairs) = pairs {
        shop_settings::save(&db, &pairs, now()).await?;
        // Running shops on PostgreSQL switch at once; on SQLite the shop's refresh picks it up.
        crate::store::changes::announce(&db, crate::store::changes::SETTINGS).await?;
    }
    let current = ShopSettings::from_pairs(&shop_settings::all(&db).await?);
    match current.takedown {
        Some(message) if message.is_empty() => {
            println!("takedown mode is on: {}", crate::domain::shop::TAKEDOWN_DEFAULT)
        }
        Some(message) => println!("takedown mode is on: {message}"),
        None => println!("takedown mode is off"),
    }
    db.close().await;
    Ok(())
}

async fn import(mut settings: Settings, path: &std::path::Path, dry_run: bool) -> anyhow::Result<()> {
    settings.demo = false;
    let db = prepare_database(&settings).await?;
    let started = std::time::Instant::now();
    let report = crate::import::run(&db, path, dry_run, &Bars::default()).await?;
    if !dry_run {
        crate::store::changes::announce(&db, crate::store::changes::CATALOG).await?;
    }
    db.close().await;
    print!("{}", report.text());
    println!("took {:.1} s", started.elapsed().as_secs_f64());
    if report.total_rejected() > 0 {
        std::process::exit(2);
    }
    Ok(())
}

/// A progress bar per phase, on standard error when it is a terminal.
#[derive(Default)]
struct Bars(std::sync::Mutex<Option<indicatif::ProgressBar>>);

impl crate::import::Progress for Bars {
    fn start(&self, file: &str, bytes: u64) {
        let bar = indicatif::ProgressBar::new(bytes);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg:>18} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(file.to_string());
        if let Ok(mut current) = self.0.lock() {
            *current = Some(bar);
        }
    }

    fn advance(&self, done: u64) {
        if let Ok(current) = self.0.lock()
            && let Some(bar) = current.as_ref()
        {
            bar.inc(done);
        }
    }

    fn finish(&self) {
        if let Ok(mut current) = self.0.lock()
            && let Some(bar) = current.take()
        {
            bar.finish();
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let public_url = settings.public_url.clone();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "课店 Kedian is open at {public_url}");
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn create_admin(mut settings: Settings, phone: &str) -> anyhow::Result<()> {
    let phone = Phone::parse(phone).map_err(|_| anyhow::anyhow!("not a mainland mobile number: {phone}"))?;
    settings.demo = false;
    let db = prepare_database(&settings).await?;
    let password = read_password()?;
    check_password(&password).map_err(|e| anyhow::anyhow!("password rejected ({e:?}): at least 8 characters"))?;
    let hash = password::hash(password).await?;
    match users::find_by_phone(&db, &phone).await? {
        Some(user) => {
            users::set_password_and_role(&db, user.id, &hash, Role::Admin, now()).await?;
            println!("{} is now an admin; password updated", phone.masked());
        }
        None => {
            users::create(&db, &phone, "管理员", Some(&hash), Role::Admin, now()).await?;
            println!("admin {} created", phone.masked());
        }
    }
    db.close().await;
    Ok(())
}

async fn reset_totp(mut settings: Settings, phone: &str) -> anyhow::Result<()> {
    let phone = Phone::parse(phone).map_err(|_| anyhow::anyhow!("not a mainland mobile number: {phone}"))?;
    settings.demo = false;
    let db = prepare_database(&settings).await?;
    let user = users::find_by_phone(&db, &phone).await?.filter(|u| u.is_staff());
    let Some(user) = user else { bail!("{} is not a staff account", phone.masked()) };
    crate::store::staff::reset_totp(&db, user.id, now()).await?;
    println!("{}: authenticator cleared; the next sign-in sets it up again", phone.masked());
    db.close().await;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        if first != again {
            bail!("the passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
