//! A local WeChat Pay API v3 simulator: its own platform key (certificate or public-key mode),
//! the endpoints the shop calls, request signatures checked with the merchant's public key,
//! responses signed, and notifications encrypted and signed exactly as the real gateway does.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use kedian::domain::time::now;
use kedian::pay::signing::{PrivateKey, PublicKey};
use kedian::pay::wechatpay::crypto;
use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::{Value, json};

pub const MCHID: &str = "1900000109";
pub const APPID: &str = "wxd678efh567hg6787";
pub const APP_SECRET: &str = "sim-app-secret";
/// The open platform website application's (PC QR sign-in): another app, another secret.
pub const WEB_APPID: &str = "wxsimweb0000000001";
pub const WEB_SECRET: &str = "sim-web-secret";
/// The simulator's stable access token and JS-SDK ticket.
const STABLE_TOKEN: &str = "sim-stable-token";
pub const JSAPI_TICKET: &str = "sim-jsapi-ticket-kgt8ON7yVITDhtdwci0qeZ";
pub const API_V3_KEY: &str = "0123456789abcdefghijklmnopqrstuv";
pub const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD********";
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wechatpay");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Certificate,
    PublicKey,
}

#[derive(Clone, Debug)]
pub struct SimOrder {
    pub amount: i64,
    pub notify_url: String,
    pub trade_type: String,
    pub state: String,
    pub transaction_id: Option<String>,
    pub openid: Option<String>,
    pub client_ip: Option<String>,
    /// Created with `settle_info.profit_sharing`: funds held until split or released.
    pub profit_sharing: bool,
    /// When the payer paid (unix seconds).
    pub paid_at: Option<i64>,
}

pub struct SimState {
    platform_key: PrivateKey,
    pub platform_serial: String,
    merchant_pub: PublicKey,
    pub orders: Mutex<HashMap<String, SimOrder>>,
    pub refunds: Mutex<HashMap<String, i64>>,
    pub refused: Mutex<Vec<String>>,
    /// How the next refund calls are answered: SUCCESS, PROCESSING, or a 500 (SYSTEM_ERROR).
    pub refund_answers: Mutex<Vec<RefundAnswer>>,
    /// The out_refund_no of every refund call, in order.
    pub refund_calls: Mutex<Vec<String>>,
    /// Complaints payers made, by complaint id (the details the merchant API returns).
    pub complaints: Mutex<HashMap<String, Value>>,
    /// Replies (complaint id, text) and completions the merchant sent.
    pub complaint_replies: Mutex<Vec<(String, String)>>,
    pub complaints_completed: Mutex<Vec<String>>,
    /// Profit sharing: receivers added, and splits and releases by out_order_no (with the
    /// transaction, the amounts and whether a query has seen it finish).
    pub receivers: Mutex<Vec<String>>,
    pub splits: Mutex<HashMap<String, Value>>,
    /// Every split or release call, in order (retries included).
    pub split_calls: Mutex<Vec<String>>,
    /// The WeChat user at the phone, for the OAuth authorize page (their openid is o_sim_<user>).
    pub wechat_user: Mutex<String>,
    /// The scope of every authorize request, in order.
    pub oauth_scopes: Mutex<Vec<String>>,
    /// JS-SDK tickets handed out (each getticket call).
    pub tickets_issued: Mutex<u32>,
    /// The official account's followers: (openid, unionid).
    pub followers: Mutex<Vec<(String, Option<String>)>>,
    /// Template messages accepted, as sent (touser, template_id, url, data).
    pub templates: Mutex<Vec<Value>>,
    /// errcodes the next template sends are answered with (then 0).
    pub template_answers: Mutex<Vec<i64>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundAnswer {
    Success,
    Processing,
    SystemError,
}

pub struct WechatSim {
    pub base_url: String,
    pub state: Arc<SimState>,
    pub mode: Mode,
}

/// A notification as the gateway sends it.
pub struct Event {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn random(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

impl SimState {
    /// Signs a response or notification body with the platform key.
    pub fn signed_headers(&self, key: &PrivateKey, serial: &str, body: &str, ts: i64) -> Vec<(String, String)> {
        let (ts, nonce) = (ts.to_string(), random(32));
        let signature = crypto::sign(key, &crypto::message(&[&ts, &nonce, body]));
        vec![
            ("Wechatpay-Timestamp".into(), ts),
            ("Wechatpay-Nonce".into(), nonce),
            ("Wechatpay-Signature".into(), signature),
            ("Wechatpay-Serial".into(), serial.into()),
        ]
    }

    fn reply(&self, status: u16, body: Value) -> HttpResponse {
        let text = body.to_string();
        let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
        for (name, value) in self.signed_headers(&self.platform_key, &self.platform_serial, &text, now()) {
            response.insert_header((name, value));
        }
        response.content_type("application/json").body(text)
    }

    /// Checks the merchant's WECHATPAY2-SHA256-RSA2048 Authorization header.
    fn authorized(&self, req: &HttpRequest, body: &str) -> bool {
        let Some(auth) = req.headers().get("Authorization").and_then(|v| v.to_str().ok()) else { return false };
        let Some(params) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else { return false };
        let field = |name: &str| {
            params
                .split(',')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=\"")))
                .map(|v| v.trim_end_matches('"').to_string())
        };
        let (Some(mchid), Some(nonce), Some(signature), Some(ts), Some(serial)) =
            (field("mchid"), field("nonce_str"), field("signature"), field("timestamp"), field("serial_no"))
        else {
            return false;
        };
        let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("");
        let message = crypto::message(&[req.method().as_str(), path, &ts, &nonce, body]);
        mchid == MCHID && serial == MERCHANT_SERIAL && crypto::verify(&self.merchant_pub, &message, &signature)
    }

