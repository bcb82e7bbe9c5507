//! Questions under a lesson (问答) and the learner's notes on it: one page per lesson for its
//! buyers, where they ask, answer, pick the best answer to their own question, and keep notes at
//! moments of the media. Anyone who may not learn the course is told so and changes nothing.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::forms::FieldErrors;
use crate::catalog::{Course, Lesson};
use crate::domain::moderation::{HeldKind, Visibility};
use crate::domain::numbers::Slug;
use crate::domain::qa::{MAX_CHARS, may_pick_best, moment_in_lesson, parse_moment, text_error};
use crate::domain::text::Clock;
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AnswerId, LessonId, NoteId, QuestionId};
use crate::error::AppError;
use crate::store::learner_notes::{self, Note};
use crate::store::questions::{self, Answer, NewAnswer, Question};
use crate::store::users::User;
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

/// The most questions a lesson's page lists.
const PAGE_QUESTIONS: i64 = 50;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(questions_page)
        .service(ask)
        .service(post_answer)
        .service(pick_best)
        .service(add_note)
        .service(delete_note)
        .service(all_notes);
}

#[derive(Template)]
#[template(path = "questions/page.html")]
struct QuestionsPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    course: &'a Course,
    lesson: &'a Lesson,
    /// False: the viewer may not learn the course; the page says so and offers it.
    owner: bool,
    viewer: &'a User,
    questions: Vec<(Question, Vec<Answer>)>,
    notes: Vec<Note>,
    entered: Entered,
    errors: FieldErrors,
    /// The question whose answer form holds `errors`.
    errored: Option<QuestionId>,
    max_chars: usize,
}

/// What the learner typed, shown again beside its error.
#[derive(Default)]
struct Entered {
    question: String,
    answer: String,
    note: String,
    at: String,
}

impl QuestionsPage<'_> {
    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    fn clock(&self, secs: &i64) -> Clock {
        Clock(*secs)
    }

    fn may_pick(&self, q: &Question) -> bool {
        q.best_answer_id.is_none() && may_pick_best(self.viewer.id, q.user_id, false)
    }

    fn held(&self, status: &Visibility) -> bool {
        *status == Visibility::Held
    }

    fn has_media(&self) -> bool {
        self.lesson.kind.is_media()
    }
}

/// The lesson at this address, its course, and whether the user may learn it.
async fn lesson_at(
    state: &AppState,
    slug: &Slug,
    lesson_id: LessonId,
    user: &User,
) -> Result<(Arc<Course>, Lesson, bool), AppError> {
    let catalog = state.catalog.snapshot();
    let (course, lesson) = catalog.lesson(lesson_id).ok_or(AppError::NotFound)?;
    if course.slug != slug.as_str() {
        return Err(AppError::NotFound);
    }
    let owner = state.access.may_learn(&state.db, user.id, course, now()).await?;
    if !owner && !course.published {
        return Err(AppError::NotFound);
    }
    Ok((course.clone(), lesson.clone(), owner))
}

