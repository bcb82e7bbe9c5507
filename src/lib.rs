//! 课店 Kedian: a self-hosted, server-rendered H5 storefront for knowledge-payment businesses.

pub mod auth;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod i18n;
pub mod import;
pub mod jobs;
pub mod media;
pub mod pay;
pub mod routes;
pub mod services;
pub mod sms;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;

#[cfg(test)]
mod layers;
