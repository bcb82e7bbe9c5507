//! Quizzes on lessons and a course's final exam, for its learners: the quiz's page (rules, past
//! attempts), an attempt's form (saved as the learner goes, closed by the server at its deadline)
//! and its result (what was right, and why). Keys and explanations reach the page only in a result.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use askama::Template;

use crate::catalog::{Course, Lesson};
use crate::domain::quiz::{AttemptStatus, QuestionKind, Quiz, in_time, letter, percent, read_response};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AttemptId, BankQuestionId, QuizId};
use crate::error::AppError;
use crate::media::article::SanitizedHtml;
use crate::store::quizzes::{self, Attempt, Item, StartRefused};
use crate::store::users::User;
use crate::web::csrf::NoFields;
use crate::web::{AppState, CsrfForm, LoggedIn, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(quiz_page).service(start_attempt).service(attempt_page).service(save_answers);
}

/// A quiz, its course and lesson, and why the viewer may not take it (a message key), if so.
struct Found {
    course: Arc<Course>,
    quiz: Quiz,
    lesson: Option<Lesson>,
    refused: Option<&'static str>,
}

async fn quiz_at(state: &AppState, id: QuizId, user: &User) -> Result<Found, AppError> {
    let catalog = state.catalog.snapshot();
    let (course, quiz) = catalog.quiz(id).ok_or(AppError::NotFound)?;
    let lesson = quiz.lesson_id.and_then(|l| catalog.lesson(l)).map(|(_, lesson)| lesson.clone());
    let owner = state.access.may_learn(&state.db, user.id, course, now()).await?;
    if !owner && !course.published {
        return Err(AppError::NotFound);
    }
    let refused = if !owner {
        Some("quiz_refused_buy")
    } else if let Some(lesson) = &lesson
        && !super::learn::can_learn(state, Some(user.id), course, lesson).await?
    {
        Some("quiz_refused_locked")
    } else {
        None
    };
    Ok(Found { course: course.clone(), quiz: quiz.clone(), lesson, refused })
}

#[derive(Template)]
#[template(path = "quizzes/quiz.html")]
struct QuizPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    found: &'a Found,
    attempts: Vec<Attempt>,
    question_count: i64,
    /// A refusal or a closed attempt's notice, shown at the top.
    notice: &'static str,
}

impl QuizPage<'_> {
    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    fn open_attempt(&self) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.status == AttemptStatus::Open)
    }

    fn may_start(&self) -> bool {
        self.found.quiz.may_start(self.attempts.len() as i64)
    }

    fn attempts_left(&self) -> Option<i64> {
        self.found.quiz.attempts_left(self.attempts.len() as i64)
    }

    fn percent(&self, a: &Attempt) -> i64 {
        percent(a.score.unwrap_or(0), a.max_score)
    }
}

async fn render_quiz(
    ctx: &PageContext,
    state: &AppState,
    found: &Found,
    user: &User,
    notice: &'static str,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let attempts = quizzes::attempts_of(&state.db, found.quiz.id, user.id).await?;
    let question_count = quizzes::pool_size(&state.db, found.course.id, &found.quiz).await?;
    let notice = if notice.is_empty() { found.refused.unwrap_or("") } else { notice };
    let status = if found.refused.is_some() { StatusCode::FORBIDDEN } else { status };
    let meta = ctx.meta(&format!("{} - {}", found.quiz.title, found.course.title), &found.course.title);
    render_with_status(&QuizPage { ctx, meta, found, attempts, question_count, notice }, status)
}

#[get("/quizzes/{id}")]
async fn quiz_page(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<QuizId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let found = quiz_at(&state, *id, &user).await?;
    let ctx = ctx.with_csrf()?;
    render_quiz(&ctx, &state, &found, &user, "", StatusCode::OK).await
}

#[post("/quizzes/{id}/attempts")]
async fn start_attempt(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<QuizId>,
    state: web::Data<AppState>,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    let found = quiz_at(&state, *id, &user).await?;
    if found.refused.is_some() {
        return render_quiz(&ctx, &state, &found, &user, "", StatusCode::FORBIDDEN).await;
    }
    match quizzes::start(&state.db, found.course.id, &found.quiz, user.id, now()).await? {
        Ok(attempt) => Ok(redirect(&format!("/attempts/{attempt}"))),
        Err(refused) => {
            let notice = match refused {
                StartRefused::AttemptsUsed => "quiz_attempts_used",
                StartRefused::NoQuestions => "quiz_no_questions",
                StartRefused::Deleted => return Err(AppError::NotFound),
            };
            render_quiz(&ctx, &state, &found, &user, notice, StatusCode::CONFLICT).await
        }
    }
}

