use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, get, web};
use askama::Template;

use crate::catalog::query::{self, CatalogQuery, ResultPage, Sort};
use crate::catalog::{Catalog, Course, Lesson};
use crate::domain::cohort::Cohort;
use crate::domain::product::Delivery;
use crate::domain::refund_terms::refund_sentence;
use crate::domain::text::Clock;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AttachmentId, CohortId, GroupId, LessonId, ReviewId};
use crate::error::AppError;
use crate::routes::learn::continue_with;
use crate::store::lessons::Progress;
use crate::web::render::render_catalog_page_loading;
use crate::web::{AppState, Meta, PageContext, render_catalog_page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(detail);
}

#[derive(Template)]
#[template(path = "courses/list.html")]
struct ListPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    catalog: Arc<Catalog>,
    query: CatalogQuery,
    result: ResultPage,
    sorts: [Sort; 4],
}

impl ListPage<'_> {
    /// First, last and the neighbours of the current page; `None` stands for a gap.
    fn page_links(&self) -> Vec<Option<PageLink>> {
        let (cur, last) = (self.result.page, self.result.total_pages);
        let mut links: Vec<Option<PageLink>> = Vec::new();
        for n in 1..=last {
            if n == 1 || n == last || n.abs_diff(cur) <= 1 {
                links.push(Some(PageLink { n, href: self.query.href(n), current: n == cur }));
            } else if links.last().is_some_and(Option::is_some) {
                links.push(None);
            }
        }
        links
    }

    fn sort_links(&self) -> Vec<(String, &'static str, bool)> {
        self.sorts.iter().map(|s| (self.query.with_sort(*s).href(1), s.label_key(), *s == self.query.sort)).collect()
    }
}

struct PageLink {
    n: usize,
    href: String,
    current: bool,
}

#[get("/courses")]
async fn list(ctx: PageContext, req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let catalog = state.catalog.snapshot();
    render_catalog_page(&ctx, &catalog, || {
        let query = CatalogQuery::parse(req.query_string());
        let result = query::search(&catalog, &query, query::PER_PAGE);
        let category = query.category.as_deref().and_then(|slug| catalog.category(slug));
        let title = match category {
            Some(category) => format!("{} - {}", category.name, ctx.shop_name()),
            None => format!("{} - {}", ctx.t("nav_courses"), ctx.shop_name()),
        };
        let mut meta = ctx.meta(&title, ctx.t("catalog_description"));
        meta.url = ctx.absolute(&query.href(query.page));
        ListPage { ctx: &ctx, meta, catalog: catalog.clone(), query, result, sorts: Sort::ALL }
    })
}

#[derive(Template)]
#[template(path = "courses/detail.html")]
struct DetailPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: Arc<Course>,
    owned: bool,
    /// Learnable through the running membership, not bought.
    by_membership: bool,
    /// A membership plan's page: the courses it opens.
    opens: Vec<Arc<Course>>,
    /// A bundle's page: its courses, in its order.
    bundle: Vec<Arc<Course>>,
    progress: HashMap<LessonId, Progress>,
    continue_href: String,
    /// The first free-preview lesson, for 免费试看.
    preview: Option<Lesson>,
    /// The next live session still to start, counted down to.
    next_live: Option<Lesson>,
    /// `?ref=CODE` for a distributor's own poster; empty for everyone else.
    referral: String,
    /// The viewer's membership: when it ends (Beijing time) and whether it runs now.
    membership: Option<(String, bool)>,
    /// Membership products on sale, for 开通会员 / 续费.
    plans: Vec<Arc<Course>>,
    reviews: Vec<crate::store::reviews::Review>,
    /// Each listed review's photo ids.
    review_photos: HashMap<ReviewId, Vec<AttachmentId>>,
    review_order: &'static str,
    /// Reviews may carry photos (the 有图 filter is offered).
    photos_allowed: bool,
    /// The viewer may write (or edit) a review.
    can_review: bool,
    /// Groups taking members (group-buy).
    groups: Vec<crate::routes::groups::OpenGroup>,
    /// The open group the viewer has paid a seat in (they wait for it to fill, not buy again).
    my_group: Option<GroupId>,
    /// The check-in wall, when the course runs a challenge.
    checkins: Option<Vec<(crate::store::checkins::Post, String)>>,
    /// The purchase agreement that claiming this free course accepts.
    claim_agreement: Option<Arc<crate::store::agreements::Agreement>>,
    /// For a course sold in cohorts, seen signed in: the seats held in each (anonymous pages are
    /// cached, so they show each cohort's size instead).
    cohort_seats: Option<HashMap<CohortId, i64>>,
    /// The cohort the viewer is in.
    my_cohort: Option<CohortId>,
}

