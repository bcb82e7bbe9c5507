//! What the shop sells, as pages show it: categories, instructors, courses with their chapters
//! and lessons. Plain data with the rules that read it (the price in force, live sessions, the
//! lesson after this one); `catalog` keeps the published ones in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::refund_terms::RefundTerms;
use super::{Fen, ProductKind};
use crate::domain::product::Delivery;
use crate::domain::{ChapterId, CourseId, LessonId};

#[derive(Debug, Clone)]
pub struct Category {
    pub id: super::CategoryId,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Instructor {
    pub id: super::InstructorId,
    pub name: String,
    pub title: String,
    pub bio: String,
    pub avatar_url: String,
}

super::words::stored_word! {
    /// What a lesson is: its player, or its text, or a live session.
    pub enum LessonKind { Video => "video", Audio => "audio", Article => "article", Live => "live" }
}

impl LessonKind {
    /// Played from a media file (a preview of it can end).
    pub fn is_media(self) -> bool {
        matches!(self, LessonKind::Video | LessonKind::Audio)
    }
}

#[derive(Debug, Clone)]
pub struct Lesson {
    pub id: LessonId,
    pub title: String,
    pub kind: LessonKind,
    pub duration_secs: i64,
    pub free_preview: bool,
    /// For live sessions: when the session starts (unix seconds).
    pub starts_at: Option<i64>,
    /// When it opens to a learner, if not at once (定时解锁).
    pub unlock: Option<super::unlock::Unlock>,
    /// Files staff attached for its buyers (课件), in the order they were added.
    pub files: Vec<LessonFile>,
}

/// A file attached to a lesson, as its page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LessonFile {
    pub id: super::LessonFileId,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

impl LessonFile {
    pub fn is_pdf(&self) -> bool {
        self.content_type == "application/pdf"
    }

    /// Its size for people: `820 KB`, `3.4 MB`.
    pub fn size_text(&self) -> String {
        let kb = (self.size_bytes + 1023) / 1024;
        if kb < 1024 { format!("{kb} KB") } else { format!("{}.{} MB", kb / 1024, kb % 1024 * 10 / 1024) }
    }
}

/// Shown for a course without a cover of its own.
pub const PLACEHOLDER_COVER: &str = "/static/img/cover-placeholder.svg";

impl Lesson {
    /// A live session, with its time set or still to come: a live lesson, or any with a start.
    pub fn is_live(&self) -> bool {
        self.kind == LessonKind::Live || self.starts_at.is_some()
    }

    /// What a learner may watch: every lesson of a course they own (bought, granted, or opened by
    /// a membership), and anyone the free previews of a course on sale.
    pub fn may_watch(&self, course_on_sale: bool, owner: bool) -> bool {
        owner || (self.free_preview && course_on_sale)
    }

    /// When this lesson opens to a learner who started at `since`, if it is still locked at `now`
    /// (a free preview is open to everyone, whatever its schedule).
    pub fn locked_until(&self, since: i64, now: i64) -> Option<i64> {
        if self.free_preview {
            return None;
        }
        self.unlock.and_then(|u| u.locked_until(since, now))
    }

    /// What a free lesson is called by its kind: 试看, 试听 or 试读.
    pub fn preview_label_key(&self) -> &'static str {
        match self.kind.as_str() {
            "audio" => "free_listen",
            "article" => "free_read",
            _ => "free_preview",
        }
    }