    pub fn transaction_json(&self, out_trade_no: &str, order: &SimOrder) -> Value {
        let mut t = json!({
            "appid": APPID,
            "mchid": MCHID,
            "out_trade_no": out_trade_no,
            "trade_type": order.trade_type,
            "trade_state": order.state,
            "amount": { "total": order.amount, "payer_total": order.amount, "currency": "CNY", "payer_currency": "CNY" },
        });
        if let Some(id) = &order.transaction_id {
            t["transaction_id"] = json!(id);
            let paid_at = kedian::domain::time::shanghai_seconds(order.paid_at.unwrap_or_else(now));
            t["success_time"] = json!(format!("{}+08:00", paid_at.replace(' ', "T")));
        }
        if let Some(openid) = &order.openid {
            t["payer"] = json!({ "openid": openid });
        }
        t
    }

    /// A TRANSACTION.SUCCESS event carrying `transaction`, encrypted and signed with `key`.
    pub fn event(&self, transaction: &Value, key: &PrivateKey, serial: &str, ts: i64) -> Event {
        self.any_event("TRANSACTION.SUCCESS", "transaction", transaction, key, serial, ts)
    }

    /// Any notification: `resource` encrypted with the APIv3 key, the body signed with `key`.
    pub fn any_event(
        &self,
        event_type: &str,
        original_type: &str,
        resource: &Value,
        key: &PrivateKey,
        serial: &str,
        ts: i64,
    ) -> Event {
        let nonce = random(12);
        let ciphertext =
            crypto::encrypt_resource(API_V3_KEY.as_bytes(), &nonce, original_type, resource.to_string().as_bytes())
                .unwrap();
        let body = json!({
            "id": format!("EV-{}", random(16)),
            "create_time": "2026-11-21T19:30:01+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "通知",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": original_type,
                "nonce": nonce,
            },
        })
        .to_string();
        Event { headers: self.signed_headers(key, serial, &body, ts), body }
    }

    /// A REFUND.* notification for a refund the shop asked for.
    pub fn refund_event(&self, event_type: &str, out_trade_no: &str, out_refund_no: &str) -> Event {
        let status = event_type.trim_start_matches("REFUND.");
        let resource = json!({
            "mchid": MCHID, "out_trade_no": out_trade_no, "transaction_id": "4200000000000000000000000000",
            "out_refund_no": out_refund_no, "refund_id": format!("50000{}", random(10)), "refund_status": status,
            "success_time": "2026-11-21T20:00:00+08:00", "user_received_account": "支付用户零钱",
            "amount": { "total": 19900, "refund": 19900, "payer_total": 19900, "payer_refund": 19900 },
        });
        self.any_event(event_type, "refund", &resource, &self.platform_key, &self.platform_serial, now())
    }

    /// A payer complains about an order: the complaint is kept and its COMPLAINT.CREATE returned.
    pub fn complain(&self, complaint_id: &str, out_trade_no: &str, detail: &str) -> Event {
        self.complaints.lock().unwrap().insert(
            complaint_id.to_string(),
            json!({
                "complaint_id": complaint_id, "complaint_time": "2026-11-21T20:10:00+08:00", "complaint_detail": detail,
                "complaint_state": "PENDING", "complainted_mchid": MCHID, "problem_description": "课程无法观看",
                "complaint_order_info": [{ "transaction_id": "4200000000000000000000000000", "out_trade_no": out_trade_no, "amount": 19900 }],
                "complaint_full_refunded": false, "incoming_user_response": false, "user_complaint_times": 1,
            }),
        );
        let resource = json!({ "complaint_id": complaint_id, "action_type": "CREATE_COMPLAINT" });
        self.any_event("COMPLAINT.CREATE", "payscore", &resource, &self.platform_key, &self.platform_serial, now())
    }

    pub fn platform_event(&self, transaction: &Value) -> Event {
        self.event(transaction, &self.platform_key, &self.platform_serial, now())
    }
}