/// A drawn question as the page shows it.
struct ItemView {
    id: BankQuestionId,
    number: usize,
    kind: QuestionKind,
    body: SanitizedHtml,
    /// (value, letter, text, chosen, right) for choice questions.
    choices: Vec<(usize, char, SanitizedHtml, bool, bool)>,
    response: String,
    points: i64,
    awarded: Option<i64>,
    /// A result's key in words: accepted blanks, or 对/错.
    key_text: String,
    explanation: SanitizedHtml,
    error: &'static str,
}

fn view(ctx: &PageContext, number: usize, item: &Item, show_key: bool) -> ItemView {
    let q = &item.question;
    let chosen: Vec<&str> = item.response.split(',').collect();
    let right: Vec<&str> = q.answer_key.split(',').collect();
    let choices = q
        .choice_list()
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let value = i.to_string();
            let is_right = show_key && right.contains(&value.as_str());
            (i, letter(i), SanitizedHtml::from_markdown_with_math(text), chosen.contains(&value.as_str()), is_right)
        })
        .collect();
    let key_text = if !show_key {
        String::new()
    } else {
        match q.kind {
            QuestionKind::TrueFalse => ctx.t(if q.answer_key == "true" { "quiz_true" } else { "quiz_false" }).into(),
            QuestionKind::Blank => q.answer_key.lines().collect::<Vec<_>>().join(" / "),
            _ => String::new(),
        }
    };
    let explanation = SanitizedHtml::from_markdown_with_math(if show_key { q.explanation.as_str() } else { "" });
    ItemView {
        id: q.id,
        number,
        kind: q.kind,
        body: SanitizedHtml::from_markdown_with_math(&q.body),
        choices,
        response: item.response.clone(),
        points: item.points,
        awarded: item.awarded,
        key_text,
        explanation,
        error: "",
    }
}

#[derive(Template)]
#[template(path = "quizzes/attempt.html")]
struct AttemptPage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    found: &'a Found,
    attempt: &'a Attempt,
    items: Vec<ItemView>,
    /// A form-wide error (a forged field).
    error: &'static str,
}

impl AttemptPage<'_> {
    fn is(&self, item: &ItemView, kind: &str) -> bool {
        item.kind.as_str() == kind
    }

    fn percent(&self) -> i64 {
        percent(self.attempt.score.unwrap_or(0), self.attempt.max_score)
    }

    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    fn answered(&self) -> usize {
        self.items.iter().filter(|i| !i.response.is_empty()).count()
    }
}

/// The attempt, if it is the user's: closed first when its time ran out.
async fn own_attempt(state: &AppState, id: AttemptId, user: &User) -> Result<(Attempt, Found), AppError> {
    let attempt =
        quizzes::find_attempt(&state.db, id).await?.filter(|a| a.user_id == user.id).ok_or(AppError::NotFound)?;
    let found = quiz_at(state, attempt.quiz_id, user).await?;
    if attempt.status == AttemptStatus::Open && !in_time(attempt.deadline, now()) {
        quizzes::finish(&state.db, attempt.id, found.quiz.pass_percent, now()).await?;
        let attempt = quizzes::find_attempt(&state.db, id).await?.ok_or(AppError::NotFound)?;
        return Ok((attempt, found));
    }
    Ok((attempt, found))
}

async fn render_attempt(
    ctx: &PageContext,
    state: &AppState,
    (attempt, found): (&Attempt, &Found),
    sent: Option<&Read>,
    error: &'static str,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let show_key = attempt.status != AttemptStatus::Open;
    let mut items: Vec<ItemView> = quizzes::items(&state.db, attempt.id)
        .await?
        .iter()
        .enumerate()
        .map(|(i, item)| view(ctx, i + 1, item, show_key))
        .collect();
    if let Some((responses, errors)) = sent {
        for item in &mut items {
            if let Some((_, response)) = responses.iter().find(|(id, _)| *id == item.id) {
                item.response = response.clone();
            }
            if let Some((_, key)) = errors.iter().find(|(id, _)| *id == item.id) {
                item.error = key;
            }
        }
    }
    let meta = ctx.meta(&found.quiz.title, &found.course.title);
    render_with_status(&AttemptPage { ctx, meta, found, attempt, items, error }, status)
}

