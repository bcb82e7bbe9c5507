//! Learning: the lesson player, protected media delivery, progress reports, and "my learning".

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue, X_CONTENT_TYPE_OPTIONS,
};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::catalog::{Course, Lesson};
use crate::domain::catalog::LessonKind;
use crate::domain::media::{self, Grant, URL_TTL_SECS};
use crate::domain::membership::covers;
use crate::domain::product::Delivery;
use crate::domain::qa::moment_in_lesson;
use crate::domain::text::Clock;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{CourseId, LessonId, UserId};
use crate::error::AppError;
use crate::media::article::SanitizedHtml;
use crate::store::lessons::{self, Progress};
use crate::web::{AppState, LoggedIn, Meta, PageContext, render};

/// How long before and after its start a live session counts as "live".
const LIVE_EARLY_SECS: i64 = 15 * 60;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(lesson_page).service(media_file).service(report_progress).service(player_error).service(my_courses);
}

/// May this viewer have this lesson's content (`Lesson::may_watch`)? A free preview needs no
/// lookup.
pub(crate) async fn can_learn(
    state: &AppState,
    user_id: Option<UserId>,
    course: &Course,
    lesson: &Lesson,
) -> Result<bool, AppError> {
    if lesson.may_watch(course.published, false) {
        return Ok(true);
    }
    let Some(uid) = user_id else { return Ok(false) };
    let at = now();
    let since = state.access.learning_since(&state.db, uid, course, at).await?;
    Ok(since.is_some_and(|since| lesson.locked_until(since, at).is_none()))
}

pub enum LiveState {
    Upcoming,
    Live,
    Replay,
}

#[derive(Template)]
#[template(path = "learn/lesson.html")]
struct LessonPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: Arc<Course>,
    lesson: Lesson,
    allowed: bool,
    owner: bool,
    media_url: String,
    hls_url: String,
    article: Option<SanitizedHtml>,
    notes: String,
    live_url: String,
    live_state: Option<LiveState>,
    /// The lesson carries an assignment (课后作业).
    has_assignment: bool,
    watermark: String,
    resume_secs: i64,
    /// The learner's start, for scheduled lessons; and when this one opens, if it is shut now.
    since: Option<i64>,
    opens_at: Option<i64>,
    now: i64,
    progress: HashMap<LessonId, Progress>,
    prev: Option<Lesson>,
    next: Option<Lesson>,
}

impl LessonPage<'_> {
    fn duration(&self, secs: &i64) -> Clock {
        Clock(*secs)
    }

    fn done(&self, lesson_id: &LessonId) -> bool {
        self.progress.get(lesson_id).is_some_and(|p| p.completed)
    }

    fn starts(&self) -> String {
        self.lesson.starts_at.map(shanghai_minutes).unwrap_or_default()
    }

    /// When a lesson of the syllabus opens to this owner, if it is still shut.
    fn opens(&self, lesson: &Lesson) -> Option<String> {
        // Without the year: the syllabus has little room, and schedules run weeks, not years.
        self.since
            .and_then(|since| lesson.locked_until(since, self.now))
            .map(|t| shanghai_minutes(t).chars().skip(5).collect())
    }

    fn opens_at_text(&self) -> String {
        self.opens_at.map(shanghai_minutes).unwrap_or_default()
    }

    fn completed_count(&self) -> usize {
        self.progress.values().filter(|p| p.completed).count()
    }

    fn preview_key(&self, lesson: &Lesson) -> &'static str {
        lesson.preview_label_key()
    }

    /// A player is shown: a video or audio lesson this viewer may play, with a file or HLS.
    fn has_player(&self) -> bool {
        self.allowed && self.lesson.kind.is_media() && !(self.media_url.is_empty() && self.hls_url.is_empty())
    }

    /// The page sells the course (a buy bar, and a paywall when a preview ends).
    fn sells(&self) -> bool {
        !self.owner && self.course.published
    }

    fn direct_buy(&self) -> bool {
        self.course.bought_directly()
    }

    fn preview_end_key(&self) -> &'static str {
        if self.lesson.kind == LessonKind::Audio { "preview_ended_audio" } else { "preview_ended" }
    }
}

/// `?t=` on a lesson's address: a moment of its media.
#[derive(Deserialize, Default)]
#[serde(default)]
struct OpenAt {
    t: Option<String>,
}

