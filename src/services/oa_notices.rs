//! Telling buyers through the official account: when takedown mode is switched on (once per day
//! the switch is thrown) or a service-notice broadcast goes out, every buyer who follows the
//! account (matched by unionid or openid) gets the operator's template message, through the
//! outbox.

use std::sync::Arc;

use crate::domain::time::{shanghai_date_compact, shanghai_minutes};
use crate::domain::{BroadcastId, CourseId};
use crate::pay::wechatpay::WechatPay;
use crate::pay::wechatpay::official_account::BATCH;
use crate::store::Db;
use crate::store::wechat_outbox::{self, Payload};

/// A template's `thing` field holds at most 20 characters.
const THING_CHARS: usize = 20;

/// What the takedown notice says and where it leads.
pub fn takedown_payload(message: &str, public_url: &str, now: i64) -> Payload {
    let mut thing: String = message.chars().take(THING_CHARS).collect();
    if message.chars().count() > THING_CHARS {
        thing.pop();
        thing.push('…');
    }
    Payload {
        url: format!("{public_url}/me/courses"),
        fields: vec![("thing1".into(), thing), ("time2".into(), shanghai_minutes(now))],
    }
}

/// Queues the notice for every buyer among the followers last fetched (the job refreshes them
/// daily, staff at will), once per Shanghai day the switch is thrown; the outbox job sends.
/// Returns how many were queued.
pub async fn queue_takedown_notice(
    db: &Db,
    template_id: &str,
    payload: &Payload,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let event = format!("takedown:{}", shanghai_date_compact(now));
    queue(db, &event, template_id, payload, None, now).await
}

/// A service-notice broadcast (where the shop is now), to the following buyers of `course` or of
/// anything. Marketing broadcasts never go this way: WeChat's rules keep template messages for
/// service notices.
pub async fn queue_broadcast(
    db: &Db,
    broadcast_id: BroadcastId,
    template_id: &str,
    payload: &Payload,
    course: Option<CourseId>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    queue(db, &format!("broadcast:{broadcast_id}"), template_id, payload, course, now).await
}

async fn queue(
    db: &Db,
    event: &str,
    template_id: &str,
    payload: &Payload,
    course: Option<CourseId>,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let body = serde_json::to_string(payload).unwrap_or_default();
    let queued = wechat_outbox::enqueue_for_buyers(db, event, template_id, &body, course, now).await?;
    tracing::info!(queued, event, "notice queued for the official account's followers");
    Ok(queued)
}

/// Fetches the followers again in the background (staff asked for it on the switchover page).
pub fn refresh_in_background(db: Db, wechat: Arc<WechatPay>, now: i64) {
    tokio::spawn(async move {
        match refresh_followers(&db, &wechat, now).await {
            Ok(n) => tracing::info!(followers = n, "official account followers refreshed"),
            Err(e) => tracing::warn!(error = format!("{e:#}"), "could not refresh the official account's followers"),
        }
    });
}

/// Fetches every follower and their unionid; forgets those who unfollowed. Returns how many
/// follow now.
pub async fn refresh_followers(db: &Db, wechat: &WechatPay, now: i64) -> anyhow::Result<usize> {
    let mut next = String::new();
    let mut total = 0;
    loop {
        let (openids, more) = wechat.followers(&next, now).await?;
        for chunk in openids.chunks(BATCH) {
            let followers = wechat.follower_info(chunk, now).await?;
            total += followers.iter().filter(|f| f.subscribed).count();
            wechat_outbox::save_followers(db, &followers, now).await?;
        }
        match more {
            Some(n) if n != next => next = n,
            _ => break,
        }
    }
    wechat_outbox::forget_unseen(db, now).await?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_fits_the_template() {
        let long = "小程序暂停服务期间，你购买的课程都在这里，学习进度也已保留。";
        let p = takedown_payload(long, "https://shop.example", 1_796_000_000);
        assert_eq!(p.url, "https://shop.example/me/courses");
        assert_eq!(p.fields[0].1.chars().count(), 20);
        assert!(p.fields[0].1.ends_with('…'));
        assert_eq!(takedown_payload("课程在这里", "", 0).fields[0].1, "课程在这里");
        assert_eq!(p.fields[1].0, "time2");
    }
}