async fn create(req: HttpRequest, kind: web::Path<String>, body: String, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, &body) {
        sim.refused.lock().unwrap().push(req.path().to_string());
        return sim.reply(401, json!({ "code": "SIGN_ERROR", "message": "签名错误" }));
    }
    let Ok(b) = serde_json::from_str::<Value>(&body) else { return sim.reply(400, json!({ "code": "PARAM_ERROR" })) };
    if b["appid"] != APPID || b["mchid"] != MCHID {
        return sim.reply(400, json!({ "code": "APPID_MCHID_NOT_MATCH" }));
    }
    let out_trade_no = b["out_trade_no"].as_str().unwrap_or_default().to_string();
    let amount = b["amount"]["total"].as_i64().unwrap_or(0);
    let mut orders = sim.orders.lock().unwrap();
    if let Some(existing) = orders.get(&out_trade_no)
        && existing.amount != amount
    {
        return sim.reply(400, json!({ "code": "INVALID_REQUEST", "message": "订单号重复" }));
    }
    let order = orders.entry(out_trade_no.clone()).or_insert_with(|| SimOrder {
        amount,
        notify_url: b["notify_url"].as_str().unwrap_or_default().to_string(),
        trade_type: kind.to_uppercase(),
        state: "NOTPAY".into(),
        transaction_id: None,
        openid: b["payer"]["openid"].as_str().map(String::from),
        client_ip: b["scene_info"]["payer_client_ip"].as_str().map(String::from),
        profit_sharing: b["settle_info"]["profit_sharing"] == true,
        paid_at: None,
    });
    order.trade_type = kind.to_uppercase();
    let prepay = format!("wx{}", random(30));
    match kind.as_str() {
        "jsapi" => sim.reply(200, json!({ "prepay_id": prepay })),
        "h5" => sim.reply(200, json!({ "h5_url": format!("https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay}&package=2150917749") })),
        _ => sim.reply(200, json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={}", random(8)) })),
    }
}

/// The most a merchant may share of a payment (WeChat Pay's default ratio, 30%).
pub const MAX_SHARE_PCT: i64 = 30;

async fn add_receiver(req: HttpRequest, body: String, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, &body) {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    let Ok(b) = serde_json::from_str::<Value>(&body) else { return sim.reply(400, json!({ "code": "PARAM_ERROR" })) };
    if b["appid"] != APPID || b["type"] != "PERSONAL_OPENID" || b["relation_type"].as_str().is_none() {
        return sim.reply(400, json!({ "code": "PARAM_ERROR" }));
    }
    let account = b["account"].as_str().unwrap_or_default().to_string();
    let mut receivers = sim.receivers.lock().unwrap();
    if !receivers.contains(&account) {
        receivers.push(account.clone());
    }
    sim.reply(200, json!({ "type": "PERSONAL_OPENID", "account": account }))
}

/// The held payment with this transaction id: (out_trade_no, amount).
fn held_payment(sim: &SimState, transaction_id: &str) -> Option<(String, i64)> {
    let orders = sim.orders.lock().unwrap();
    orders
        .iter()
        .find(|(_, o)| o.transaction_id.as_deref() == Some(transaction_id) && o.state == "SUCCESS" && o.profit_sharing)
        .map(|(no, o)| (no.clone(), o.amount))
}

