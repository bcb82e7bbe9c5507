//! Local simulators of Alibaba Cloud SMS (dysmsapi SendSms, ACS3-HMAC-SHA256) and Tencent Cloud
//! SMS (SendSms 2021-01-11, TC3-HMAC-SHA256). Each holds its own keys and checks every request as
//! the provider does: the signature over the request as received, the time, the sign name, the
//! template and its parameters. A test can make either answer as if throttled or down.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use kedian::sms::{aliyun, tencent};
use serde_json::{Value, json};

pub const ALIYUN_KEY_ID: &str = "LTAI5tSimulatorKeyId";
pub const ALIYUN_SECRET: &str = "aliyun-simulator-secret-0123456789";
pub const TENCENT_ID: &str = "AKIDsimulatorSecretId0123456789";
pub const TENCENT_KEY: &str = "tencent-simulator-secret-key-0123";
pub const SIGN_NAME: &str = "课店";
pub const SDK_APP_ID: &str = "1400000001";

/// What the next requests get instead of being accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    Throttle,
    Down,
}

/// One accepted text.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub provider: &'static str,
    pub phone: String,
    pub template: String,
    pub params: Vec<String>,
}

pub struct SimState {
    pub delivered: Mutex<Vec<Delivered>>,
    pub refused: Mutex<Vec<String>>,
    pub aliyun_mode: Mutex<Mode>,
    pub tencent_mode: Mutex<Mode>,
    /// Template id → the parameter names (Alibaba) or how many (Tencent) it takes.
    pub aliyun_templates: HashMap<String, Vec<String>>,
    pub tencent_templates: HashMap<String, usize>,
}

pub struct SmsSim {
    pub aliyun_url: String,
    pub tencent_url: String,
    pub state: Arc<SimState>,
}

fn refuse(state: &SimState, why: &str) {
    state.refused.lock().unwrap().push(why.to_string());
}

async fn aliyun_send(req: HttpRequest, body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let error = |status: u16, code: &str| {
        refuse(&state, code);
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .json(json!({ "Code": code, "Message": code, "RequestId": "SIM" }))
    };
    // The signature over the request exactly as received: the query's parameters, the signed
    // headers named in Authorization, and the body's hash.
    let query: BTreeMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let authorization = header("authorization");
    let Some(signed) = authorization.split("SignedHeaders=").nth(1).and_then(|s| s.split(',').next()) else {
        return error(400, "IncompleteSignature");
    };
    let mut headers = BTreeMap::new();
    for name in signed.split(';') {
        headers.insert(name.to_string(), header(name));
    }
    if !signed.contains("x-acs-date") || !signed.contains("host") || !signed.contains("x-acs-content-sha256") {
        return error(400, "IncompleteSignature");
    }
    let body_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    if headers.get("x-acs-content-sha256") != Some(&body_hash) {
        return error(400, "SignatureDoesNotMatch");
    }
    let expected =
        aliyun::authorization(ALIYUN_KEY_ID, ALIYUN_SECRET, req.method().as_str(), req.path(), &query, &headers);
    if expected != authorization {
        return error(400, "SignatureDoesNotMatch");
    }
    let date = time::PrimitiveDateTime::parse(
        &header("x-acs-date"),
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z"),
    );
    let fresh = date.is_ok_and(|d| (d.assume_utc().unix_timestamp() - kedian::domain::time::now()).abs() <= 900);
    if !fresh || header("x-acs-action") != "SendSms" || header("x-acs-version") != "2017-05-25" {
        return error(400, "InvalidTimeStamp.Expired");
    }
    match *state.aliyun_mode.lock().unwrap() {
        Mode::Throttle => return error(200, "isv.BUSINESS_LIMIT_CONTROL"),
        Mode::Down => return error(503, "ServiceUnavailable"),
        Mode::Accept => {}
    }
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    if get("SignName") != SIGN_NAME {
        return error(200, "isv.SMS_SIGNATURE_ILLEGAL");
    }
    let Some(names) = state.aliyun_templates.get(&get("TemplateCode")) else {
        return error(200, "isv.SMS_TEMPLATE_ILLEGAL");
    };
    let params: serde_json::Map<String, Value> = match serde_json::from_str(&get("TemplateParam")) {
        Ok(Value::Object(map)) => map,
        _ => return error(200, "isv.INVALID_JSON_PARAM"),
    };
    let mut given: Vec<&String> = params.keys().collect();
    given.sort();
    let mut wanted: Vec<&String> = names.iter().collect();
    wanted.sort();
    if given != wanted || params.values().any(|v| v.as_str().is_none_or(str::is_empty)) {
        return error(200, "isv.TEMPLATE_PARAMS_ILLEGAL");
    }
    let phone = get("PhoneNumbers");
    if phone.len() != 11 || !phone.starts_with('1') {
        return error(200, "isv.MOBILE_NUMBER_ILLEGAL");
    }
    let mut delivered = state.delivered.lock().unwrap();
    delivered.push(Delivered {
        provider: aliyun::NAME,
        phone,
        template: get("TemplateCode"),
        params: names.iter().map(|n| params[n].as_str().unwrap_or_default().to_string()).collect(),
    });
    HttpResponse::Ok().json(
        json!({ "Code": "OK", "Message": "OK", "BizId": format!("SIMBIZ{}", delivered.len()), "RequestId": "SIM" }),
    )
}