impl DetailPage<'_> {
    /// Posters need a CJK font on the server; without one the link is left out.
    fn poster(&self) -> bool {
        crate::media::poster::font().is_some()
    }

    fn done(&self, lesson_id: &LessonId) -> bool {
        self.progress.get(lesson_id).is_some_and(|p| p.completed)
    }

    fn completed_count(&self) -> usize {
        self.progress.values().filter(|p| p.completed).count()
    }

    fn refund_terms(&self) -> String {
        let s = refund_sentence(self.course.kind, self.course.refund_terms);
        if self.ctx.is_en() { s.en } else { s.zh }
    }

    fn duration(&self, secs: &i64) -> Clock {
        Clock(*secs)
    }

    fn cohort_date(&self, unix: &i64) -> String {
        crate::domain::time::shanghai_date(*unix)
    }

    fn cohort_until(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    /// Why a cohort cannot be bought now (a translation key), or None while it sells.
    fn cohort_closed(&self, cohort: &Cohort) -> Option<&'static str> {
        let taken = self.cohort_seats.as_ref().and_then(|s| s.get(&cohort.id).copied()).unwrap_or(0);
        cohort.may_join(now(), taken).err().map(|why| why.key())
    }

    fn seats_left(&self, cohort: &Cohort) -> Option<i64> {
        let seats = self.cohort_seats.as_ref()?;
        Some(cohort.seats_left(seats.get(&cohort.id).copied().unwrap_or(0)))
    }

    /// The viewer's cohort, and the latest of its lessons that has opened (今日课程).
    fn my_cohort(&self) -> Option<(&Cohort, Option<&Lesson>)> {
        let cohort = self.course.cohorts.iter().find(|c| Some(c.id) == self.my_cohort)?;
        Some((cohort, self.course.todays_lesson(cohort.starts_at, now())))
    }

    /// A scheduled lesson's label: the day after the start it opens, or the moment (while ahead).
    fn schedule(&self, lesson: &crate::catalog::Lesson) -> Option<String> {
        use crate::domain::unlock::Unlock;
        match lesson.unlock.filter(|_| !lesson.free_preview)? {
            Unlock::AfterDays(n) => Some(self.ctx.tf("lesson_unlock_day", &[("n", &n.to_string())])),
            Unlock::At(t) if t > crate::domain::time::now() => {
                Some(self.ctx.tf("lesson_opens_short", &[("time", &crate::domain::time::shanghai_minutes(t))]))
            }
            Unlock::At(_) => None,
        }
    }

    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    fn day(&self, unix: &i64) -> String {
        shanghai_minutes(*unix).chars().take(10).collect()
    }

    fn stars(&self, n: &i64) -> String {
        let filled = usize::try_from(*n).unwrap_or(0).min(5);
        format!("{}{}", "★".repeat(filled), "☆".repeat(5 - filled))
    }

    /// Where 开通会员 / 续费 goes: the first membership on sale.
    fn plan_href(&self) -> Option<String> {
        self.plans.first().map(|p| format!("/courses/{}", p.slug))
    }

    fn photos_of(&self, review_id: &ReviewId) -> &[AttachmentId] {
        self.review_photos.get(review_id).map_or(&[], Vec::as_slice)
    }

    /// The group offer, while groups may be opened.
    fn group_offer(&self) -> Option<&crate::domain::group::Offer> {
        self.course.group.as_ref().filter(|o| o.is_on(now()) && self.course.cohorts.is_empty())
    }

    fn is_consultation(&self) -> bool {
        self.course.kind.delivery() == Delivery::Session
    }

    fn is_membership(&self) -> bool {
        self.course.kind.delivery() == Delivery::MemberTerm
    }

    /// The viewer's membership runs now.
    fn member_running(&self) -> bool {
        self.membership.as_ref().is_some_and(|(_, running)| *running)
    }

    fn giftable(&self) -> bool {
        self.course.giftable(crate::domain::time::now())
    }

    /// 已更新 N 期 (of M planned).
    fn column_progress(&self, plan: &crate::domain::catalog::ColumnPlan) -> String {
        let n = self.course.lesson_count().to_string();
        match plan.planned {
            Some(planned) => self.ctx.tf("column_progress_planned", &[("n", &n), ("planned", &planned.to_string())]),
            None => self.ctx.tf("column_progress", &[("n", &n)]),
        }
    }

    fn bundle_lessons(&self) -> usize {
        self.bundle.iter().map(|c| c.lesson_count()).sum()
    }

    fn is_bundle(&self) -> bool {
        self.course.kind.delivery() == Delivery::Courses
    }

    /// What a bundle's courses cost bought one by one now, when that is more than the bundle.
    fn bundle_separately(&self) -> Option<crate::domain::Fen> {
        let at = crate::domain::time::now();
        let total = self.bundle.iter().fold(crate::domain::Fen::ZERO, |sum, c| sum + c.price_at(at));
        (total > self.course.price_at(at)).then_some(total)
    }

    fn members_only(&self) -> bool {
        self.course.member_rule == crate::domain::membership::MemberRule::Only
    }

    /// The end of a limited-time price still running, to count down to.
    fn sale_ends(&self) -> Option<i64> {
        self.course.sale_ends_at.filter(|_| self.course.has_discount())
    }

    /// Without script: when the limited-time price ends, in Beijing time.
    fn sale_left(&self, end: &i64) -> String {
        self.ctx.tf("sale_until", &[("t", &shanghai_minutes(*end))])
    }

    fn total_hours(&self) -> String {
        let minutes = self.course.total_secs().div_euclid(60);
        self.ctx.tf("course_total_minutes", &[("n", &minutes.to_string())])
    }
}