#[get("/attempts/{id}")]
async fn attempt_page(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<AttemptId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (attempt, found) = own_attempt(&state, *id, &user).await?;
    if found.refused.is_some() {
        return render_quiz(&ctx, &state, &found, &user, "", StatusCode::FORBIDDEN).await;
    }
    let ctx = ctx.with_csrf()?;
    render_attempt(&ctx, &state, (&attempt, &found), None, "", StatusCode::OK).await
}

/// Saves the answers sent (fields `q<question id>`, several for a multiple choice); `submit`
/// also hands the attempt in, and `autosave` (the page's script) wants no page back.
#[post("/attempts/{id}")]
async fn save_answers(
    LoggedIn(ctx, user): LoggedIn,
    id: web::Path<AttemptId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let (attempt, found) = own_attempt(&state, *id, &user).await?;
    if found.refused.is_some() {
        return render_quiz(&ctx, &state, &found, &user, "", StatusCode::FORBIDDEN).await;
    }
    let autosave = form.iter().any(|(k, _)| k == "autosave");
    if attempt.status != AttemptStatus::Open {
        // Closed by its deadline just now (`own_attempt`) or handed in before: what was sent
        // changes nothing.
        let notice = if attempt.submitted_at.zip(attempt.deadline).is_some_and(|(s, d)| s > d) {
            "quiz_late"
        } else {
            "quiz_closed"
        };
        if autosave {
            return Ok(HttpResponse::Conflict().finish());
        }
        let ctx = ctx.with_csrf()?;
        return render_quiz(&ctx, &state, &found, &user, notice, StatusCode::CONFLICT).await;
    }
    let items = quizzes::items(&state.db, attempt.id).await?;
    let read = match read_form(&items, &form) {
        Ok(read) => read,
        Err(()) => {
            if autosave {
                return Ok(HttpResponse::BadRequest().finish());
            }
            let ctx = ctx.with_csrf()?;
            let found_pair = (&attempt, &found);
            return render_attempt(&ctx, &state, found_pair, None, "quiz_err_forged", StatusCode::BAD_REQUEST).await;
        }
    };
    if !read.1.is_empty() {
        if autosave {
            return Ok(HttpResponse::BadRequest().finish());
        }
        let ctx = ctx.with_csrf()?;
        return render_attempt(&ctx, &state, (&attempt, &found), Some(&read), "quiz_err_fix", StatusCode::BAD_REQUEST)
            .await;
    }
    quizzes::save_responses(&state.db, attempt.id, &read.0).await?;
    if autosave {
        return Ok(HttpResponse::NoContent().finish());
    }
    if form.iter().any(|(k, _)| k == "submit") {
        quizzes::finish(&state.db, attempt.id, found.quiz.pass_percent, now()).await?;
        ctx.typed_session().set_flash("quiz_submitted")?;
    } else {
        ctx.typed_session().set_flash("quiz_saved")?;
    }
    Ok(redirect(&format!("/attempts/{}", attempt.id)))
}

type Read = (Vec<(BankQuestionId, String)>, Vec<(BankQuestionId, &'static str)>);

/// Each drawn question's answer from the form, with the questions whose answer cannot be read.
/// A field for a question the attempt did not draw is a forged form: `Err`.
fn read_form(items: &[Item], form: &[(String, String)]) -> Result<Read, ()> {
    for (name, _) in form {
        if let Some(id) = name.strip_prefix('q') {
            let id: BankQuestionId = id.parse().map_err(|_| ())?;
            if !items.iter().any(|i| i.question.id == id) {
                return Err(());
            }
        }
    }
    let mut responses = Vec::new();
    let mut errors = Vec::new();
    for item in items {
        let field = format!("q{}", item.question.id);
        let values: Vec<&str> = form.iter().filter(|(k, _)| *k == field).map(|(_, v)| v.as_str()).collect();
        match read_response(item.question.kind, item.question.choice_list().len(), &values) {
            Ok(response) => responses.push((item.question.id, response)),
            Err(e) => {
                errors.push((item.question.id, e.key()));
                responses.push((item.question.id, values.join("\n")));
            }
        }
    }
    Ok((responses, errors))
}