/// What splits and releases share: a signed JSON body, the call recorded, a repeat of an
/// out_order_no answered as before, and a payment held for sharing. Ok: (body, out_order_no,
/// transaction id, the payment's amount). The refusal is the simulator's reply, made rarely.
#[allow(clippy::result_large_err)]
fn sharing_request(
    req: &HttpRequest,
    body: &str,
    sim: &SimState,
) -> Result<(Value, String, String, i64), HttpResponse> {
    if !sim.authorized(req, body) {
        return Err(sim.reply(401, json!({ "code": "SIGN_ERROR" })));
    }
    let b = serde_json::from_str::<Value>(body).map_err(|_| sim.reply(400, json!({ "code": "PARAM_ERROR" })))?;
    let out_order_no = b["out_order_no"].as_str().unwrap_or_default().to_string();
    let transaction_id = b["transaction_id"].as_str().unwrap_or_default().to_string();
    sim.split_calls.lock().unwrap().push(out_order_no.clone());
    if let Some(existing) = sim.splits.lock().unwrap().get(&out_order_no) {
        return Err(sim.reply(200, existing.clone()));
    }
    let Some((_, amount)) = held_payment(sim, &transaction_id) else {
        return Err(sim.reply(400, json!({ "code": "INVALID_REQUEST", "message": "订单不支持分账或未支付" })));
    };
    Ok((b, out_order_no, transaction_id, amount))
}