    /// The course page's button to it: 免费试看, 免费试听 or 免费试读.
    pub fn try_label_key(&self) -> &'static str {
        match self.kind.as_str() {
            "audio" => "try_free_listen",
            "article" => "try_free_read",
            _ => "try_free",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Chapter {
    pub id: ChapterId,
    pub title: String,
    pub lessons: Vec<Lesson>,
}

#[derive(Debug, Clone)]
pub struct Course {
    pub id: CourseId,
    pub slug: String,
    pub kind: ProductKind,
    pub category: Category,
    pub instructor: Arc<Instructor>,
    pub title: String,
    pub subtitle: String,
    pub description: String,
    pub cover_url: String,
    pub price: Fen,
    pub original_price: Fen,
    /// When the discounted price ends (the job then restores the original price).
    pub sale_ends_at: Option<i64>,
    /// "N 人已学": counted up in place by each sale (`CatalogCache::count_sale`), so a sale does
    /// not reload the catalog or empty the page cache.
    pub learners: Arc<AtomicI64>,
    pub outcomes: Vec<String>,
    pub audience: Vec<String>,
    pub refund_terms: RefundTerms,
    pub membership_days: Option<i64>,
    pub consult_minutes: Option<i64>,
    /// A membership product's period and scope.
    pub plan: Option<super::membership::Plan>,
    /// What members get on this course.
    pub member_rule: super::membership::MemberRule,
    /// Shown reviews, counted in place when one changes (like `learners`).
    pub rating: Arc<Rating>,
    /// The group-buy offer, if staff set one.
    pub group: Option<super::group::Offer>,
    /// The course runs a check-in challenge (its wall shows on the course page).
    pub has_checkin: bool,
    pub featured: bool,
    /// Staff's sort order: lower first, then newest first.
    pub position: i64,
    /// On sale. Off-sale courses stay in the catalog for the learners who own them.
    pub published: bool,
    pub created_at: i64,
    pub chapters: Vec<Chapter>,
    /// A bundle's courses, in the order it lists them (empty for any other kind).
    pub bundle: Vec<CourseId>,
    /// A column's plan: the issues planned and when new ones come out.
    pub column: Option<ColumnPlan>,
    /// Its cohorts (营期), the earliest start first; empty for a course sold any time.
    pub cohorts: Vec<super::cohort::Cohort>,
    /// Its lessons' quizzes and its final exam (`lesson_id` None).
    pub quizzes: Vec<super::quiz::Quiz>,
}

/// A column (专栏): how many issues are planned (None: open-ended) and its rhythm in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnPlan {
    pub planned: Option<i64>,
    pub schedule: String,
}

/// The most issues a column can plan.
pub const MAX_COLUMN_ISSUES: i64 = 1000;
/// The longest rhythm staff can describe (`每周三更新`).
pub const MAX_COLUMN_SCHEDULE_CHARS: usize = 30;

/// A column's plan as staff typed it: planned issues empty (open-ended) or 1 to
/// `MAX_COLUMN_ISSUES`, and a short rhythm.
pub fn parse_column(planned: &str, schedule: &str) -> Result<ColumnPlan, Vec<super::course_form::FieldError>> {
    let mut errors = Vec::new();
    let planned = match planned.trim() {
        "" => None,
        text => {
            let n = text.parse::<i64>().ok().filter(|n| (1..=MAX_COLUMN_ISSUES).contains(n));
            if n.is_none() {
                errors.push(("planned", "err_column_planned"));
            }
            n
        }
    };
    let schedule = schedule.trim().to_string();
    if schedule.is_empty() {
        errors.push(("schedule", "err_required"));
    } else if schedule.chars().count() > MAX_COLUMN_SCHEDULE_CHARS {
        errors.push(("schedule", "err_too_long"));
    } else if schedule.chars().any(char::is_control) {
        errors.push(("schedule", "err_invalid_chars"));
    }
    if errors.is_empty() { Ok(ColumnPlan { planned, schedule }) } else { Err(errors) }
}

/// The most courses one bundle sells.
pub const MAX_BUNDLE_COURSES: usize = 20;

/// A bundle's courses as staff typed them: slugs separated by lines, spaces or commas, at least
/// two, at most `MAX_BUNDLE_COURSES`, none twice. Whether each is a course that can go in a
/// bundle is the catalog's to say.
pub fn bundle_slugs(text: &str) -> Result<Vec<String>, &'static str> {
    let slugs: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '，')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if slugs.len() < 2 {
        return Err("err_bundle_too_few");
    }
    if slugs.len() > MAX_BUNDLE_COURSES {
        return Err("err_bundle_too_many");
    }
    if (1..slugs.len()).any(|i| slugs[..i].contains(&slugs[i])) {
        return Err("err_bundle_twice");
    }
    Ok(slugs)
}

/// A course's shown reviews: how many and their stars added up.
#[derive(Debug, Default)]
pub struct Rating {
    pub count: AtomicI64,
    pub star_total: AtomicI64,
}

impl Rating {
    pub fn new(count: i64, star_total: i64) -> Rating {
        Rating { count: count.into(), star_total: star_total.into() }
    }

    pub fn set(&self, count: i64, star_total: i64) {
        self.count.store(count, Ordering::Relaxed);
        self.star_total.store(star_total, Ordering::Relaxed);
    }

    pub fn count(&self) -> i64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The average as shown ("4.6"), once there are enough reviews (`review::MIN_SHOWN`).
    pub fn average(&self) -> Option<String> {
        super::review::shown_average(self.star_total.load(Ordering::Relaxed), self.count(), super::review::MIN_SHOWN)
            .map(|tenths| format!("{}.{}", tenths / 10, tenths % 10))
    }
}

