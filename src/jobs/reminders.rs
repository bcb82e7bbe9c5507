//! Reminders: a membership about to end, a live session or a booked consultation about to start.
//! Each is a site message (and a text, for learners who agreed) sent once per event.

use std::time::Duration;

use crate::catalog::CatalogCache;
use crate::domain::catalog::{Course, Lesson};
use crate::domain::membership::covers;
use crate::domain::message::MessageKind;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{CohortId, UserId};
use crate::store::messages::NewMessage;
use crate::store::{Db, consultations, memberships, reminders};

/// How far ahead each kind is announced.
#[derive(Debug, Clone, Copy)]
pub struct Leads {
    pub membership_days: i64,
    pub event_secs: i64,
}

pub fn spawn(db: Db, catalog: CatalogCache, leads: Leads, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if !super::hold(&db, "reminders", every).await {
                continue;
            }
            crate::telemetry::job_ran("reminders");
            if let Err(e) = run_once(&db, &catalog, leads, now()).await {
                tracing::warn!(error = format!("{e:#}"), "reminders failed; will retry");
            }
        }
    });
}

/// Sends the reminders due at `now`; returns how many went out.
pub async fn run_once(db: &Db, catalog: &CatalogCache, leads: Leads, now: i64) -> anyhow::Result<usize> {
    let mut sent = 0;
    for (user_id, ends_at) in memberships::ending_within(db, now, leads.membership_days).await? {
        let end = shanghai_minutes(ends_at);
        let message = NewMessage {
            user_id,
            kind: MessageKind::MembershipEnding,
            ref_no: &end,
            amount: None,
            note: "",
            link: "/me",
        };
        sent += usize::from(reminders::send_once(db, &format!("membership:{user_id}:{ends_at}"), &message, now).await?);
    }
    let snapshot = catalog.snapshot();
    let soon = |at: i64| at > now && at <= now + leads.event_secs;
    for course in snapshot.all_courses() {
        let any_soon = course.live_sessions().iter().any(|l| l.starts_at.is_some_and(soon))
            || course.cohorts.iter().flat_map(|c| &c.sessions).any(|s| soon(s.starts_at));
        if !any_soon {
            continue;
        }
        let owners = reminders::owners(db, course.id).await?;
        for lesson in course.live_sessions() {
            let Some(starts_at) = lesson.starts_at.filter(|at| soon(*at)) else { continue };
            // Those who bought it (but not a cohort holding it at its own time), and the members
            // whose membership opens it when it starts.
            let own_time = |cohort: Option<CohortId>| {
                course.cohorts.iter().any(|c| Some(c.id) == cohort && c.session(lesson.id).is_some())
            };
            let mut audience: Vec<UserId> =
                owners.iter().filter(|(_, cohort)| !own_time(*cohort)).map(|(user, _)| *user).collect();
            for (user_id, scope) in memberships::members_at(db, starts_at).await? {
                if covers(scope, course.kind, course.member_rule) && !audience.contains(&user_id) {
                    audience.push(user_id);
                }
            }
            sent += live_starting(db, course, lesson, starts_at, &audience, now).await?;
        }
        for cohort in &course.cohorts {
            for session in cohort.sessions.iter().filter(|s| soon(s.starts_at)) {
                let Some(lesson) = course.lessons().find(|l| l.id == session.lesson_id) else { continue };
                let audience: Vec<UserId> =
                    owners.iter().filter(|(_, c)| *c == Some(cohort.id)).map(|(user, _)| *user).collect();
                sent += live_starting(db, course, lesson, session.starts_at, &audience, now).await?;
            }
        }
    }
    for slot in consultations::starting_soon(db, now, leads.event_secs).await? {
        let (Some(user_id), Some(order_no)) = (slot.buyer_id, slot.order_no.as_deref()) else { continue };
        let title = snapshot.course_by_id(slot.course_id).map(|c| c.title.clone()).unwrap_or_default();
        let (when, link) = (shanghai_minutes(slot.starts_at), format!("/orders/{order_no}"));
        let message = NewMessage {
            user_id,
            kind: MessageKind::ConsultationStarting,
            ref_no: &when,
            amount: None,
            note: &title,
            link: &link,
        };
        let key = format!("consultation:{}:{}:{order_no}", slot.id, slot.starts_at);
        sent += usize::from(reminders::send_once(db, &key, &message, now).await?);
    }
    if sent > 0 {
        tracing::info!(sent, "reminders sent");
    }
    Ok(sent)
}

/// A live lesson's reminder to each of `audience`, once per learner and start time.
async fn live_starting(
    db: &Db,
    course: &Course,
    lesson: &Lesson,
    starts_at: i64,
    audience: &[UserId],
    now: i64,
) -> anyhow::Result<usize> {
    let (when, link) = (shanghai_minutes(starts_at), format!("/courses/{}/lessons/{}", course.slug, lesson.id));
    let mut sent = 0;
    for user_id in audience {
        let message = NewMessage {
            user_id: *user_id,
            kind: MessageKind::LiveStarting,
            ref_no: &when,
            amount: None,
            note: &lesson.title,
            link: &link,
        };
        let key = format!("live:{}:{starts_at}:{user_id}", lesson.id);
        sent += usize::from(reminders::send_once(db, &key, &message, now).await?);
    }
    Ok(sent)
}