async fn split(req: HttpRequest, body: String, sim: web::Data<SimState>) -> HttpResponse {
    let (b, out_order_no, transaction_id, amount) = match sharing_request(&req, &body, &sim) {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    let receivers = b["receivers"].as_array().cloned().unwrap_or_default();
    let total: i64 = receivers.iter().map(|r| r["amount"].as_i64().unwrap_or(0)).sum();
    if total <= 0 || total * 100 > amount * MAX_SHARE_PCT {
        return sim.reply(400, json!({ "code": "INVALID_REQUEST", "message": "分账金额超出最大分账比例" }));
    }
    let known = sim.receivers.lock().unwrap().clone();
    if receivers.iter().any(|r| !known.iter().any(|k| r["account"] == k.as_str())) {
        return sim.reply(400, json!({ "code": "RECEIVER_INVALID", "message": "分账接收方不存在" }));
    }
    let record = json!({
        "transaction_id": transaction_id, "out_order_no": out_order_no, "order_id": format!("3008{}", random(20)),
        "state": "PROCESSING", "receivers": receivers.iter().map(|r| json!({
            "amount": r["amount"], "account": r["account"], "type": r["type"], "result": "PENDING", "description": r["description"],
        })).collect::<Vec<_>>(),
    });
    sim.splits.lock().unwrap().insert(out_order_no, record.clone());
    sim.reply(200, record)
}

async fn unfreeze(req: HttpRequest, body: String, sim: web::Data<SimState>) -> HttpResponse {
    let (_, out_order_no, transaction_id, _) = match sharing_request(&req, &body, &sim) {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    let record = json!({ "transaction_id": transaction_id, "out_order_no": out_order_no, "state": "PROCESSING", "receivers": [] });
    sim.splits.lock().unwrap().insert(out_order_no, record.clone());
    sim.reply(200, record)
}

/// A query sees the split done (the real gateway finishes within a minute or so).
async fn split_query(req: HttpRequest, no: web::Path<String>, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, "") {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    let mut splits = sim.splits.lock().unwrap();
    match splits.get_mut(no.as_str()) {
        Some(record) => {
            record["state"] = json!("FINISHED");
            if let Some(receivers) = record["receivers"].as_array_mut() {
                for r in receivers {
                    r["result"] = json!("SUCCESS");
                }
            }
            sim.reply(200, record.clone())
        }
        None => sim.reply(404, json!({ "code": "RESOURCE_NOT_EXISTS", "message": "记录不存在" })),
    }
}

async fn query(req: HttpRequest, no: web::Path<String>, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, "") {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    let orders = sim.orders.lock().unwrap();
    match orders.get(no.as_str()) {
        Some(order) => sim.reply(200, sim.transaction_json(&no, order)),
        None => sim.reply(404, json!({ "code": "ORDER_NOT_EXIST", "message": "订单不存在" })),
    }
}

async fn close(req: HttpRequest, no: web::Path<String>, body: String, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, &body) {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    if let Some(order) = sim.orders.lock().unwrap().get_mut(no.as_str())
        && order.state == "NOTPAY"
    {
        order.state = "CLOSED".into();
    }
    HttpResponse::NoContent().finish()
}

async fn refund(req: HttpRequest, body: String, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, &body) {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    let no = b["out_refund_no"].as_str().unwrap_or_default().to_string();
    sim.refund_calls.lock().unwrap().push(no.clone());
    let answer = {
        let mut answers = sim.refund_answers.lock().unwrap();
        if answers.is_empty() { RefundAnswer::Success } else { answers.remove(0) }
    };
    if answer == RefundAnswer::SystemError {
        return sim.reply(500, json!({ "code": "SYSTEM_ERROR", "message": "系统繁忙" }));
    }
    // The same out_refund_no is one refund, however often it is asked for.
    sim.refunds.lock().unwrap().entry(no.clone()).or_insert(b["amount"]["refund"].as_i64().unwrap_or(0));
    let status = if answer == RefundAnswer::Processing { "PROCESSING" } else { "SUCCESS" };
    sim.reply(200, json!({ "out_refund_no": no, "status": status }))
}

async fn refund_query(req: HttpRequest, no: web::Path<String>, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, "") {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    match sim.refunds.lock().unwrap().get(no.as_str()) {
        Some(_) => sim.reply(200, json!({ "out_refund_no": no.as_str(), "status": "SUCCESS" })),
        None => sim.reply(404, json!({ "code": "RESOURCE_NOT_EXISTS" })),
    }
}

async fn complaint(req: HttpRequest, id: web::Path<String>, sim: web::Data<SimState>) -> HttpResponse {
    if !sim.authorized(&req, "") {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    match sim.complaints.lock().unwrap().get(id.as_str()) {
        Some(c) => sim.reply(200, c.clone()),
        None => sim.reply(404, json!({ "code": "RESOURCE_NOT_EXISTS" })),
    }
}

async fn complaint_response(
    req: HttpRequest,
    id: web::Path<String>,
    body: String,
    sim: web::Data<SimState>,
) -> HttpResponse {
    if !sim.authorized(&req, &body) {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    let b: Value = serde_json::from_str(&body).unwrap_or_default();
    if b["complainted_mchid"] != MCHID || !sim.complaints.lock().unwrap().contains_key(id.as_str()) {
        return sim.reply(400, json!({ "code": "PARAM_ERROR" }));
    }
    let text = b["response_content"].as_str().unwrap_or_default().to_string();
    sim.complaint_replies.lock().unwrap().push((id.to_string(), text));
    HttpResponse::NoContent().finish()
}

async fn complaint_complete(
    req: HttpRequest,
    id: web::Path<String>,
    body: String,
    sim: web::Data<SimState>,
) -> HttpResponse {
    if !sim.authorized(&req, &body) {
        return sim.reply(401, json!({ "code": "SIGN_ERROR" }));
    }
    sim.complaints_completed.lock().unwrap().push(id.to_string());
    HttpResponse::NoContent().finish()
}

/// WeChat's authorize page: `snsapi_base` answers at once; `snsapi_userinfo` stands for the
/// user's 允许 on the consent screen. The code names the scope and the user at the phone.
async fn oauth_authorize(req: HttpRequest, sim: web::Data<SimState>) -> HttpResponse {
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let (Some(redirect), Some(scope), Some(state)) = (q.get("redirect_uri"), q.get("scope"), q.get("state")) else {
        return HttpResponse::BadRequest().body("redirect_uri, scope and state are required");
    };
    if q.get("appid").map(String::as_str) != Some(APPID) || q.get("response_type").map(String::as_str) != Some("code") {
        return HttpResponse::BadRequest().body("wrong appid or response_type");
    }
    sim.oauth_scopes.lock().unwrap().push(scope.clone());
    let user = sim.wechat_user.lock().unwrap().clone();
    let back = format!(
        "{redirect}?{}",
        serde_urlencoded::to_string([("code", format!("{scope}.{user}")), ("state", state.clone())]).unwrap()
    );
    HttpResponse::Found().insert_header(("Location", back)).finish()
}

/// The official account's stable access token, for the right appid and secret only.
async fn stable_token(body: web::Json<Value>) -> HttpResponse {
    let ok = body["grant_type"] == "client_credential" && body["appid"] == APPID && body["secret"] == APP_SECRET;
    if ok {
        HttpResponse::Ok().json(json!({ "access_token": STABLE_TOKEN, "expires_in": 7200 }))
    } else {
        HttpResponse::Ok().json(json!({ "errcode": 40013, "errmsg": "invalid appid or secret" }))
    }
}

/// The JS-SDK ticket, for the stable token only.
async fn get_ticket(req: HttpRequest, sim: web::Data<SimState>) -> HttpResponse {
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    if q.get("access_token").map(String::as_str) != Some(STABLE_TOKEN)
        || q.get("type").map(String::as_str) != Some("jsapi")
    {
        return HttpResponse::Ok().json(json!({ "errcode": 40001, "errmsg": "invalid credential" }));
    }
    *sim.tickets_issued.lock().unwrap() += 1;
    HttpResponse::Ok().json(json!({ "errcode": 0, "errmsg": "ok", "ticket": JSAPI_TICKET, "expires_in": 7200 }))
}

fn token_ok(req: &HttpRequest) -> bool {
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    q.get("access_token").map(String::as_str) == Some(STABLE_TOKEN)
}

fn invalid_token() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "errcode": 40001, "errmsg": "invalid credential, access_token is invalid" }))
}

