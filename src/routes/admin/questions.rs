//! Questions under lessons in the back office: the ones no staff member has answered come first;
//! staff answer (their answers carry a badge), pick the best answer, and hide or restore a
//! question or an answer. Held posts also wait in the moderation queue.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Change, Staff, area, audit};
use crate::domain::moderation::Visibility;
use crate::domain::qa::{MAX_CHARS, text_error};
use crate::domain::time::{now, shanghai_minutes};
use crate::domain::{AnswerId, QuestionId};
use crate::error::AppError;
use crate::routes::forms::FieldErrors;
use crate::store::questions::{self, Answer, Listed, NewAnswer};
use crate::web::{AppState, CsrfForm, Meta, PageContext, redirect, render_with_status};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list).service(staff_answer).service(decide_question).service(decide_answer).service(staff_best);
}

/// The most questions the list shows.
const LISTED: i64 = 200;

#[derive(Template)]
#[template(path = "admin/questions.html")]
struct QuestionsPage {
    ctx: PageContext,
    meta: Meta,
    rows: Vec<(Listed, Vec<Answer>)>,
    errors: FieldErrors,
    errored: Option<QuestionId>,
    entered: String,
    max_chars: usize,
}

impl QuestionsPage {
    fn when(&self, unix: &i64) -> String {
        shanghai_minutes(*unix)
    }

    fn status_key(&self, status: &Visibility) -> &'static str {
        match status {
            Visibility::Shown => "review_status_shown",
            Visibility::Held => "review_status_held",
            Visibility::Hidden => "review_status_hidden",
        }
    }
}

async fn render_list(
    ctx: PageContext,
    state: &AppState,
    errors: FieldErrors,
    errored: Option<QuestionId>,
    entered: String,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let rows = questions::for_staff(&state.db, LISTED).await?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_questions"), ctx.shop_name()), "");
    render_with_status(&QuestionsPage { ctx, meta, rows, errors, errored, entered, max_chars: MAX_CHARS }, status)
}

#[get("/admin/questions")]
async fn list(Staff(ctx, _, _): Staff<area::Catalog>, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    render_list(ctx, &state, FieldErrors::default(), None, String::new(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AnswerForm {
    body: String,
}

#[post("/admin/questions/{id}/answer")]
async fn staff_answer(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<QuestionId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<AnswerForm>,
) -> Result<HttpResponse, AppError> {
    let question = questions::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let body = form.body.trim().to_string();
    if let Some(key) = text_error(&body) {
        let mut errors = FieldErrors::default();
        errors.add("answer", ctx.t(key));
        let entered = body.chars().take(MAX_CHARS).collect();
        return render_list(ctx, &state, errors, Some(question.id), entered, StatusCode::BAD_REQUEST).await;
    }
    let catalog = state.catalog.snapshot();
    let (course, lesson) = catalog.lesson(question.lesson_id).ok_or(AppError::NotFound)?;
    let link = format!("/courses/{}/lessons/{}/questions#question-{}", course.slug, lesson.id, question.id);
    let new = NewAnswer {
        question: &question,
        user_id: staff.id,
        by_staff: true,
        body: &body,
        status: Visibility::Shown,
        link: &link,
        lesson_title: &lesson.title,
    };
    let answer_id = questions::answer(&state.db, &new, now()).await?;
    let change = Change {
        action: "question.answer",
        target_type: "lesson_question",
        target_id: question.id.to_string(),
        before: serde_json::Value::Null,
        after: serde_json::json!({ "answer": answer_id }),
        note: &body,
    };
    audit(&state, &req, &staff, change).await?;
    ctx.typed_session().set_flash("qa_answer_saved")?;
    Ok(redirect(&format!("/admin/questions#question-{}", question.id)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Decision {
    /// hide or restore
    decision: String,
}

fn visibility_of(decision: &str) -> Result<Visibility, AppError> {
    match decision {
        "hide" => Ok(Visibility::Hidden),
        "restore" => Ok(Visibility::Shown),
        _ => Err(AppError::BadRequest),
    }
}

#[post("/admin/questions/{id}/status")]
async fn decide_question(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<QuestionId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<Decision>,
) -> Result<HttpResponse, AppError> {
    let to = visibility_of(&form.decision)?;
    let question = questions::find(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    if questions::set_question_status(&state.db, question.id, to).await? {
        let change = Change {
            action: "question.decide",
            target_type: "lesson_question",
            target_id: question.id.to_string(),
            before: serde_json::json!({ "status": question.status }),
            after: serde_json::json!({ "status": to }),
            note: &question.body,
        };
        audit(&state, &req, &staff, change).await?;
    }
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect(&format!("/admin/questions#question-{}", question.id)))
}

#[post("/admin/answers/{id}/status")]
async fn decide_answer(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<AnswerId>,
    state: web::Data<AppState>,
    CsrfForm(form): CsrfForm<Decision>,
) -> Result<HttpResponse, AppError> {
    let to = visibility_of(&form.decision)?;
    let answer = questions::find_answer(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    if questions::set_answer_status(&state.db, answer.id, to).await? {
        let change = Change {
            action: "answer.decide",
            target_type: "lesson_answer",
            target_id: answer.id.to_string(),
            before: serde_json::json!({ "status": answer.status }),
            after: serde_json::json!({ "status": to }),
            note: &answer.body,
        };
        audit(&state, &req, &staff, change).await?;
    }
    ctx.typed_session().set_flash("saved")?;
    Ok(redirect(&format!("/admin/questions#question-{}", answer.question_id)))
}

/// Staff pin the answer that helps most (the asker can too, on the lesson's page).
#[post("/admin/answers/{id}/best")]
async fn staff_best(
    Staff(ctx, staff, _): Staff<area::Catalog>,
    req: HttpRequest,
    id: web::Path<AnswerId>,
    state: web::Data<AppState>,
    _form: CsrfForm<crate::web::csrf::NoFields>,
) -> Result<HttpResponse, AppError> {
    let answer = questions::find_answer(&state.db, *id).await?.ok_or(AppError::NotFound)?;
    let picked = questions::pick_best(&state.db, answer.question_id, answer.id).await?;
    if picked {
        let change = Change {
            action: "answer.best",
            target_type: "lesson_answer",
            target_id: answer.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({ "question": answer.question_id }),
            note: "",
        };
        audit(&state, &req, &staff, change).await?;
    }
    ctx.typed_session().set_flash(if picked { "qa_best_saved" } else { "qa_best_gone" })?;
    Ok(redirect(&format!("/admin/questions#question-{}", answer.question_id)))
}