impl Course {
    pub fn learner_count(&self) -> i64 {
        self.learners.load(Ordering::Relaxed)
    }

    pub fn lesson_count(&self) -> usize {
        self.chapters.iter().map(|c| c.lessons.len()).sum()
    }

    pub fn total_secs(&self) -> i64 {
        self.chapters.iter().flat_map(|c| &c.lessons).map(|l| l.duration_secs).sum()
    }

    /// The cover at card size, when staff uploaded it (else the one cover there is).
    pub fn card_cover(&self) -> String {
        if self.cover_url.is_empty() {
            return PLACEHOLDER_COVER.to_string();
        }
        card_cover(&self.cover_url).unwrap_or_else(|| self.cover_url.clone())
    }

    /// 立即购买 starts an order for it. A consultation (a slot first), a membership plan and a
    /// members-only course are bought from their own pages instead.
    pub fn bought_directly(&self) -> bool {
        match self.kind.delivery() {
            Delivery::Lessons => self.member_rule != super::membership::MemberRule::Only,
            // A bundle still being put together sells nothing.
            Delivery::Courses => !self.bundle.is_empty(),
            Delivery::MemberTerm | Delivery::Session => false,
        }
    }

    /// The quiz on a lesson, if staff set one.
    pub fn quiz_for(&self, lesson: &super::LessonId) -> Option<&super::quiz::Quiz> {
        self.quizzes.iter().find(|q| q.lesson_id.as_ref() == Some(lesson))
    }

    /// The course's final exam, if it has one.
    pub fn exam(&self) -> Option<&super::quiz::Quiz> {
        self.quizzes.iter().find(|q| q.is_exam())
    }

    pub fn quiz(&self, id: super::QuizId) -> Option<&super::quiz::Quiz> {
        self.quizzes.iter().find(|q| q.id == id)
    }

    /// 今日课程 for a learner who started at `start`: the scheduled lesson opened most recently.
    pub fn todays_lesson(&self, start: i64, now: i64) -> Option<&Lesson> {
        self.lessons()
            .filter(|l| l.unlock.is_some() && l.locked_until(start, now).is_none())
            .max_by_key(|l| l.unlock.map(|u| u.opens_at(start)))
    }

    /// 送给朋友 buys it for friends: a course bought directly that costs something at `now`, and
    /// not sold in cohorts (a seat in a cohort is the buyer's own pick).
    pub fn giftable(&self, now: i64) -> bool {
        self.bought_directly() && !self.price_at(now).is_free() && self.cohorts.is_empty()
    }

    /// The cover, or the shop's plain one for a course published without a picture.
    pub fn cover(&self) -> &str {
        if self.cover_url.is_empty() { PLACEHOLDER_COVER } else { &self.cover_url }
    }

    /// The price a buyer pays at `now`: the original price once a limited-time price has ended,
    /// even in the moments before the job has written that down.
    pub fn price_at(&self, now: i64) -> Fen {
        crate::domain::product::price_at(self.price, self.original_price, self.sale_ends_at, now)
    }

    /// The badge members see on this course (a translation key), if any.
    pub fn member_badge(&self) -> Option<&'static str> {
        match self.member_rule {
            super::membership::MemberRule::None => None,
            super::membership::MemberRule::Free => Some("member_free"),
            super::membership::MemberRule::Only => Some("member_only"),
            // The member price is shown beside the price instead.
            super::membership::MemberRule::Price(_) => None,
        }
    }

    pub fn member_price(&self) -> Option<Fen> {
        self.member_rule.member_price()
    }

    pub fn has_discount(&self) -> bool {
        self.original_price > self.price
    }

    pub fn lessons(&self) -> impl Iterator<Item = &Lesson> {
        self.chapters.iter().flat_map(|c| c.lessons.iter())
    }

    /// The lessons before and after this one, in syllabus order.
    pub fn neighbours(&self, lesson_id: LessonId) -> (Option<&Lesson>, Option<&Lesson>) {
        let all: Vec<&Lesson> = self.lessons().collect();
        match all.iter().position(|l| l.id == lesson_id) {
            Some(i) => (i.checked_sub(1).map(|p| all[p]), all.get(i + 1).copied()),
            None => (None, None),
        }
    }

    /// The course as a cohort runs it: its live lessons at the cohort's own times.
    pub fn run_by(&self, cohort: &super::cohort::Cohort) -> Course {
        let mut course = self.clone();
        for lesson in course.chapters.iter_mut().flat_map(|c| c.lessons.iter_mut()) {
            if let Some(session) = cohort.session(lesson.id) {
                lesson.starts_at = Some(session.starts_at);
            }
        }
        course
    }

    /// Live sessions in schedule order.
    pub fn live_sessions(&self) -> Vec<&Lesson> {
        let mut sessions: Vec<&Lesson> = self.lessons().filter(|l| l.starts_at.is_some()).collect();
        sessions.sort_by_key(|l| l.starts_at);
        sessions
    }
}