/// Followers' openids, two to a page (WeChat's pages are 10,000: small pages test the paging);
/// the last page repeats the last openid with a count of 0, as WeChat does.
async fn user_get(req: HttpRequest, sim: web::Data<SimState>) -> HttpResponse {
    if !token_ok(&req) {
        return invalid_token();
    }
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let all: Vec<String> = sim.followers.lock().unwrap().iter().map(|(o, _)| o.clone()).collect();
    let after = q.get("next_openid").filter(|n| !n.is_empty());
    let start = after.and_then(|n| all.iter().position(|o| o == n)).map_or(0, |i| i + 1);
    let page: Vec<String> = all.iter().skip(start).take(2).cloned().collect();
    let next = page.last().cloned().or_else(|| after.cloned()).unwrap_or_default();
    HttpResponse::Ok().json(json!({
        "total": all.len(), "count": page.len(), "data": { "openid": page }, "next_openid": next
    }))
}

async fn user_batchget(req: HttpRequest, sim: web::Data<SimState>, body: web::Json<Value>) -> HttpResponse {
    if !token_ok(&req) {
        return invalid_token();
    }
    let asked: Vec<String> = body["user_list"]
        .as_array()
        .map(|l| l.iter().filter_map(|u| u["openid"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    if asked.len() > 100 {
        return HttpResponse::Ok().json(json!({ "errcode": 45158, "errmsg": "user_list size out of limit" }));
    }
    let followers = sim.followers.lock().unwrap().clone();
    let list: Vec<Value> = asked
        .iter()
        .map(|openid| match followers.iter().find(|(o, _)| o == openid) {
            Some((_, unionid)) => {
                let mut u = json!({ "subscribe": 1, "openid": openid, "language": "zh_CN" });
                if let Some(unionid) = unionid {
                    u["unionid"] = json!(unionid);
                }
                u
            }
            None => json!({ "subscribe": 0, "openid": openid }),
        })
        .collect();
    HttpResponse::Ok().json(json!({ "user_info_list": list }))
}

/// A template message: only to a follower, with a template id and fields; recorded.
async fn template_send(req: HttpRequest, sim: web::Data<SimState>, body: web::Json<Value>) -> HttpResponse {
    if !token_ok(&req) {
        return invalid_token();
    }
    let answer = {
        let mut answers = sim.template_answers.lock().unwrap();
        if answers.is_empty() { 0 } else { answers.remove(0) }
    };
    if answer != 0 {
        return HttpResponse::Ok().json(json!({ "errcode": answer, "errmsg": "system error" }));
    }
    let to = body["touser"].as_str().unwrap_or_default();
    if !sim.followers.lock().unwrap().iter().any(|(o, _)| o == to) {
        return HttpResponse::Ok().json(json!({ "errcode": 43004, "errmsg": "require subscribe" }));
    }
    if body["template_id"].as_str().is_none_or(str::is_empty) || !body["data"].is_object() {
        return HttpResponse::Ok().json(json!({ "errcode": 40037, "errmsg": "invalid template_id" }));
    }
    let mut sent = sim.templates.lock().unwrap();
    sent.push(body.into_inner());
    HttpResponse::Ok().json(json!({ "errcode": 0, "errmsg": "ok", "msgid": 200_228_332 + sent.len() as i64 }))
}

/// The code's user; a unionid only for a consented (`snsapi_userinfo`) code, as WeChat gives it.
/// A bare code (the older tests') counts as consented.
async fn oauth_token(req: HttpRequest) -> HttpResponse {
    let q: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    // The open platform's website application (QR sign-in): its own openid, and the unionid.
    let web = q.get("appid").map(String::as_str) == Some(WEB_APPID)
        && q.get("secret").map(String::as_str) == Some(WEB_SECRET)
        && q.get("grant_type").map(String::as_str) == Some("authorization_code");
    if web && let Some(user) = q.get("code").filter(|c| !c.is_empty()) {
        return HttpResponse::Ok().json(json!({
            "access_token": "AT", "openid": format!("ow_sim_{user}"), "scope": "snsapi_login", "unionid": format!("u_sim_{user}")
        }));
    }
    let ok = q.get("appid").map(String::as_str) == Some(APPID)
        && q.get("secret").map(String::as_str) == Some(APP_SECRET)
        && q.get("grant_type").map(String::as_str) == Some("authorization_code");
    match q.get("code") {
        Some(code) if ok && !code.is_empty() => {
            let (scope, user) = code.split_once('.').unwrap_or(("snsapi_userinfo", code));
            let mut reply = json!({ "access_token": "AT", "openid": format!("o_sim_{user}"), "scope": scope });
            if scope == "snsapi_userinfo" {
                reply["unionid"] = json!(format!("u_sim_{user}"));
            }
            HttpResponse::Ok().json(reply)
        }
        _ => HttpResponse::Ok().json(json!({ "errcode": 40029, "errmsg": "invalid code" })),
    }
}

impl WechatSim {
    pub async fn start(mode: Mode) -> WechatSim {
        let platform_key = crypto::private_key_from_pem(&fixture("platform_key.pem")).unwrap();
        let platform_serial = match mode {
            Mode::Certificate => crypto::certificate_from_pem(&fixture("platform_cert.pem")).unwrap().0,
            Mode::PublicKey => PUBLIC_KEY_ID.to_string(),
        };
        let state = Arc::new(SimState {
            platform_key,
            platform_serial,
            merchant_pub: crypto::public_key_from_pem(&fixture("merchant_pub.pem")).unwrap(),
            orders: Mutex::default(),
            refunds: Mutex::default(),
            refused: Mutex::default(),
            refund_answers: Mutex::default(),
            refund_calls: Mutex::default(),
            complaints: Mutex::default(),
            complaint_replies: Mutex::default(),
            complaints_completed: Mutex::default(),
            receivers: Mutex::default(),
            splits: Mutex::default(),
            split_calls: Mutex::default(),
            wechat_user: Mutex::new("visitor".into()),
            oauth_scopes: Mutex::default(),
            tickets_issued: Mutex::default(),
            followers: Mutex::default(),
            templates: Mutex::default(),
            template_answers: Mutex::default(),
        });
        let data = web::Data::from(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v3/pay/transactions/{kind}", web::post().to(create))
                .route("/v3/pay/transactions/out-trade-no/{no}", web::get().to(query))
                .route("/v3/pay/transactions/out-trade-no/{no}/close", web::post().to(close))
                .route("/v3/refund/domestic/refunds", web::post().to(refund))
                .route("/v3/refund/domestic/refunds/{no}", web::get().to(refund_query))
                .route("/sns/oauth2/access_token", web::get().to(oauth_token))
                .route("/connect/oauth2/authorize", web::get().to(oauth_authorize))
                .route("/cgi-bin/stable_token", web::post().to(stable_token))
                .route("/cgi-bin/ticket/getticket", web::get().to(get_ticket))
                .route("/cgi-bin/user/get", web::get().to(user_get))
                .route("/cgi-bin/user/info/batchget", web::post().to(user_batchget))
                .route("/cgi-bin/message/template/send", web::post().to(template_send))
                .route("/v3/merchant-service/complaints-v2/{id}", web::get().to(complaint))
                .route("/v3/merchant-service/complaints-v2/{id}/response", web::post().to(complaint_response))
                .route("/v3/merchant-service/complaints-v2/{id}/complete", web::post().to(complaint_complete))
                .route("/v3/profitsharing/receivers/add", web::post().to(add_receiver))
                .route("/v3/profitsharing/orders", web::post().to(split))
                .route("/v3/profitsharing/orders/unfreeze", web::post().to(unfreeze))
                .route("/v3/profitsharing/orders/{no}", web::get().to(split_query))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        WechatSim { base_url, state, mode }
    }

    /// Writes the merchant's configuration file for this simulator into `dir`.
    pub fn write_config(&self, dir: &std::path::Path) -> std::path::PathBuf {
        std::fs::write(dir.join("apiclient_key.pem"), fixture("merchant_key.pem")).unwrap();
        let verification = match self.mode {
            Mode::Certificate => {
                std::fs::write(dir.join("wechatpay_cert.pem"), fixture("platform_cert.pem")).unwrap();
                "platform_certificate_file = \"wechatpay_cert.pem\"".to_string()
            }
            Mode::PublicKey => {
                std::fs::write(dir.join("pub_key.pem"), fixture("platform_pub.pem")).unwrap();
                format!("public_key_file = \"pub_key.pem\"\npublic_key_id = \"{PUBLIC_KEY_ID}\"")
            }
        };
        let path = dir.join("wechatpay.toml");
        std::fs::write(
            &path,
            format!(
                "mchid = \"{MCHID}\"\nappid = \"{APPID}\"\napp_secret = \"{APP_SECRET}\"\nmerchant_serial_no = \"{MERCHANT_SERIAL}\"\n\
                 private_key_file = \"apiclient_key.pem\"\napi_v3_key = \"{API_V3_KEY}\"\n{verification}\n\
                 base_url = \"{b}\"\noauth_authorize_url = \"{b}/connect/oauth2/authorize\"\noauth_api_url = \"{b}\"\n\
                 web_appid = \"{WEB_APPID}\"\nweb_secret = \"{WEB_SECRET}\"\nqrconnect_url = \"{b}/connect/qrconnect\"\n",
                b = self.base_url
            ),
        )
        .unwrap();
        path
    }

    /// The payer pays: the gateway records it and (if `deliver_to` is set) sends the notification.
    pub async fn pay(&self, out_trade_no: &str, deliver_to: Option<&str>) -> Event {
        let transaction = {
            let mut orders = self.state.orders.lock().unwrap();
            let order = orders.get_mut(out_trade_no).expect("the shop created this payment");
            order.state = "SUCCESS".into();
            order.paid_at = Some(now());
            order.transaction_id =
                Some(format!("42000{}", rand::thread_rng().gen_range(10_000_000_000u64..99_999_999_999)));
            self.state.transaction_json(out_trade_no, order)
        };
        let event = self.state.platform_event(&transaction);
        if let Some(url) = deliver_to {
            let mut request =
                reqwest::Client::new().post(url).header("Content-Type", "application/json").body(event.body.clone());
            for (name, value) in &event.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 204, "the shop acknowledges a genuine notification");
        }
        event
    }

    /// The split reaches its receiver: the record finishes and a PROFITSHARING.SUCCESS is signed.
    pub fn profit_sharing_success(&self, out_order_no: &str) -> Event {
        let resource = {
            let mut splits = self.state.splits.lock().unwrap();
            let record = splits.get_mut(out_order_no).expect("a split the shop requested");
            record["state"] = json!("FINISHED");
            let receiver = record["receivers"][0].clone();
            json!({
                "mchid": MCHID, "transaction_id": record["transaction_id"], "order_id": record["order_id"],
                "out_order_no": out_order_no,
                "receiver": { "type": receiver["type"], "account": receiver["account"], "amount": receiver["amount"], "description": receiver["description"] },
                "success_time": "2026-12-08T10:00:00+08:00",
            })
        };
        self.state.any_event(
            "PROFITSHARING.SUCCESS",
            "profitsharing",
            &resource,
            &self.state.platform_key,
            &self.state.platform_serial,
            now(),
        )
    }

    pub fn order(&self, out_trade_no: &str) -> Option<SimOrder> {
        self.state.orders.lock().unwrap().get(out_trade_no).cloned()
    }
}