#[get("/courses/{slug}")]
async fn detail(
    ctx: PageContext,
    req: actix_web::HttpRequest,
    slug: web::Path<crate::domain::numbers::Slug>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let catalog = state.catalog.snapshot();
    let mut course = catalog.course(&slug).cloned().ok_or(AppError::NotFound)?;
    super::distribution::note_visit(&ctx, &req, &state).await?;
    if let Some(cached) = crate::web::render::cached_catalog_page(&ctx, &catalog) {
        return Ok(cached);
    }
    // A learner in a cohort sees its live lessons at the cohort's times.
    if let Some(user) = &ctx.user
        && let Some(cohort) = state.access.cohort_of(&state.db, user.id, &course).await?.cloned()
        && !cohort.sessions.is_empty()
    {
        course = Arc::new(course.run_by(&cohort));
    }
    // Logged-in visitors get a buy form (CSRF token) or, if they own the course, a way in.
    let (ctx, owned, by_membership) = match ctx.user.as_ref().map(|u| u.id) {
        Some(user_id) => {
            // may_learn is owns or member_covers; asked apart, to tell which.
            let owns = state.access.owns(&state.db, user_id, course.id).await?;
            let by_membership = !owns && state.access.member_covers(&state.db, user_id, &course, now()).await?;
            (ctx.with_csrf()?, owns || by_membership, by_membership)
        }
        None => (ctx, false, false),
    };
    let progress = match (owned, ctx.user.as_ref()) {
        (true, Some(user)) => state.progress.course_progress(&state.db, user.id, course.id).await?,
        _ => HashMap::new(),
    };
    let continue_href = match course.kind.delivery() {
        // A bundle's courses are each learned from 我的课程.
        Delivery::Courses => "/me/courses".to_string(),
        _ => continue_href(&course, &progress),
    };
    let bundle: Vec<Arc<Course>> = course.bundle.iter().filter_map(|id| catalog.course_by_id(*id).cloned()).collect();
    let referral = match &ctx.user {
        Some(user) if state.shop.get().distribution.enabled => crate::store::distributors::find(&state.db, user.id)
            .await?
            .filter(|d| d.status == crate::store::distributors::Status::Approved)
            .map(|d| format!("?ref={}", d.code))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let preview = course.lessons().find(|l| l.free_preview).cloned();
    let started = now();
    let next_live = course.live_sessions().into_iter().find(|l| l.starts_at.is_some_and(|at| at > started)).cloned();
    let (membership, can_review, my_group) = match ctx.user.as_ref() {
        Some(user) => {
            let timeline = state.access.membership(&state.db, user.id).await?;
            let membership = timeline.ends_at().map(|end| (shanghai_minutes(end), timeline.at(started).is_some()));
            let can_review = owned && crate::routes::reviews::not_yet(&state, user.id, &course).await?.is_none();
            let my_group = match (&course.group, owned) {
                (Some(_), false) => crate::store::groups::open_seat(&state.db, user.id, course.id).await?,
                _ => None,
            };
            (membership, can_review, my_group)
        }
        None => (None, false, None),
    };
    let plans: Vec<Arc<Course>> =
        catalog.courses.iter().filter(|c| c.kind.delivery() == Delivery::MemberTerm).cloned().collect();
    // A membership's own page lists what it opens (its 会员专区).
    let opens: Vec<Arc<Course>> = match course.plan {
        Some(plan) => catalog
            .courses
            .iter()
            .filter(|c| crate::domain::membership::covers(plan.scope, c.kind, c.member_rule))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let order = crate::store::reviews::Order::parse(
        &web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .map(|q| q.get("reviews").cloned().unwrap_or_default())
            .unwrap_or_default(),
    );
    let review_order = order.as_str();
    let photos_allowed = state.settings.review_photos > 0;
    let claim_agreement = if owned { None } else { super::orders::claim_agreement(&state, &course) };
    let (cohort_seats, my_cohort) = match ctx.user.as_ref() {
        Some(user) if !course.cohorts.is_empty() => {
            let seats = crate::store::cohorts::taken_by_cohort(&state.db, course.id, started).await?;
            let held = state.access.owned(&state.db, user.id).await?;
            (Some(seats), held.iter().find(|h| h.course_id == course.id).and_then(|h| h.cohort_id))
        }
        _ => (None, None),
    };
    let db = state.db.clone();
    render_catalog_page_loading(&ctx, &catalog, || async {
        // No query for a course nobody has reviewed (most of them).
        let reviews = match course.rating.count() {
            0 => Vec::new(),
            _ => crate::store::reviews::shown(&db, course.id, order, 20, 0).await?,
        };
        let groups = crate::routes::groups::open_groups(&db, &course).await?;
        let checkins = crate::routes::checkins::wall(&db, &course).await?;
        let ids: Vec<ReviewId> = reviews.iter().map(|r| r.id).collect();
        let mut review_photos: HashMap<ReviewId, Vec<AttachmentId>> = HashMap::new();
        for (review, photo) in crate::store::attachments::review_photos(&db, &ids).await? {
            review_photos.entry(review).or_default().push(photo);
        }
        let title = format!("{} - {}", course.title, ctx.shop_name());
        let mut meta = ctx.meta(&title, &course.subtitle);
        meta.image = ctx.absolute(course.cover());
        meta.url = ctx.absolute(&format!("/courses/{}", course.slug));
        Ok(DetailPage {
            ctx: &ctx,
            meta,
            course,
            owned,
            by_membership,
            opens,
            bundle,
            progress,
            continue_href,
            preview,
            next_live,
            referral,
            membership,
            plans,
            reviews,
            review_photos,
            review_order,
            photos_allowed,
            can_review,
            groups,
            my_group,
            checkins,
            claim_agreement,
            cohort_seats,
            my_cohort,
        })
    })
    .await
}

/// Where 开始学习 / 继续学习 goes: the first unfinished lesson, else the syllabus.
pub(crate) fn continue_href(course: &Course, progress: &HashMap<LessonId, crate::store::lessons::Progress>) -> String {
    match continue_with(course, progress) {
        Some(lesson) => format!("/courses/{}/lessons/{}", course.slug, lesson.id),
        None => format!("/courses/{}#syllabus", course.slug),
    }
}