async fn tencent_send(req: HttpRequest, body: web::Bytes, state: web::Data<SimState>) -> HttpResponse {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let error = |code: &str| {
        refuse(&state, code);
        HttpResponse::Ok()
            .json(json!({ "Response": { "Error": { "Code": code, "Message": code }, "RequestId": "SIM" } }))
    };
    let payload = String::from_utf8_lossy(&body).to_string();
    let timestamp: i64 = header("x-tc-timestamp").parse().unwrap_or_default();
    if (timestamp - kedian::domain::time::now()).abs() > 300 {
        return error("AuthFailure.SignatureExpire");
    }
    if header("content-type") != tencent::CONTENT_TYPE {
        return error("AuthFailure.SignatureFailure");
    }
    let expected = tencent::authorization(TENCENT_ID, TENCENT_KEY, "sms", &header("host"), timestamp, &payload);
    if expected != header("authorization") {
        return error("AuthFailure.SignatureFailure");
    }
    if header("x-tc-action") != "SendSms" || header("x-tc-version") != "2021-01-11" {
        return error("InvalidAction");
    }
    match *state.tencent_mode.lock().unwrap() {
        Mode::Throttle => return error("RequestLimitExceeded"),
        Mode::Down => {
            refuse(&state, "InternalError");
            return HttpResponse::BadGateway().body("upstream down");
        }
        Mode::Accept => {}
    }
    let request: Value = serde_json::from_str(&payload).unwrap_or_default();
    let text = |k: &str| request[k].as_str().unwrap_or_default().to_string();
    if text("SmsSdkAppId") != SDK_APP_ID {
        return error("FailedOperation.SmsSdkAppIdVerifyFail");
    }
    if text("SignName") != SIGN_NAME {
        return error("FailedOperation.SignatureIncorrectOrUnapproved");
    }
    let Some(count) = state.tencent_templates.get(&text("TemplateId")) else {
        return error("FailedOperation.TemplateIncorrectOrUnapproved");
    };
    let params: Vec<String> = request["TemplateParamSet"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect())
        .unwrap_or_default();
    if params.len() != *count || params.iter().any(String::is_empty) {
        return error("InvalidParameterValue.TemplateParameterFormatError");
    }
    let phone = request["PhoneNumberSet"][0].as_str().unwrap_or_default().trim_start_matches("+86").to_string();
    let mut delivered = state.delivered.lock().unwrap();
    delivered.push(Delivered { provider: tencent::NAME, phone: phone.clone(), template: text("TemplateId"), params });
    HttpResponse::Ok().json(json!({ "Response": {
        "SendStatusSet": [{ "SerialNo": format!("SIMSERIAL{}", delivered.len()), "PhoneNumber": format!("+86{phone}"),
                            "Fee": 1, "Code": "Ok", "Message": "send success" }],
        "RequestId": "SIM" } }))
}