/// The card-sized cover of a cover `media::images` made, or of a demo cover shipped in
/// `static/covers` (`…-1280.jpg` → `…-640.jpg`).
pub fn card_cover(cover_url: &str) -> Option<String> {
    ["/files/", "/static/covers/"].into_iter().find_map(|dir| {
        let stem = cover_url.strip_prefix(dir)?.strip_suffix("-1280.jpg")?;
        (!stem.is_empty()).then(|| format!("{dir}{stem}-640.jpg"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_plans_some_issues_or_stays_open() {
        let plan = |planned: Option<i64>| ColumnPlan { planned, schedule: "每周三更新".into() };
        assert_eq!(parse_column(" 40 ", " 每周三更新 "), Ok(plan(Some(40))));
        assert_eq!(parse_column("", "每周三更新"), Ok(plan(None)), "open-ended");
        assert_eq!(parse_column("1000", "每周三更新"), Ok(plan(Some(1000))));
        for (planned, schedule, fields) in [
            ("0", "每周三更新", vec!["planned"]),
            ("1001", "每周三更新", vec!["planned"]),
            ("十", "", vec!["planned", "schedule"]),
            ("3", "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一", vec!["schedule"]),
            ("3", "a\u{7}", vec!["schedule"]),
        ] {
            let got: Vec<&str> = parse_column(planned, schedule).unwrap_err().iter().map(|(f, _)| *f).collect();
            assert_eq!(got, fields, "{planned} {schedule}");
        }
    }

    #[test]
    fn bundle_slugs_are_two_to_twenty_distinct() {
        assert_eq!(bundle_slugs("a\nb, c，d  e"), Ok(vec!["a".into(), "b".into(), "c".into(), "d".into(), "e".into()]));
        assert_eq!(bundle_slugs(" a "), Err("err_bundle_too_few"));
        assert_eq!(bundle_slugs(""), Err("err_bundle_too_few"));
        assert_eq!(bundle_slugs("a b a"), Err("err_bundle_twice"));
        let many: Vec<String> = (0..21).map(|i| format!("c{i}")).collect();
        assert_eq!(bundle_slugs(&many.join(" ")), Err("err_bundle_too_many"));
        assert_eq!(bundle_slugs(&many[..20].join("\n")).map(|s| s.len()), Ok(20));
    }

    #[test]
    fn owners_watch_everything_and_others_the_previews_of_a_course_on_sale() {
        let lesson = |free_preview| Lesson {
            id: LessonId(1),
            title: String::new(),
            kind: LessonKind::Video,
            duration_secs: 60,
            free_preview,
            starts_at: None,
            unlock: None,
            files: Vec::new(),
        };
        let (preview, paid) = (lesson(true), lesson(false));
        let file = |size_bytes| LessonFile {
            id: crate::domain::LessonFileId(1),
            file_name: "讲义.pdf".into(),
            content_type: "application/pdf".into(),
            size_bytes,
        };
        assert_eq!(file(1).size_text(), "1 KB");
        assert_eq!(file(820 * 1024).size_text(), "820 KB");
        assert_eq!(file(3_565_158).size_text(), "3.4 MB");
        assert_eq!(file(1024 * 1024).size_text(), "1.0 MB");
        assert!(file(1).is_pdf());
        assert!(preview.may_watch(true, false));
        assert!(!paid.may_watch(true, false));
        assert!(!preview.may_watch(false, false), "an off-sale course shows no one its previews");
        assert!(paid.may_watch(false, true), "an owner keeps it off sale");
        assert!(paid.may_watch(true, true));
    }

    #[test]
    fn only_covers_made_at_both_sizes_have_a_card_size() {
        assert_eq!(card_cover("/static/img/x.jpg"), None);
        assert_eq!(card_cover("/static/covers/rust-1280.jpg").as_deref(), Some("/static/covers/rust-640.jpg"));
        assert_eq!(card_cover("/static/covers/-1280.jpg"), None);
        assert_eq!(card_cover("https://cdn.example/x-1280.jpg"), None, "only covers this shop has both sizes of");
    }
}
