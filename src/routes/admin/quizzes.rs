//! Quizzes and exams in the back office: a course's question bank (add, edit, retire), each
//! lesson's quiz and the final exam (draw, time limit, pass mark, attempts), and a quiz's results:
//! which questions most get wrong, and short answers waiting for a grade.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::catalog::reload;
use super::gate::{Change, Staff, area, audit};
use crate::catalog::{Course, Lesson};
use crate::domain::quiz::{QuestionKind, Quiz, check_question, check_settings, key_for_editing, percent, read_points};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AttemptId, BankQuestionId, CourseId, LessonId, QuizId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::quizzes::{self, BankQuestion, NewQuestion, QuestionStats, Ungraded};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(bank_page)
        .service(add_question)
        .service(question_page)
        .service(edit_question)
        .service(retire_question)
        .service(save_quiz)
        .service(results)
        .service(grade)
        .service(delete_quiz);
}

fn course_of(state: &AppState, id: CourseId) -> Result<Arc<Course>, AppError> {
    super::course_by_id(state, id).filter(|c| c.lesson_count() > 0).ok_or(AppError::NotFound)
}

fn lesson_title(course: &Course, id: Option<LessonId>) -> String {
    id.and_then(|id| course.lessons().find(|l| l.id == id)).map(|l| l.title.clone()).unwrap_or_default()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QuestionForm {
    kind: String,
    lesson: String,
    body: String,
    choices: String,
    key: String,
    explanation: String,
    points: String,
}

impl QuestionForm {
    fn of(q: &BankQuestion) -> QuestionForm {
        QuestionForm {
            kind: q.kind.as_str().into(),
            lesson: q.lesson_id.map(|l| l.to_string()).unwrap_or_default(),
            body: q.body.clone(),
            choices: q.choices.clone(),
            key: key_for_editing(q.kind, &q.answer_key),
            explanation: q.explanation.clone(),
            points: q.points.to_string(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct QuizForm {
    quiz_lesson: String,
    title: String,
    draw_count: String,
    time_limit: String,
    pass_percent: String,
    max_attempts: String,
}

#[derive(Template)]
#[template(path = "admin/quizzes.html")]
struct BankPage {
    ctx: PageContext,
    meta: Meta,
    course: Arc<Course>,
    lessons: Vec<Lesson>,
    bank: Vec<BankQuestion>,
    stats: std::collections::HashMap<BankQuestionId, QuestionStats>,
    question: QuestionForm,
    quiz: QuizForm,
    errors: FieldErrors,
}

impl BankPage {
    fn lesson_title(&self, id: &Option<LessonId>) -> String {
        lesson_title(&self.course, *id)
    }

    fn wrong_rate(&self, id: &BankQuestionId) -> String {
        match self.stats.get(id) {
            Some(s) if s.graded > 0 => format!("{}%（{}/{}）", percent(s.wrong, s.graded), s.wrong, s.graded),
            _ => "—".into(),
        }
    }

    fn short(&self, body: &str) -> String {
        let mut s: String = body.chars().take(40).collect();
        if body.chars().count() > 40 {
            s.push('…');
        }
        s
    }
}

async fn render_bank(
    ctx: PageContext,
    state: &AppState,
    course: Arc<Course>,
    question: QuestionForm,
    quiz: QuizForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let bank = quizzes::bank(&state.db, course.id).await?;
    let stats = quizzes::question_stats(&state.db, course.id).await?;
    let lessons = course.lessons().cloned().collect();
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_quizzes"), course.title), "");
    let page = BankPage { ctx, meta, course, lessons, bank, stats, question, quiz, errors };
    render_with_status(&page, status)
}

#[derive(Deserialize)]
struct EditQuery {
    /// A quiz whose settings fill the form.
    quiz: Option<QuizId>,
}

#[get("/admin/courses/{id}/quizzes")]
async fn bank_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<CourseId>,
    query: web::Query<EditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    let question = QuestionForm { kind: "single".into(), points: "1".into(), ..QuestionForm::default() };
    let optional = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let quiz = match query.quiz.and_then(|q| course.quiz(q)) {
        Some(q) => QuizForm {
            quiz_lesson: optional(q.lesson_id.map(|l| l.0)),
            title: q.title.clone(),
            draw_count: q.draw_count.to_string(),
            time_limit: optional(q.time_limit_mins),
            pass_percent: q.pass_percent.to_string(),
            max_attempts: optional(q.max_attempts),
        },
        None => QuizForm { pass_percent: "60".into(), ..QuizForm::default() },
    };
    render_bank(ctx, &state, course, question, quiz, FieldErrors::default(), StatusCode::OK).await
}

/// The lesson a form names: empty for none, else one of the course's lessons.
fn lesson_of(course: &Course, text: &str) -> Result<Option<LessonId>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let id: LessonId = text.parse().map_err(|_| ())?;
    course.lessons().any(|l| l.id == id).then_some(Some(id)).ok_or(())
}

/// A question form as the values it is stored as.
struct Checked {
    kind: QuestionKind,
    choices: Vec<String>,
    key: String,
    lesson_id: Option<LessonId>,
    points: i64,
}

/// The question form checked, as stored values, or each field's error.
fn checked_question(ctx: &PageContext, course: &Course, form: &QuestionForm) -> Result<Checked, FieldErrors> {
    let mut errors = FieldErrors::default();
    let kind = QuestionKind::parse(&form.kind);
    if kind.is_none() {
        errors.add("kind", ctx.t("admin_quiz_err_kind"));
    }
    let lesson = lesson_of(course, &form.lesson);
    if lesson.is_err() {
        errors.add("lesson", ctx.t("admin_quiz_err_lesson"));
    }
    let points = read_points(&form.points, crate::domain::quiz::MAX_POINTS).filter(|p| *p >= 1);
    if points.is_none() {
        errors.add("points", ctx.t("admin_quiz_err_points"));
    }
    let checked = kind.map(|k| check_question(k, &form.body, &form.choices, &form.key));
    if let Some(Err((field, key))) = &checked {
        errors.add(field, ctx.t(key));
    }
    match (kind, checked, lesson, points) {
        (Some(kind), Some(Ok(q)), Ok(lesson_id), Some(points)) if errors.is_empty() => {
            Ok(Checked { kind, choices: q.choices, key: q.key, lesson_id, points })
        }
        _ => Err(errors),
    }
}

#[post("/admin/courses/{id}/quiz-questions")]
async fn add_question(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    let Checked { kind, choices, key, lesson_id, points } = match checked_question(&ctx, &course, &form) {
        Ok(q) => q,
        Err(errors) => {
            let quiz = QuizForm::default();
            return render_bank(ctx, &state, course, form, quiz, errors, StatusCode::BAD_REQUEST).await;
        }
    };
    let new = NewQuestion {
        lesson_id,
        kind,
        body: &form.body,
        choices: &choices,
        key: &key,
        explanation: &form.explanation,
        points,
    };
    let qid = quizzes::add_question(&state.db, course.id, &new, now()).await?;
    let after =
        serde_json::json!({ "course": course.id, "kind": kind.as_str(), "lesson": lesson_id, "points": points });
    let change = Change {
        action: "quiz_question.create",
        target_type: "quiz_question",
        target_id: qid.to_string(),
        before: serde_json::Value::Null,
        after,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/quizzes#bank", course.id)))
}

#[derive(Template)]
#[template(path = "admin/quiz_question.html")]
struct QuestionPage {
    ctx: PageContext,
    meta: Meta,
    course: Arc<Course>,
    lessons: Vec<Lesson>,
    id: BankQuestionId,
    retired: bool,
    question: QuestionForm,
    errors: FieldErrors,
}

async fn question_of(state: &AppState, id: BankQuestionId) -> Result<(BankQuestion, Arc<Course>), AppError> {
    let q = quizzes::find_question(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let course = course_of(state, q.course_id)?;
    Ok((q, course))
}

fn render_question(
    ctx: PageContext,
    course: Arc<Course>,
    q: &BankQuestion,
    question: QuestionForm,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(ctx.t("admin_quiz_edit_question"), "");
    let lessons = course.lessons().cloned().collect();
    let page = QuestionPage { ctx, meta, course, lessons, id: q.id, retired: q.retired, question, errors };
    render_with_status(&page, status)
}

#[get("/admin/quiz-questions/{id}")]
async fn question_page(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<BankQuestionId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (q, course) = question_of(&state, *id).await?;
    render_question(ctx, course, &q, QuestionForm::of(&q), FieldErrors::default(), StatusCode::OK)
}

#[post("/admin/quiz-questions/{id}")]
async fn edit_question(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<BankQuestionId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<QuestionForm>,
) -> Result<HttpResponse, AppError> {
    let (q, course) = question_of(&state, *id).await?;
    let Checked { kind, choices, key, lesson_id, points } = match checked_question(&ctx, &course, &form) {
        Ok(checked) => checked,
        Err(errors) => return render_question(ctx, course, &q, form, errors, StatusCode::BAD_REQUEST),
    };
    let new = NewQuestion {
        lesson_id,
        kind,
        body: &form.body,
        choices: &choices,
        key: &key,
        explanation: &form.explanation,
        points,
    };
    quizzes::update_question(&state.db, q.id, &new).await?;
    let change = Change {
        action: "quiz_question.update",
        target_type: "quiz_question",
        target_id: q.id.to_string(),
        before: serde_json::json!({ "kind": q.kind.as_str(), "body": q.body, "key": q.answer_key, "points": q.points }),
        after: serde_json::json!({ "kind": kind.as_str(), "body": form.body.trim(), "key": key, "points": points }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/quizzes#bank", course.id)))
}

#[post("/admin/quiz-questions/{id}/retire")]
async fn retire_question(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<BankQuestionId>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let (q, course) = question_of(&state, *id).await?;
    quizzes::set_retired(&state.db, q.id, !q.retired).await?;
    let change = Change {
        action: if q.retired { "quiz_question.restore" } else { "quiz_question.retire" },
        target_type: "quiz_question",
        target_id: q.id.to_string(),
        before: serde_json::json!({ "retired": q.retired }),
        after: serde_json::json!({ "retired": !q.retired }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/quizzes#bank", course.id)))
}

#[post("/admin/courses/{id}/quizzes")]
async fn save_quiz(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<CourseId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<QuizForm>,
) -> Result<HttpResponse, AppError> {
    let course = course_of(&state, *id)?;
    let mut errors = FieldErrors::default();
    let lesson = lesson_of(&course, &form.quiz_lesson);
    if lesson.is_err() {
        errors.add("quiz_lesson", ctx.t("admin_quiz_err_lesson"));
    }
    let settings =
        check_settings(&form.title, &form.draw_count, &form.time_limit, &form.pass_percent, &form.max_attempts);
    if let Err((field, key)) = &settings {
        errors.add(field, ctx.t(key));
    }
    let (Ok(lesson), Ok(settings)) = (lesson, settings) else {
        let question = QuestionForm { kind: "single".into(), points: "1".into(), ..QuestionForm::default() };
        return render_bank(ctx, &state, course, question, form, errors, StatusCode::BAD_REQUEST).await;
    };
    let before = course.quizzes.iter().find(|q| q.lesson_id == lesson).map(settings_json);
    let quiz_id = quizzes::save_quiz(&state.db, course.id, lesson, &settings, now()).await?;
    reload(&state).await?;
    let after = serde_json::json!({ "lesson": lesson, "title": settings.title, "draw_count": settings.draw_count,
        "time_limit_mins": settings.time_limit_mins, "pass_percent": settings.pass_percent, "max_attempts": settings.max_attempts });
    let change = Change {
        action: "quiz.save",
        target_type: "quiz",
        target_id: quiz_id.to_string(),
        before: before.unwrap_or(serde_json::Value::Null),
        after,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/courses/{}/quizzes", course.id)))
}

fn settings_json(q: &Quiz) -> serde_json::Value {
    serde_json::json!({ "lesson": q.lesson_id, "title": q.title, "draw_count": q.draw_count,
        "time_limit_mins": q.time_limit_mins, "pass_percent": q.pass_percent, "max_attempts": q.max_attempts })
}

fn quiz_of(state: &AppState, id: QuizId) -> Result<(Arc<Course>, Quiz), AppError> {
    let catalog = state.catalog.snapshot();
    catalog.quiz(id).map(|(c, q)| (c.clone(), q.clone())).ok_or(AppError::NotFound)
}

#[derive(Template)]
#[template(path = "admin/quiz_results.html")]
struct ResultsPage {
    ctx: PageContext,
    meta: Meta,
    course: Arc<Course>,
    quiz: Quiz,
    /// The quiz's questions with their stats, the most often wrong first.
    questions: Vec<(BankQuestion, QuestionStats)>,
    ungraded: Vec<Ungraded>,
    /// (handed in, passed, learners).
    summary: (i64, i64, i64),
    errors: FieldErrors,
    /// The answer whose grade form holds `errors`.
    errored: Option<(AttemptId, BankQuestionId)>,
}

impl ResultsPage {
    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    fn rate(&self, s: &QuestionStats) -> String {
        if s.graded == 0 { "—".into() } else { format!("{}%", percent(s.wrong, s.graded)) }
    }

    fn has_error(&self, u: &Ungraded) -> bool {
        self.errored == Some((u.attempt_id, u.question_id))
    }
}

async fn render_results(
    ctx: PageContext,
    state: &AppState,
    (course, quiz): (Arc<Course>, Quiz),
    errors: FieldErrors,
    errored: Option<(AttemptId, BankQuestionId)>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let stats = quizzes::question_stats(&state.db, course.id).await?;
    let mut questions: Vec<(BankQuestion, QuestionStats)> = quizzes::bank(&state.db, course.id)
        .await?
        .into_iter()
        .filter(|q| quiz.lesson_id.is_none() || q.lesson_id == quiz.lesson_id)
        .map(|q| {
            let s = stats.get(&q.id).copied().unwrap_or_default();
            (q, s)
        })
        .collect();
    questions.sort_by_key(|(q, s)| (std::cmp::Reverse(percent(s.wrong, s.graded.max(1))), q.id));
    let ungraded = quizzes::ungraded(&state.db, quiz.id).await?;
    let summary = quizzes::summary(&state.db, quiz.id).await?;
    let meta = ctx.meta(&format!("{} - {}", quiz.title, course.title), "");
    render_with_status(&ResultsPage { ctx, meta, course, quiz, questions, ungraded, summary, errors, errored }, status)
}

#[get("/admin/quizzes/{id}")]
async fn results(
    Staff(ctx, _, _): Staff<area::Catalog>,
    id: web::Path<QuizId>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let found = quiz_of(&state, *id)?;
    render_results(ctx, &state, found, FieldErrors::default(), None, StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GradeForm {
    question: String,
    points: String,
}

#[post("/admin/attempts/{id}/grade")]
async fn grade(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<AttemptId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<GradeForm>,
) -> Result<HttpResponse, AppError> {
    let attempt = quizzes::find_attempt(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let found = quiz_of(&state, attempt.quiz_id)?;
    let question: BankQuestionId = form.question.trim().parse().map_err(|_| AppError::BadRequest)?;
    let item = quizzes::items(&state.db, attempt.id)
        .await?
        .into_iter()
        .find(|i| i.question.id == question && i.awarded.is_none() && i.question.kind == QuestionKind::Short)
        .ok_or(AppError::NotFound)?;
    let Some(points) = read_points(&form.points, item.points) else {
        let mut errors = FieldErrors::default();
        errors.add("points", ctx.tf("admin_quiz_err_grade", &[("n", &item.points.to_string())]));
        let errored = Some((attempt.id, question));
        return render_results(ctx, &state, found, errors, errored, StatusCode::BAD_REQUEST).await;
    };
    if quizzes::grade_short(&state.db, &attempt, question, points, &found.1, now()).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let change = Change {
        action: "quiz_attempt.grade",
        target_type: "quiz_attempt",
        target_id: attempt.id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "question": question, "points": points }),
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_saved")?;
    Ok(redirect(&format!("/admin/quizzes/{}", found.1.id)))
}

#[post("/admin/quizzes/{id}/delete")]
async fn delete_quiz(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<QuizId>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let (course, quiz) = quiz_of(&state, *id)?;
    if !quizzes::delete_quiz(&state.db, quiz.id).await? {
        let mut errors = FieldErrors::default();
        errors.add("delete", ctx.t("admin_quiz_err_delete"));
        return render_results(ctx, &state, (course, quiz), errors, None, StatusCode::CONFLICT).await;
    }
    reload(&state).await?;
    let change = Change {
        action: "quiz.delete",
        target_type: "quiz",
        target_id: quiz.id.to_string(),
        before: serde_json::json!({ "course": course.id, "title": quiz.title, "lesson": quiz.lesson_id }),
        after: serde_json::Value::Null,
        note: "",
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("admin_quiz_deleted")?;
    Ok(redirect(&format!("/admin/courses/{}/quizzes", course.id)))
}