impl SmsSim {
    pub async fn start() -> SmsSim {
        let state = Arc::new(SimState {
            delivered: Mutex::default(),
            refused: Mutex::default(),
            aliyun_mode: Mutex::new(Mode::Accept),
            tencent_mode: Mutex::new(Mode::Accept),
            aliyun_templates: HashMap::from([
                ("SMS_100000001".to_string(), vec!["code".to_string()]),
                ("SMS_100000003".to_string(), vec!["no".to_string(), "amount".to_string()]),
                ("SMS_100000007".to_string(), vec!["url".to_string()]),
            ]),
            tencent_templates: HashMap::from([
                ("1000001".to_string(), 1),
                ("1000003".to_string(), 2),
                ("1000007".to_string(), 1),
            ]),
        });
        // Each provider on its own address, at `/` as the real endpoints are.
        let mut urls = Vec::new();
        for aliyun in [true, false] {
            let data = web::Data::from(state.clone());
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            urls.push(format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port()));
            let server = HttpServer::new(move || {
                let app = App::new().app_data(data.clone());
                if aliyun {
                    app.route("/", web::post().to(aliyun_send))
                } else {
                    app.route("/", web::post().to(tencent_send))
                }
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run();
            tokio::spawn(server);
        }
        SmsSim { tencent_url: urls.pop().unwrap(), aliyun_url: urls.pop().unwrap(), state }
    }

    /// The shop's `sms_config` file for these simulators: `primary` first, the other second.
    pub fn write_config(&self, dir: &std::path::Path, primary: &str, aliyun_secret: &str) -> std::path::PathBuf {
        let secondary = if primary == "aliyun" { "tencent" } else { "aliyun" };
        let text = format!(
            r#"primary = "{primary}"
secondary = "{secondary}"

[aliyun]
access_key_id = "{ALIYUN_KEY_ID}"
access_key_secret = "{aliyun_secret}"
sign_name = "{SIGN_NAME}"
endpoint = "{aliyun}"
[aliyun.templates]
login_code = {{ id = "SMS_100000001" }}
refund_refunded = {{ id = "SMS_100000003", params = ["no", "amount"] }}
marketing = {{ id = "SMS_100000007", params = ["url"] }}

[tencent]
secret_id = "{TENCENT_ID}"
secret_key = "{TENCENT_KEY}"
sdk_app_id = "{SDK_APP_ID}"
sign_name = "{SIGN_NAME}"
endpoint = "{tencent}"
[tencent.templates]
login_code = {{ id = "1000001" }}
refund_refunded = {{ id = "1000003", params = ["no", "amount"] }}
marketing = {{ id = "1000007", params = ["url"] }}
"#,
            aliyun = self.aliyun_url,
            tencent = self.tencent_url
        );
        let path = dir.join("sms.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn set(&self, provider: &str, mode: Mode) {
        let slot = if provider == "aliyun" { &self.state.aliyun_mode } else { &self.state.tencent_mode };
        *slot.lock().unwrap() = mode;
    }

    pub fn delivered(&self) -> Vec<Delivered> {
        self.state.delivered.lock().unwrap().clone()
    }

    /// The code in the newest login text to `phone`.
    pub fn code_for(&self, phone: &str) -> Option<String> {
        self.delivered()
            .into_iter()
            .rev()
            .find(|d| d.phone == phone && d.params.len() == 1 && d.params[0].len() == 6)
            .map(|d| d.params[0].clone())
    }
}