#[get("/courses/{slug}/lessons/{id}")]
async fn lesson_page(
    ctx: PageContext,
    path: web::Path<(crate::domain::numbers::Slug, LessonId)>,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (slug, id) = path.into_inner();
    let catalog = state.catalog.snapshot();
    let (course, lesson) = catalog.lesson(id).ok_or(AppError::NotFound)?;
    if course.slug != slug.as_str() {
        return Err(AppError::NotFound);
    }
    let (course, mut lesson) = (course.clone(), lesson.clone());
    let user_id = ctx.user.as_ref().map(|u| u.id);
    let at = now();
    let since = match user_id {
        Some(uid) => state.access.learning_since(&state.db, uid, &course, at).await?,
        None => None,
    };
    // A cohort may hold this live lesson at its own time, in its own room.
    let session = match user_id {
        Some(uid) => state.access.cohort_of(&state.db, uid, &course).await?.and_then(|c| c.session(lesson.id)).cloned(),
        None => None,
    };
    if let Some(session) = &session {
        lesson.starts_at = Some(session.starts_at);
    }
    let owner = since.is_some();
    // A scheduled lesson stays shut to its owner until its moment: no content, no media URL.
    let opens_at = since.and_then(|since| lesson.locked_until(since, at));
    if !course.published && !owner {
        // Off sale: only the learners who bought it still see it.
        return Err(AppError::NotFound);
    }
    let allowed = lesson.may_watch(course.published, owner) && opens_at.is_none();
    let content = if allowed {
        state.lessons.content(&state.db, lesson.id).await?.unwrap_or_default()
    } else {
        Default::default()
    };
    let grant = Grant { user_id: user_id.map_or(0, |u| u.0), lesson_id: lesson.id, expires_at: now() + URL_TTL_SECS };
    let query = media::sign_query(&state.media_key, &grant);
    // A paid lesson's page carries no media URL at all for someone who may not watch it.
    let media_url = match (&content.media_key, lesson.kind) {
        (Some(_), LessonKind::Audio) => format!("/media/{}/main.m4a?{query}", lesson.id),
        (Some(_), _) => format!("/media/{}/main.mp4?{query}", lesson.id),
        (None, _) => String::new(),
    };
    let hls_url =
        if content.hls_dir.is_some() { format!("/media/{}/index.m3u8?{query}", lesson.id) } else { String::new() };
    let progress = match user_id {
        Some(uid) if allowed => state.progress.course_progress(&state.db, uid, course.id).await?,
        _ => HashMap::new(),
    };
    // A note's link (`?t=`) opens the media at its moment; otherwise where the learner left off.
    let open_at: OpenAt = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let asked = open_at
        .t
        .as_deref()
        .and_then(crate::domain::qa::parse_moment)
        .filter(|t| moment_in_lesson(*t, lesson.duration_secs));
    let resume_secs = asked.unwrap_or_else(|| progress.get(&lesson.id).map(|p| p.last_position_secs).unwrap_or(0));
    let watermark = match &ctx.user {
        Some(u) => format!("{} · ID {}", u.phone.masked(), u.id),
        None => ctx.t("watermark_guest").to_string(),
    };
    let live_state = lesson.starts_at.map(|at| {
        let t = now();
        if t < at - LIVE_EARLY_SECS {
            LiveState::Upcoming
        } else if t <= at + lesson.duration_secs {
            LiveState::Live
        } else {
            LiveState::Replay
        }
    });
    // After the session its recording, once staff attach it, plays like a recorded lesson.
    if matches!(live_state, Some(LiveState::Replay)) && content.media_key.is_some() {
        lesson.kind = LessonKind::Video;
    }
    let (prev, next) = course.neighbours(lesson.id);
    let (prev, next) = (prev.cloned(), next.cloned());
    // The player's reports, and 立即购买 for a signed-in learner who does not own the course.
    let ctx = if ctx.user.is_some() { ctx.with_csrf()? } else { ctx };
    let title = format!("{} - {}", lesson.title, course.title);
    let meta = ctx.meta(&title, &course.subtitle);
    render(&LessonPage {
        meta,
        article: content.body.as_deref().map(SanitizedHtml::from_markdown),
        notes: content.notes,
        live_url: match (owner && allowed, session.and_then(|s| s.live_url)) {
            (true, Some(room)) => room,
            (true, None) => content.live_url.unwrap_or_default(),
            (false, _) => String::new(),
        },
        ctx: &ctx,
        course,
        lesson,
        allowed,
        owner,
        media_url,
        hls_url,
        live_state,
        has_assignment: content.assignment.is_some(),
        watermark,
        resume_secs,
        since,
        opens_at,
        now: at,
        progress,
        prev,
        next,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MediaQuery {
    u: String,
    e: String,
    s: String,
}

/// What a viewer over the stream limit is told to wait: streams end as segments finish.
const STREAM_RETRY_SECS: i64 = 5;
/// Who is watching, for the kit's nginx to count streams per viewer when it sends the bytes.
const ACCEL_VIEWER: &str = "X-Kedian-Viewer";

fn denied() -> AppError {
    AppError::Forbidden
}

/// Lesson media: every request (GET, HEAD, any range) checks the signature, that the cookie's
/// viewer is the one the URL was signed for, and the entitlement, before a byte is read.
#[actix_web::route("/media/{lesson_id}/{file}", method = "GET", method = "HEAD")]
async fn media_file(
    ctx: PageContext,
    req: HttpRequest,
    path: web::Path<(LessonId, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (lesson_id, file) = path.into_inner();
    if !media::is_media_file(&file) {
        return Err(AppError::NotFound);
    }
    let q: MediaQuery = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let (Ok(user_id), Ok(expires_at)) = (q.u.parse::<i64>(), q.e.parse::<i64>()) else { return Err(denied()) };
    let grant = Grant { user_id, lesson_id, expires_at };
    if !media::verify(&state.media_key, &grant, &q.s, now()) {
        return Err(denied());
    }
    let viewer = ctx.user.as_ref().map(|u| u.id);
    if user_id != 0 && viewer != Some(UserId(user_id)) {
        return Err(denied());
    }
    let catalog = state.catalog.snapshot();
    let (course, lesson) = catalog.lesson(lesson_id).ok_or(AppError::NotFound)?;
    let allowed = if user_id == 0 {
        lesson.may_watch(course.published, false)
    } else {
        can_learn(&state, viewer, course, lesson).await?
    };
    if !allowed {
        return Err(denied());
    }
    let content = state.lessons.content(&state.db, lesson_id).await?.unwrap_or_default();
    if file == "key" {
        let key = lessons::hls_key(&state.db, lesson_id).await?.ok_or(AppError::NotFound)?;
        return Ok(protected(HttpResponse::Ok(), "application/octet-stream").body(key));
    }
    if media::is_playlist(&file) {
        let dir = content.hls_dir.ok_or(AppError::NotFound)?;
        let key = format!("{dir}/{file}");
        let len = state.media.len(&key).await.map_err(AppError::storage)?.ok_or(AppError::NotFound)?;
        let bytes = state.media.read_range(&key, 0, len.saturating_sub(1)).await.map_err(AppError::storage)?;
        let playlist = String::from_utf8_lossy(&bytes).into_owned();
        let signed = sign_playlist(&playlist, &media::sign_query(&state.media_key, &grant));
        return Ok(protected(HttpResponse::Ok(), media::content_type(&file)).body(signed));
    }
    let key = match file.as_str() {
        "main.mp4" | "main.m4a" => content.media_key.ok_or(AppError::NotFound)?,
        _ => format!("{}/{file}", content.hls_dir.ok_or(AppError::NotFound)?),
    };
    // The uploaded file's own type (an MP3 under `main.m4a`), else the name's.
    let content_type = match media::content_type(&key) {
        "application/octet-stream" => media::content_type(&file),
        by_key => by_key,
    };
    // A body takes a stream slot for as long as it is being sent; HEAD sends none.
    let ip = crate::web::client_ip(&req, state.settings.trust_forwarded);
    let viewer = viewer.map_or_else(|| format!("ip:{ip}"), |id| id.to_string());
    if state.settings.media_accel && req.method() == actix_web::http::Method::GET {
        // The checks are done; nginx sends the bytes (and counts this viewer's streams, by the
        // header, across instances).
        let target = state.media.accel_target(&key, content_type).await.map_err(AppError::storage)?;
        return Ok(protected(HttpResponse::Ok(), content_type)
            .insert_header(("X-Accel-Redirect", target))
            .insert_header((ACCEL_VIEWER, viewer))
            .finish());
    }
    let per_viewer = usize::try_from(state.settings.media_streams_per_viewer).unwrap_or(1);
    let per_ip = usize::try_from(state.settings.media_streams_per_ip).unwrap_or(1);
    let slot = if req.method() == actix_web::http::Method::HEAD {
        None
    } else {
        let slot = state.streams.acquire(viewer, ip, per_viewer, per_ip);
        Some(slot.ok_or(AppError::RateLimited(STREAM_RETRY_SECS))?)
    };
    crate::web::stream::object_response_holding(
        &req,
        state.media.as_ref(),
        &key,
        |b| {
            decorate(b, content_type);
        },
        slot,
    )
    .await
}

fn protected(
    mut builder: actix_web::HttpResponseBuilder,
    content_type: &'static str,
) -> actix_web::HttpResponseBuilder {
    decorate(&mut builder, content_type);
    builder
}

fn decorate(builder: &mut actix_web::HttpResponseBuilder, content_type: &'static str) {
    builder
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CACHE_CONTROL, "private, no-store"))
        .insert_header((X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((CONTENT_DISPOSITION, "inline"))
        .insert_header((ACCEPT_RANGES, "bytes"));
}

/// Appends the viewer's signature to every segment and key URI of an HLS playlist.
pub fn sign_playlist(playlist: &str, query: &str) -> String {
    playlist
        .lines()
        .map(|line| {
            if line.starts_with("#EXT-X-KEY") {
                line.replace("URI=\"key\"", &format!("URI=\"key?{query}\""))
            } else if !line.starts_with('#') && media::is_media_file(line.trim()) {
                format!("{}?{query}", line.trim())
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[derive(Deserialize)]
struct ProgressReport {
    position: i64,
    duration: i64,
}

#[post("/progress/{lesson_id}")]
async fn report_progress(
    ctx: PageContext,
    req: HttpRequest,
    lesson_id: web::Path<LessonId>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    crate::web::csrf::check_header(&req)?;
    let user = ctx.user.as_ref().ok_or(AppError::Forbidden)?;
    let lesson_id = lesson_id.into_inner();
    let report: ProgressReport = serde_json::from_slice(&body).map_err(|_| AppError::BadRequest)?;
    if report.duration <= 0
        || report.duration > 24 * 3600
        || report.position < 0
        || report.position > report.duration + 5
    {
        return Err(AppError::BadRequest);
    }
    let catalog = state.catalog.snapshot();
    let (course, lesson) = catalog.lesson(lesson_id).ok_or(AppError::NotFound)?;
    if !can_learn(&state, Some(user.id), course, lesson).await? {
        return Err(AppError::Forbidden);
    }
    let t = now();
    // Articles report the share read (of 100), credited no faster than a quick reader reads the
    // text; media report seconds, checked against the duration the shop measured and credited no
    // faster than the media can play.
    let content = state.lessons.content(&state.db, lesson_id).await?;
    let progress = state.progress.course_progress(&state.db, user.id, course.id).await?;
    let previous = progress.get(&lesson_id).map(|p| (p.furthest_secs, p.updated_at));
    let (duration, furthest) = if lesson.kind == LessonKind::Article {
        let chars = content.as_ref().and_then(|c| c.body.as_deref()).map_or(0, |b| b.chars().count());
        let share = report.position.min(report.duration).min(100);
        (100, media::credited_share(previous, share, t, media::reading_secs(chars)))
    } else {
        let duration = content.and_then(|c| c.media_duration_secs).unwrap_or(report.duration);
        (duration, media::credited_furthest(previous, report.position.min(duration), t))
    };
    let position = report.position.min(duration);
    state.progress.offer(lessons::ProgressRow {
        user_id: user.id,
        lesson_id,
        course_id: course.id,
        last_position_secs: position,
        furthest_secs: furthest,
        duration_secs: duration,
        completed_at: media::is_complete(furthest, duration).then_some(t),
        updated_at: t,
    });
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct PlayerError {
    reason: String,
}

/// A player that could not load its media says why, for staff reading the log (the learner sees
/// 重试). Nothing is stored.
#[post("/lessons/{lesson_id}/player-error")]
async fn player_error(
    ctx: PageContext,
    req: HttpRequest,
    lesson_id: web::Path<LessonId>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    crate::web::csrf::check_header(&req)?;
    let user = ctx.user.as_ref().ok_or(AppError::Forbidden)?;
    let report: PlayerError = serde_json::from_slice(&body).map_err(|_| AppError::BadRequest)?;
    let reason: String = report.reason.chars().filter(|c| !c.is_control()).take(200).collect();
    let agent = req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let agent: String = agent.chars().take(200).collect();
    tracing::warn!(lesson_id = %lesson_id, user_id = %user.id, reason, agent, "a lesson's media did not play");
    Ok(HttpResponse::NoContent().finish())
}

pub struct OwnedCourse {
    pub course: Arc<Course>,
    pub completed: usize,
    pub total: usize,
    pub continue_lesson: Option<Lesson>,
    pub last_studied: String,
    /// The learner's cohort (营期) and its lesson of today, for a course sold in cohorts.
    pub cohort: Option<(String, Option<Lesson>)>,
}

#[derive(Template)]
#[template(path = "learn/my_courses.html")]
struct MyCoursesPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    courses: Vec<OwnedCourse>,
    /// 会员专区: the courses the running membership opens that are not the learner's own, and
    /// when it ends (Beijing time).
    member_courses: Vec<OwnedCourse>,
    member_until: Option<String>,
}

fn owned_course(course: &Arc<Course>, progress: &HashMap<LessonId, Progress>) -> OwnedCourse {
    let last = progress.values().map(|p| p.updated_at).max();
    OwnedCourse {
        completed: course.lessons().filter(|l| progress.get(&l.id).is_some_and(|p| p.completed)).count(),
        total: course.lesson_count(),
        continue_lesson: continue_with(course, progress),
        last_studied: last.map(shanghai_minutes).unwrap_or_default(),
        course: course.clone(),
        cohort: None,
    }
}

/// The lesson to continue with: the one studied last if unfinished, else the first not completed.
pub fn continue_with(course: &Course, progress: &HashMap<LessonId, Progress>) -> Option<Lesson> {
    let last = progress.iter().max_by_key(|(_, p)| p.updated_at).map(|(id, p)| (*id, p.completed));
    if let Some((id, false)) = last
        && let Some(l) = course.lessons().find(|l| l.id == id)
    {
        return Some(l.clone());
    }
    course
        .lessons()
        .find(|l| !progress.get(&l.id).is_some_and(|p| p.completed))
        .or_else(|| course.lessons().next())
        .cloned()
}

#[get("/me/courses")]
async fn my_courses(LoggedIn(ctx, user): LoggedIn, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let catalog = state.catalog.snapshot();
    let mut courses = Vec::new();
    let mut all_progress = state.progress.all_progress(&state.db, user.id).await?;
    // Most recently studied first, then most recently granted.
    let held = state.access.owned(&state.db, user.id).await?;
    let mut owned: Vec<(CourseId, i64)> = held
        .iter()
        .map(|held| {
            let studied = all_progress.get(&held.course_id).and_then(|p| p.values().map(|p| p.updated_at).max());
            (held.course_id, studied.unwrap_or(held.granted_at))
        })
        .collect();
    owned.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (course_id, _) in &owned {
        // A membership plan is shown as the 会员专区 below, and a bundle as its courses (each owned
        // too), not as a course without lessons.
        let lessons = |c: &&std::sync::Arc<crate::catalog::Course>| {
            !matches!(c.kind.delivery(), Delivery::MemberTerm | Delivery::Courses)
        };
        let Some(course) = catalog.course_by_id(*course_id).filter(lessons) else {
            continue;
        };
        let progress = all_progress.remove(course_id).unwrap_or_default();
        let mut view = owned_course(course, &progress);
        let cohort_id = held.iter().find(|h| h.course_id == *course_id).and_then(|h| h.cohort_id);
        if let Some(cohort) = course.cohorts.iter().find(|c| Some(c.id) == cohort_id) {
            view.cohort = Some((cohort.name.clone(), course.todays_lesson(cohort.starts_at, now()).cloned()));
        }
        courses.push(view);
    }
    let timeline = state.access.membership(&state.db, user.id).await?;
    let (mut member_courses, mut member_until) = (Vec::new(), None);
    if let Some(term) = timeline.at(now()) {
        member_until = timeline.ends_at().map(shanghai_minutes);
        for course in catalog.courses.iter().filter(|c| covers(term.scope.0, c.kind, c.member_rule)) {
            if owned.iter().any(|(id, _)| *id == course.id) {
                continue;
            }
            let progress = all_progress.remove(&course.id).unwrap_or_default();
            member_courses.push(owned_course(course, &progress));
        }
        // Studied ones first, most recent first.
        member_courses.sort_by(|a, b| b.last_studied.cmp(&a.last_studied));
    }
    let meta = ctx.meta(&format!("{} - {}", ctx.t("my_courses_title"), ctx.shop_name()), ctx.t("site_description"));
    render(&MyCoursesPage { ctx: &ctx, meta, courses, member_courses, member_until })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_get_signed_uris() {
        let playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-KEY:METHOD=AES-128,URI=\"key\",IV=0x00000000000000000000000000000001\n#EXTINF:4.0,\nseg000.ts\n#EXTINF:2.0,\nseg001.ts\n#EXT-X-ENDLIST\n";
        let signed = sign_playlist(playlist, "u=1&e=2&s=ab");
        assert!(signed.contains("URI=\"key?u=1&e=2&s=ab\""));
        assert!(signed.contains("\nseg000.ts?u=1&e=2&s=ab\n") && signed.contains("\nseg001.ts?u=1&e=2&s=ab\n"));
        assert!(signed.contains("#EXT-X-ENDLIST"));
    }
}
