//! The import from the back office, for admins: upload the export's files, check them (dry run)
//! or import them, and read the report. Large exports belong on the command line
//! (`kedian import`), which shows a progress bar.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;

use super::gate::{Change, Staff, area, audit};
use crate::domain::upload::EXPORT_FILES;
use crate::error::AppError;
use crate::import::{Report, Silent, from_files, import};
use crate::routes::forms::FieldErrors;
use crate::web::{AppState, Meta, PageContext, render_with_status, uploads};

const MAX_FILES: usize = 6;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(page).service(upload);
}

#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    ctx: PageContext,
    meta: Meta,
    report: Option<Report>,
    errors: FieldErrors,
}

impl ImportPage {
    fn rows(&self) -> Vec<(&'static str, &crate::import::Counts)> {
        match &self.report {
            Some(r) => vec![
                ("courses", &r.courses),
                ("users", &r.users),
                ("orders", &r.orders),
                ("entitlements", &r.entitlements),
                ("progress", &r.progress),
            ],
            None => Vec::new(),
        }
    }
}

fn render(
    ctx: PageContext,
    report: Option<Report>,
    errors: FieldErrors,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let ctx = ctx.with_csrf()?;
    let meta = ctx.meta(&format!("{} - {}", ctx.t("admin_import"), ctx.shop_name()), "");
    render_with_status(&ImportPage { ctx, meta, report, errors }, status)
}

#[get("/admin/import")]
async fn page(Staff(ctx, _, _): Staff<area::Administration>) -> Result<HttpResponse, AppError> {
    render(ctx, None, FieldErrors::default(), StatusCode::OK)
}

#[post("/admin/import")]
async fn upload(
    Staff(ctx, staff, _): Staff<area::Administration>,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let form =
        uploads::read(&req, payload, &state.settings.uploads_dir().join("tmp"), MAX_FILES, &EXPORT_FILES).await?;
    let mut errors = FieldErrors::default();
    if form.files.is_empty() || form.rejected.is_some() {
        errors.add("files", ctx.t("err_import_files"));
        return render(ctx, None, errors, StatusCode::BAD_REQUEST);
    }
    let mut files = Vec::with_capacity(form.files.len());
    for file in &form.files {
        files.push((
            file.file_name.clone(),
            tokio::fs::read(&file.temp).await.map_err(|e| AppError::Internal(e.into()))?,
        ));
    }
    let dry_run = form.text("dry_run") == "1";
    let sources = match from_files(files) {
        Ok(sources) => sources,
        Err(e) => {
            errors.add("files", format!("{}{e}", ctx.t("err_import_unreadable")));
            return render(ctx, None, errors, StatusCode::BAD_REQUEST);
        }
    };
    let report = match import(&state.db, "web", sources, dry_run, &Silent).await {
        Ok(report) => report,
        // A file that turns out unreadable part-way (broken CSV): what came before it is in.
        Err(e) if !e.is::<sqlx::Error>() => {
            errors.add("files", format!("{}{e}", ctx.t("err_import_unreadable")));
            return render(ctx, None, errors, StatusCode::BAD_REQUEST);
        }
        Err(e) => return Err(AppError::Internal(e)),
    };
    if !dry_run {
        let change = Change {
            action: "import.run",
            target_type: "import",
            target_id: "web".into(),
            before: serde_json::Value::Null,
            after: serde_json::json!({
                "users": report.users.inserted + report.users.updated,
                "orders": report.orders.inserted + report.orders.updated,
                "rejected": report.total_rejected(),
            }),
            note: "",
        };
        audit(&state, &req, &staff, change).await?;
    }
    render(ctx, Some(report), errors, StatusCode::OK)
}
