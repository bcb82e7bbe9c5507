//! WeChat Pay profit sharing: sends the splits and releases claimed by settlement, and asks after
//! the ones in flight, each under its own `out_order_no` (so a retry is never a second split).

use std::sync::Arc;
use std::time::Duration;

use crate::domain::commission::SplitKind;
use crate::domain::time::now;
use crate::pay::wechatpay::WechatPay;
use crate::pay::wechatpay::profit_sharing::SplitState;
use crate::store::Db;
use crate::store::profit_splits::{self, Split};

pub fn spawn(db: Db, wechat: Arc<WechatPay>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !super::hold(&db, "profit_sharing", every).await {
                continue;
            }
            crate::telemetry::job_ran("profit_sharing");
            if let Err(e) = run_once(&db, &wechat, now()).await {
                tracing::warn!(error = format!("{e:#}"), "profit sharing failed; will retry");
            }
        }
    });
}

pub async fn run_once(db: &Db, wechat: &WechatPay, now: i64) -> anyhow::Result<()> {
    profit_splits::claim_releases(db, now).await?;
    for split in profit_splits::requested(db, 50).await? {
        // Asked first: a request that reached WeChat Pay before a crash is not sent again.
        let state = match wechat.query_split(&split.transaction_id, &split.out_order_no).await? {
            Some(state) => state,
            None => send(wechat, &split).await?,
        };
        match state {
            SplitState::Processing => {}
            SplitState::Finished => {
                profit_splits::finish(db, &split, true, "", now).await?;
                tracing::info!(order_no = %split.order_no, kind = %split.kind, "profit sharing finished");
            }
            SplitState::Failed(reason) => {
                // A refused split is released next run instead; a refused release stays failed.
                profit_splits::finish(db, &split, false, &reason, now).await?;
                tracing::warn!(order_no = %split.order_no, kind = %split.kind, %reason, "profit sharing refused");
            }
        }
    }
    Ok(())
}

async fn send(wechat: &WechatPay, split: &Split) -> anyhow::Result<SplitState> {
    match split.kind {
        SplitKind::Split => {
            wechat.add_receiver(&split.receiver).await?;
            let description = format!("推广佣金 {}", split.order_no);
            wechat.split(&split.transaction_id, &split.out_order_no, &split.receiver, split.amount, &description).await
        }
        SplitKind::Unfreeze => wechat.unfreeze(&split.transaction_id, &split.out_order_no).await,
    }
}
