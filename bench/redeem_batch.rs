//! How long a batch of redeem codes takes: making it (derive, hash and insert every code in one
//! transaction, what `POST /admin/redeem` does) and writing its CSV export (what
//! `GET /admin/redeem/{id}/codes.csv` streams), on the database given. `bench/redeem.sh` runs it on
//! SQLite and PostgreSQL.
//!
//!   cargo run --release --example redeem_batch -- --database sqlite:///tmp/r.db?mode=rwc --codes 100000 --rounds 3

use std::time::Instant;

use clap::Parser;
use kedian::domain::phone::Phone;
use kedian::domain::staff::Role;
use kedian::domain::time::now;
use kedian::domain::{CourseId, RedeemBatchId};
use kedian::routes::admin::redeem::ExportRows;
use kedian::store::redeem::{NewBatch, create_batch};
use kedian::store::{Db, demo, users};

#[derive(Parser)]
struct Cli {
    /// A new (empty) database: the demo catalog and a staff account are put in it.
    #[arg(long)]
    database: String,
    #[arg(long, default_value_t = 100_000)]
    codes: i64,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let db = Db::connect(&cli.database).await?;
    db.migrate().await?;
    demo::seed_catalog(&db, now()).await?;
    let staff = users::create(
        &db,
        &Phone::parse("13900000099").map_err(|e| anyhow::anyhow!("{e:?}"))?,
        "bench",
        None,
        Role::Operator,
        now(),
    )
    .await?;
    let key = [7u8; 32];
    println!("| round | make {} codes (s) | export them as CSV (s) | CSV bytes |", cli.codes);
    println!("|---|---|---|---|");
    for round in 1..=cli.rounds {
        let new = NewBatch {
            course_id: CourseId(1),
            channel: "淘宝",
            quantity: cli.codes,
            valid_from: now(),
            valid_until: now() + 86_400,
            created_by: staff.id,
        };
        let started = Instant::now();
        let id: RedeemBatchId = create_batch(&db, &new, &key, now()).await?;
        let made = started.elapsed().as_secs_f64();
        let rows = ExportRows {
            key: key.to_vec(),
            batch: id,
            channel: "淘宝".into(),
            marked: kedian::store::redeem::marked_codes(&db, id)
                .await?
                .into_iter()
                .map(|(seq, r, d)| (seq, (r, d)))
                .collect(),
            words: ["未使用", "已兑换", "已停用"],
        };
        let started = Instant::now();
        let mut bytes = 0;
        for start in (0..cli.codes).step_by(2000) {
            bytes += rows.chunk(start..(start + 2000).min(cli.codes)).len();
        }
        let exported = started.elapsed().as_secs_f64();
        println!("| {round} | {made:.2} | {exported:.2} | {bytes} |");
    }
    Ok(())
}
