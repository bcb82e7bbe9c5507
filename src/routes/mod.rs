//! HTTP routes, one module per area, each with `configure(cfg)`; page templates sit beside
//! their handlers.

pub mod accounts;
pub mod admin;
pub mod agreements;
pub mod certificates;
pub mod checkins;
pub mod claim;
pub mod complaints;
pub mod consultations;
pub mod coupons;
pub mod courses;
pub mod distribution;
pub mod files;
pub mod forms;
pub mod gifts;
pub mod groups;
pub mod health;
pub mod home;
pub mod homework;
pub mod human_check;
pub mod invoices;
pub mod learn;
pub mod lesson_files;
pub mod me;
pub mod orders;
pub mod pages;
pub mod payments;
pub mod phone_binding;
pub mod poster;
pub mod privacy;
pub mod pwa;
pub mod questions;
pub mod quizzes;
pub mod receipts;
pub mod redeem;
pub mod refunds;
pub mod reviews;
pub mod sync_api;
pub mod wechat;
pub mod wechat_login;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // actix tries routes in this order, a pattern match per route: the pages learners spend their
    // time on come first (their paths overlap no other area's).
    learn::configure(cfg);
    home::configure(cfg);
    courses::configure(cfg);
    poster::configure(cfg);
    orders::configure(cfg);
    coupons::configure(cfg);
    redeem::configure(cfg);
    gifts::configure(cfg);
    invoices::configure(cfg);
    agreements::configure(cfg);
    certificates::configure(cfg);
    lesson_files::configure(cfg);
    refunds::configure(cfg);
    receipts::configure(cfg);
    complaints::configure(cfg);
    payments::configure(cfg);
    wechat::configure(cfg);
    wechat_login::configure(cfg);
    accounts::configure(cfg);
    human_check::configure(cfg);
    me::configure(cfg);
    phone_binding::configure(cfg);
    claim::configure(cfg);
    reviews::configure(cfg);
    consultations::configure(cfg);
    groups::configure(cfg);
    checkins::configure(cfg);
    homework::configure(cfg);
    questions::configure(cfg);
    quizzes::configure(cfg);
    distribution::configure(cfg);
    privacy::configure(cfg);
    pages::configure(cfg);
    health::configure(cfg);
    sync_api::configure(cfg);
    pwa::configure(cfg);
    admin::configure(cfg);
}
