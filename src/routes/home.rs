use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use askama::Template;

use crate::catalog::{Catalog, Course};
use crate::error::AppError;
use crate::web::{AppState, Meta, PageContext, render_catalog_page};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home);
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    ctx: &'a PageContext,
    meta: Meta,
    catalog: Arc<Catalog>,
    featured: Vec<Arc<Course>>,
    newest: Vec<Arc<Course>>,
}

#[get("/")]
async fn home(
    ctx: PageContext,
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    super::distribution::note_visit(&ctx, &req, &state).await?;
    let catalog = state.catalog.snapshot();
    render_catalog_page(&ctx, &catalog, || {
        let mut meta = ctx.meta(ctx.shop_name(), ctx.t("site_description"));
        meta.url = ctx.absolute("/");
        HomePage {
            meta,
            ctx: &ctx,
            featured: catalog.featured(),
            newest: catalog.newest_not_featured(6),
            catalog: catalog.clone(),
        }
    })
}