#[allow(clippy::too_many_arguments)]
async fn render_page(
    ctx: &PageContext,
    state: &AppState,
    (course, lesson, owner): (&Course, &Lesson, bool),
    viewer: &User,
    entered: Entered,
    errors: FieldErrors,
    errored: Option<QuestionId>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let (questions, notes) = if owner {
        (
            questions::for_lesson(&state.db, lesson.id, viewer.id, PAGE_QUESTIONS).await?,
            learner_notes::for_lesson(&state.db, viewer.id, lesson.id).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let status = if owner { status } else { StatusCode::FORBIDDEN };
    let meta = ctx.meta(&format!("{} - {}", ctx.t("qa_title"), lesson.title), &course.title);
    let page = QuestionsPage {
        ctx,
        meta,
        course,
        lesson,
        owner,
        viewer,
        questions,
        notes,
        entered,
        errors,
        errored,
        max_chars: MAX_CHARS,
    };
    render_with_status(&page, status)
}

fn page_path(course: &Course, lesson: &Lesson) -> String {
    format!("/courses/{}/lessons/{}/questions", course.slug, lesson.id)
}

#[get("/courses/{slug}/lessons/{id}/questions")]
async fn questions_page(
    LoggedIn(ctx, user): LoggedIn,
    path: web::Path<(Slug, LessonId)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (slug, lesson_id) = path.into_inner();
    let (course, lesson, owner) = lesson_at(&state, &slug, lesson_id, &user).await?;
    let ctx = ctx.with_csrf()?;
    let found = (&*course, &lesson, owner);
    render_page(&ctx, &state, found, &user, Entered::default(), FieldErrors::default(), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TextForm {
    body: String,
}

#[post("/courses/{slug}/lessons/{id}/questions")]
async fn ask(
    LoggedIn(ctx, user): LoggedIn,
    path: web::Path<(Slug, LessonId)>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<TextForm>,
) -> Result<HttpResponse, AppError> {
    let (slug, lesson_id) = path.into_inner();
    let (course, lesson, owner) = lesson_at(&state, &slug, lesson_id, &user).await?;
    let found = (&*course, &lesson, owner);
    let body = form.body.trim().to_string();
    let mut errors = FieldErrors::default();
    if let Some(key) = text_error(&body) {
        errors.add("question", ctx.t(key));
    }
    let held = if errors.is_empty() && owner {
        super::forms::screen(&state, ctx.lang, &body, "question", &mut errors)
    } else {
        None
    };
    if !owner || !errors.is_empty() {
        let entered = Entered { question: body.chars().take(MAX_CHARS).collect(), ..Entered::default() };
        return render_page(&ctx, &state, found, &user, entered, errors, None, StatusCode::BAD_REQUEST).await;
    }
    let id =
        questions::ask(&state.db, lesson.id, user.id, &body, Visibility::of_new_post(held.is_some()), now()).await?;
    let link = format!("{}#question-{id}", page_path(&course, &lesson));
    let flash = if held.is_some() { "qa_question_held" } else { "qa_question_saved" };
    super::forms::record_held(&state, user.id, HeldKind::Question, &body, held, &link).await?;
    ctx.typed_session().set_flash(flash)?;
    Ok(redirect(&link))
}

/// A question the user can see, with its lesson and course, and whether they may learn it.
async fn visible_question(
    state: &AppState,
    id: QuestionId,
    user: &User,
) -> Result<(Question, Arc<Course>, Lesson, bool), AppError> {
    let question = questions::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let visible = question.status == Visibility::Shown || question.user_id == user.id;
    if !visible || question.status == Visibility::Hidden {
        return Err(AppError::NotFound);
    }
    let (course, lesson) = state
        .catalog
        .snapshot()
        .lesson(question.lesson_id)
        .map(|(c, l)| (c.clone(), l.clone()))
        .ok_or(AppError::NotFound)?;
    let owner = state.access.may_learn(&state.db, user.id, &course, now()).await?;
    Ok((question, course, lesson, owner))
}

#[post("/questions/{id}/answers")]
async fn post_answer(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<QuestionId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<TextForm>,
) -> Result<HttpResponse, AppError> {
    let (question, course, lesson, owner) = visible_question(&state, *id, &user).await?;
    let found = (&*course, &lesson, owner);
    let body = form.body.trim().to_string();
    let mut errors = FieldErrors::default();
    if let Some(key) = text_error(&body) {
        errors.add("answer", ctx.t(key));
    }
    let held = if errors.is_empty() && owner {
        super::forms::screen(&state, ctx.lang, &body, "answer", &mut errors)
    } else {
        None
    };
    if !owner || !errors.is_empty() {
        let entered = Entered { answer: body.chars().take(MAX_CHARS).collect(), ..Entered::default() };
        let errored = Some(question.id);
        return render_page(&ctx, &state, found, &user, entered, errors, errored, StatusCode::BAD_REQUEST).await;
    }
    let link = format!("{}#question-{}", page_path(&course, &lesson), question.id);
    let new = NewAnswer {
        question: &question,
        user_id: user.id,
        by_staff: false,
        body: &body,
        status: Visibility::of_new_post(held.is_some()),
        link: &link,
        lesson_title: &lesson.title,
    };
    let answer_id = questions::answer(&state.db, &new, now()).await?;
    let held_link = format!("{}#answer-{answer_id}", page_path(&course, &lesson));
    let flash = if held.is_some() { "qa_answer_held" } else { "qa_answer_saved" };
    super::forms::record_held(&state, user.id, HeldKind::Answer, &body, held, &held_link).await?;
    ctx.typed_session().set_flash(flash)?;
    Ok(redirect(&link))
}

/// The asker marks the answer that helped them.
#[post("/answers/{id}/best")]
async fn pick_best(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<AnswerId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let answer = questions::find_answer(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let (question, course, lesson, owner) = visible_question(&state, answer.question_id, &user).await?;
    if !owner || !may_pick_best(user.id, question.user_id, false) {
        return Err(AppError::Forbidden);
    }
    let flash =
        if questions::pick_best(&state.db, question.id, answer.id).await? { "qa_best_saved" } else { "qa_best_gone" };
    ctx.typed_session().set_flash(flash)?;
    Ok(redirect(&format!("{}#question-{}", page_path(&course, &lesson), question.id)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NoteForm {
    body: String,
    /// The moment, as the player shows it ("12:34").
    at: String,
    /// "lesson": written under the player, which resumes at the note's moment.
    back: String,
}

#[post("/courses/{slug}/lessons/{id}/notes")]
async fn add_note(
    LoggedIn(ctx, user): LoggedIn,
    path: web::Path<(Slug, LessonId)>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let (slug, lesson_id) = path.into_inner();
    let (course, lesson, owner) = lesson_at(&state, &slug, lesson_id, &user).await?;
    let found = (&*course, &lesson, owner);
    let body = form.body.trim().to_string();
    let mut errors = FieldErrors::default();
    if let Some(key) = text_error(&body) {
        errors.add("note", ctx.t(key));
    }
    let at = parse_moment(&form.at);
    match at {
        None => errors.add("at", ctx.t("err_qa_moment")),
        Some(at) if !moment_in_lesson(at, lesson.duration_secs) => errors.add("at", ctx.t("err_qa_moment_late")),
        Some(_) => {}
    }
    let (Some(at), true, true) = (at, owner, errors.is_empty()) else {
        let entered = Entered {
            note: body.chars().take(MAX_CHARS).collect(),
            at: form.at.chars().take(12).collect(),
            ..Entered::default()
        };
        return render_page(&ctx, &state, found, &user, entered, errors, None, StatusCode::BAD_REQUEST).await;
    };
    let id = learner_notes::add(&state.db, lesson.id, user.id, at, &body, now()).await?;
    ctx.typed_session().set_flash("qa_note_saved")?;
    if form.back == "lesson" {
        return Ok(redirect(&format!("/courses/{}/lessons/{}?t={at}#note-form", course.slug, lesson.id)));
    }
    Ok(redirect(&format!("{}#note-{id}", page_path(&course, &lesson))))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteNote {
    /// "all": from the list of every note.
    back: String,
}

#[post("/notes/{id}/delete")]
async fn delete_note(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<NoteId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<DeleteNote>,
) -> Result<HttpResponse, AppError> {
    let lesson_id = learner_notes::delete_own(&state.db, *id, user.id).await?.ok_or(AppError::NotFound)?;
    ctx.typed_session().set_flash("qa_note_deleted")?;
    let catalog = state.catalog.snapshot();
    match catalog.lesson(lesson_id) {
        Some((course, lesson)) if form.back != "all" => Ok(redirect(&format!("{}#notes", page_path(course, lesson)))),
        _ => Ok(redirect("/me/notes")),
    }
}

/// A lesson and the learner's notes on it.
type LessonNotes = (Lesson, Vec<Note>);

#[derive(Template)]
#[template(path = "me/notes.html")]
struct NotesPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    /// Course by course, lesson by lesson, as the syllabus orders them.
    groups: Vec<(Arc<Course>, Vec<LessonNotes>)>,
}

impl NotesPage<'_> {
    fn clock(&self, secs: &i64) -> Clock {
        Clock(*secs)
    }
}

/// The most notes the list shows.
const MAX_LISTED_NOTES: i64 = 500;

#[get("/me/notes")]
async fn all_notes(LoggedIn(ctx, user): LoggedIn, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let mut by_lesson: std::collections::HashMap<LessonId, Vec<Note>> = std::collections::HashMap::new();
    for note in learner_notes::all(&state.db, user.id, MAX_LISTED_NOTES).await? {
        by_lesson.entry(note.lesson_id).or_default().push(note);
    }
    let catalog = state.catalog.snapshot();
    let mut groups: Vec<(Arc<Course>, Vec<LessonNotes>)> = Vec::new();
    for course in catalog.all_courses() {
        let lessons: Vec<LessonNotes> = course
            .chapters
            .iter()
            .flat_map(|c| c.lessons.iter())
            .filter_map(|l| by_lesson.remove(&l.id).map(|notes| (l.clone(), notes)))
            .collect();
        if !lessons.is_empty() {
            groups.push((course.clone(), lessons));
        }
    }
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(ctx.t("qa_my_notes"), "");
    render_with_status(&NotesPage { ctx: &ctx, meta, groups }, StatusCode::OK)
}
