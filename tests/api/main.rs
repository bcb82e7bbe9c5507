//! The one integration-test binary: every test starts the real server on port 0 with a fresh
//! database and talks to it over HTTP like a browser.

mod groups;
mod helpers;
mod hls;
mod import;
mod together;

mod learning;

mod accounts;
mod alipay;
mod alipay_sim;
mod announcements;
mod backoffice;
mod backup;
mod broadcast;
mod browser;
mod catalog;
mod catalog_admin;
mod catalog_uploads;
mod cli;
mod cluster;
mod complaints;
mod compression;
mod content;
mod coupon_admin;
mod coupons;
mod csrf;
mod distribution;
mod malformed;
mod migrations;
mod operations;
mod orders;
mod payments;
mod pc_layout;
mod playback;
mod poster;
mod privacy;
mod products;
mod profit_sharing;
mod pwa;
mod rate_limits;
mod receipts;
mod refunds;
mod sessions;
mod shop_settings;
mod sms;
mod sms_sim;
mod stats;
mod storage;
mod switchover;
mod takedown;
mod wechat_login;
mod wechat_refunds;
mod wechat_sim;
mod wechatpay;
